"""The brief content model: canonical document, importers, validation, storage, export."""
