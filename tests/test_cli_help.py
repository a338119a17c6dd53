"""CLI conventions: every command and group shows an example in --help; --version works."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

import uirbench
from uirbench.cli.app import app


def _commands(cmd, path: list[str]):
    yield path, cmd
    for name, sub in (getattr(cmd, "commands", None) or {}).items():
        yield from _commands(sub, [*path, name])


def test_every_command_has_an_example_in_its_help() -> None:
    runner = CliRunner()
    seen, missing = [], []
    for path, _ in _commands(typer.main.get_command(app), []):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        seen.append(" ".join(path))
        # the example must show this command being run, not just the word
        if "Example" not in result.output or f"uirbench {' '.join(path)}".strip() not in (
            " ".join(result.output.split())
        ):
            missing.append(" ".join(path) or "uirbench")
    # every registered command was walked (groups and their subcommands included)
    assert {"build-data", "verify", "train restore", "leaderboard export"} <= set(seen)
    assert not missing, f"no example in --help of: {', '.join(missing)}"


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"uirbench {uirbench.__version__}"
