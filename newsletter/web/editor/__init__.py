"""The editor web app: briefs, campaigns, previews and test sends, behind a login.

Server-rendered pages (``templates/web/editor``) plus a small JSON API under
``/editor/api``; :func:`newsletter.web.editor.install.install_editor` adds them to the app.
"""
