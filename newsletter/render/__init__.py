"""Email compilation: Jinja2 → MJML → HTML → inlined CSS, plain text, per-recipient substitution.

Compile once per variant, personalise per recipient by substitution; nothing here touches the
database. The public API lives in small modules (this package stays cheap to import, since
``subscribers`` needs only :mod:`~newsletter.render.options`):

- :mod:`~newsletter.render.compile`: ``compile_variant``, ``compile_confirmation``;
- :mod:`~newsletter.render.context`: ``CompileContext`` (from ``Settings``);
- :mod:`~newsletter.render.variant`: ``CompiledVariant`` (``fill``, ``links``, sizes);
- :mod:`~newsletter.render.recipient`: the placeholders, ``RecipientInfo``, ``RecipientValues``;
- :mod:`~newsletter.render.links`: the link table (``Link``), ``Utm``;
- :mod:`~newsletter.render.routes`: the public paths emails link to;
- :mod:`~newsletter.render.options`: ``VariantOptions``, a segment's choices.
"""
