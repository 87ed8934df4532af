"""Mail providers behind one small protocol: SendGrid, SMTP and the local outbox."""
