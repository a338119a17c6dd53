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


def test_device_and_workers_mean_the_same_everywhere() -> None:
    """--device defaults to auto and --workers to 0 (one per core) in every command having them."""
    from uirbench.cli.options import resolve_workers

    found: dict[str, list[str]] = {"--device": [], "--workers": []}
    for path, cmd in _commands(typer.main.get_command(app), []):
        for param in getattr(cmd, "params", []):
            if "--device" in param.opts:
                assert param.default == "auto", path
                found["--device"].append(" ".join(path))
            if "--workers" in param.opts:
                assert param.default == 0, path
                assert "one per CPU core" in (param.help or ""), path
                found["--workers"].append(" ".join(path))
    assert {"evaluate", "restore", "classify", "caption"} <= set(found["--device"]), found
    assert {"evaluate", "build-data"} <= set(found["--workers"]), found
    assert resolve_workers(1) == 1
    assert 1 <= resolve_workers(0) <= 8


def test_library_logs_reach_people_through_the_cli_console_once(capsys) -> None:
    """The library speaks through ``logging``; the CLI prints its warnings on its console (so
    above live bars, control characters escaped), once however often it is set up."""
    import logging

    from uirbench.cli.console import show_library_logs

    logger = logging.getLogger("uirbench")
    before = list(logger.handlers)
    try:
        show_library_logs()
        show_library_logs()
        logging.getLogger("uirbench.models.zoo").warning("w\x1b[31m.pt: not pinned yet")
        logging.getLogger("uirbench.data.fetch").info("pinned quietly")
        err = capsys.readouterr().err
    finally:
        logger.handlers[:] = before
    assert err.count("not pinned yet") == 1, err
    assert "w\\x1b[31m.pt" in err and "\x1b" not in err and "pinned quietly" not in err, err
