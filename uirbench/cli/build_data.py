"""``uirbench build-data`` and ``uirbench verify`` (placeholder until the builder lands)."""

import typer


def register(app: typer.Typer) -> None:
    pass
