"""Email compilation: Jinja2 → MJML → HTML → inlined CSS, plain text, per-recipient substitution."""
