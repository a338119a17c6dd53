"""Recipes: YAML files of nested settings, with ``key=value`` overrides from the command line.

An override key is a dotted path (``optim.lr=1e-4``) or, when unambiguous, a leaf name
(``lr=1e-4``). Values are parsed as YAML (``1e-4`` -> float, ``[0.9, 0.98]`` -> list). Unknown keys
are errors that list the known ones, so a typo never trains with a silently ignored setting.

Both trainers share one vocabulary (docs/training.md, "Recipes"). A key of an older vocabulary
(``renames``: old dotted path -> new one) is still read, in a file or an override, with a one-line
warning (``logging``; the CLI prints it) naming both keys and the file; a recipe that sets both is
refused, since which one it means is ambiguous.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from uirbench.errors import UirbenchError
from uirbench.paths import find_recipe, recipe_names

log = logging.getLogger(__name__)


def rename_keys(given: dict, renames: Mapping[str, str], where: str) -> dict:
    """A copy of the recipe mapping ``given`` with old keys moved to their new paths."""
    given = copy.deepcopy(given)
    for old, new in renames.items():
        *old_parents, old_leaf = old.split(".")
        node: Any = given
        for part in old_parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or old_leaf not in node:
            continue
        value = node.pop(old_leaf)
        *new_parents, new_leaf = new.split(".")
        target = given
        for part in new_parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise UirbenchError(f"{where}: {part!r} must be a mapping of settings")
        if new_leaf in target:
            raise UirbenchError(
                f"{where}: both {old} (its old name) and {new} are set; keep {new} only"
            )
        target[new_leaf] = value
        log.warning("%s: %s is now %s; rename it there (read as %s)", where, old, new, new)
    return given


def rename_override(item: str, renames: Mapping[str, str]) -> str:
    """``key=value`` with an old key (dotted, or its leaf name) written as its new one."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    for old, new in renames.items():
        if sep and key in (old, old.rsplit(".", 1)[-1]):
            log.warning("override %s= is now %s=; use %s=%s", key, new, new, raw)
            return f"{new}={raw}"
    return item


def _leaves(tree: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        out.extend(_leaves(value, path + ".") if isinstance(value, dict) else [path])
    return out


def resolve_key(tree: dict, key: str) -> str:
    """A dotted path for ``key`` (itself, or the unique leaf path ending with it)."""
    leaves = _leaves(tree)
    if key in leaves:
        return key
    matches = [p for p in leaves if p.endswith("." + key)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UirbenchError(f"override {key!r} is ambiguous: {', '.join(matches)}")
    raise UirbenchError(f"unknown recipe setting {key!r}; known: {', '.join(leaves)}")


def _parse(raw: str) -> Any:
    """YAML, plus floats YAML 1.1 leaves as strings (``1e-4``)."""
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise UirbenchError(f"override value {raw!r} is not valid (safe) YAML: {exc}") from None
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def apply_overrides(tree: dict, overrides: Iterable[str]) -> dict:
    """A copy of ``tree`` with ``key=value`` overrides applied."""
    tree = copy.deepcopy(tree)
    for item in overrides:
        if "=" not in item:
            raise UirbenchError(f"override {item!r} is not key=value (e.g. optim.lr=1e-4)")
        key, raw = item.split("=", 1)
        path = resolve_key(tree, key.strip()).split(".")
        node = tree
        for part in path[:-1]:
            node = node[part]
        value = _parse(raw)
        if isinstance(node[path[-1]], str) and value is not None and not isinstance(value, str):
            # A text setting takes the text as typed: YAML would read amp=off as False and
            # resume=100 as a number, and shell quoting cannot protect it from that.
            value = raw.strip()
        check_type(".".join(path), node[path[-1]], value)
        node[path[-1]] = value
    return tree


def check_type(key: str, default: Any, value: Any) -> None:
    """The defaults are the schema: a setting keeps its default's type. A null default takes
    anything; null is accepted for any leaf but not for a section; ints are accepted as floats."""
    if default is None or (value is None and not isinstance(default, dict)):
        return
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise UirbenchError(
            f"recipe setting {key!r} must be a {type(default).__name__} (default {default!r}), "
            f"got {value!r} ({type(value).__name__}); quote strings such as 'off' in YAML"
        )


def merge(defaults: dict, given: dict, where: str = "") -> dict:
    """``defaults`` updated by ``given``; a key absent from the defaults is an error."""
    out = copy.deepcopy(defaults)
    for key, value in given.items():
        if key not in out:
            raise UirbenchError(
                f"unknown setting {where}{key!r} in the recipe; known: {', '.join(out)}"
            )
        if isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = merge(out[key], value, f"{where}{key}.")
        else:
            check_type(f"{where}{key}", out[key], value)
            out[key] = value
    return out


def load_recipe(
    path: str | Path,
    defaults: dict,
    overrides: Iterable[str] = (),
    renames: Mapping[str, str] | None = None,
    migrate: Callable[[dict, str], dict] | None = None,
) -> dict:
    """Defaults <- recipe file (a path, or a packaged recipe's name) <- overrides. Old keys in
    ``renames`` are read as their new ones (with a warning); ``migrate`` rewrites the file's
    mapping for what a rename cannot express (a value that moved), given the file's name."""
    path = find_recipe(path)
    if not path.is_file():
        raise UirbenchError(
            f"recipe {path} not found; give a YAML path or a packaged recipe: "
            f"{', '.join(recipe_names())}"
        )
    try:
        given: Any = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:  # includes python/* tags: safe_load never constructs objects
        raise UirbenchError(f"recipe {path} is not valid (safe) YAML: {exc}") from None
    if not isinstance(given, dict):
        raise UirbenchError(f"recipe {path} must be a mapping of settings")
    renames = renames or {}
    given = rename_keys(given, renames, f"recipe {path}")
    if migrate is not None:
        given = migrate(given, f"recipe {path}")
    overrides = [rename_override(item, renames) for item in overrides]
    try:
        return apply_overrides(merge(defaults, given), overrides)
    except UirbenchError as exc:
        raise UirbenchError(f"recipe {path}: {exc}") from None
