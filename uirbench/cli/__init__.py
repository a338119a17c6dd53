"""The Typer CLI: one module per command group, no logic beyond parsing and printing."""
