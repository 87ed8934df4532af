"""The web shell: FastAPI app factory, public pages, editor pages and their auth."""
