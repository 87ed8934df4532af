"""The command line (`newsletter …`): Typer apps, one module per command group."""
