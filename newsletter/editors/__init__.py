"""Editor accounts: who may use the editor web app, with which role (no web code here)."""
