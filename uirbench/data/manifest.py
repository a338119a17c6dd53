"""Load and validate the YAML manifests that describe upstream sources and the benchmark.

Why: every fact about where data comes from (URLs, Drive ids, Hub repos, sizes, checksums,
licences, the adapter that reads the layout) lives in ``uirbench/manifests/*.yaml``, not in code.
Manifests are read with ``yaml.safe_load`` and validated against JSON schemas
(``uirbench/data/schemas/*.schema.json``); an error names the file and the offending key. No path
in a manifest may escape the data root (absolute paths, ``..``, backslashes are refused).

- ``uirbench/manifests/<source>.yaml``: one upstream source (:func:`load_source`).
- ``uirbench/manifests/uir10.yaml`` (and ``aio3.yaml``, the AirNet/PromptIR setting): a benchmark,
  task x split -> sources, adapter options, synthesis (:func:`load_benchmark`).

The manifests folder is ``$UIRBENCH_HOME/manifests`` if set, else the packaged
``uirbench/manifests/`` (see :mod:`uirbench.paths`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from uirbench import paths
from uirbench.errors import UirbenchError

BENCHMARK_NAMES = ("uir10", "aio3", "aio5", "cdd11", "daclip-mix", "wild")
_NOT_SOURCES = {"demo", *BENCHMARK_NAMES}


class ManifestError(UirbenchError):
    """A manifest is missing, malformed or unsafe; the message names the file and key."""


@dataclass(frozen=True)
class Location:
    """One place an artifact can be fetched from: exactly one of url, gdrive(_folder), hf."""

    url: str | None = None
    gdrive: str | None = None
    gdrive_folder: str | None = None
    hf: dict[str, str] | None = None
    note: str | None = None

    @property
    def kind(self) -> str:
        for k in ("url", "gdrive", "gdrive_folder", "hf"):
            if getattr(self, k):
                return k
        raise AssertionError("schema guarantees one location kind")

    def describe(self) -> str:
        if self.url:
            return self.url
        if self.gdrive:
            return f"https://drive.google.com/file/d/{self.gdrive}/view (Google Drive file)"
        if self.gdrive_folder:
            return (
                f"https://drive.google.com/drive/folders/{self.gdrive_folder} (Google Drive folder)"
            )
        hf = self.hf or {}
        kind = hf.get("repo_type", "dataset")
        prefix = "datasets/" if kind == "dataset" else ("spaces/" if kind == "space" else "")
        what = hf.get("file") or hf.get("pattern") or "(whole repo)"
        return f"https://huggingface.co/{prefix}{hf['repo']} : {what}"


@dataclass(frozen=True)
class Artifact:
    """One downloadable thing of a source: a file (maybe an archive) or a folder."""

    path: str  # relative to <raw root>/<source>/ and to a --mirror folder
    kind: str = "file"  # "file" or "dir" (a Drive folder or a Hub file pattern)
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    extract: bool = False
    extract_to: str | None = None
    optional: bool = False
    locations: tuple[Location, ...] = ()

    @property
    def extract_dir(self) -> str:
        """Folder (relative to the source dir) an archive is extracted into."""
        if self.extract_to:
            return self.extract_to
        name = PurePosixPath(self.path).name
        for suffix in (".tar.gz", ".tgz", ".tar", ".zip"):
            if name.endswith(suffix):
                return name[: -len(suffix)]
        return name + ".d"


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    tasks: tuple[str, ...]
    adapter: str
    licence: dict[str, Any]
    artifacts: tuple[Artifact, ...]
    manual: str | None = None
    homepage: str | None = None
    path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def manifests_dir() -> Path:
    """Where manifests live: ``$UIRBENCH_HOME/manifests`` or the packaged ``uirbench/manifests``."""
    return paths.manifests_dir()


@cache
def _schema(kind: str) -> dict[str, Any]:
    text = resources.files("uirbench.data").joinpath(f"schemas/{kind}.schema.json").read_text()
    return json.loads(text)


def _key_path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<top level>"


def validate(data: Any, kind: str, origin: str | os.PathLike) -> None:
    """Validate parsed manifest ``data`` against the ``kind`` schema ('source'/'benchmark')."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    validator = Draft202012Validator(_schema(kind))
    error = best_match(validator.iter_errors(data))
    if error is not None:
        where = _key_path(error.absolute_path)
        raise ManifestError(f"{origin}: invalid {kind} manifest at key '{where}': {error.message}")
    if kind == "source":
        _check_paths(data, origin)


def check_relpath(rel: str, origin: str | os.PathLike, key: str) -> str:
    """Refuse a manifest path that is absolute, has '..', a drive letter or a backslash."""
    p = PurePosixPath(rel)
    if (
        not rel
        or p.is_absolute()
        or ".." in p.parts
        or "\\" in rel
        or (len(rel) > 1 and rel[1] == ":")
    ):
        raise ManifestError(
            f"{origin}: key '{key}' = {rel!r} would escape the data root; use a relative path "
            "without '..'"
        )
    return rel


def _check_paths(data: dict[str, Any], origin: str | os.PathLike) -> None:
    # a Hub file name becomes a path under the download folder: it must not escape it either
    for j, loc in enumerate(data.get("file_locations", [])):
        if "file" in loc.get("hf", {}):
            check_relpath(loc["hf"]["file"], origin, f"file_locations[{j}].hf.file")
    for i, a in enumerate(data.get("artifacts", [])):
        check_relpath(a["path"], origin, f"artifacts[{i}].path")
        for j, loc in enumerate(a.get("locations", [])):
            if "file" in loc.get("hf", {}):
                check_relpath(loc["hf"]["file"], origin, f"artifacts[{i}].locations[{j}].hf.file")
        if "extract_to" in a:
            check_relpath(a["extract_to"], origin, f"artifacts[{i}].extract_to")
        if a.get("extract") and a.get("kind") == "dir":
            raise ManifestError(
                f"{origin}: key 'artifacts[{i}].extract' is true for a folder artifact; "
                "only files can be extracted"
            )


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"manifest {path} not found") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: not valid YAML: {exc}") from None


def _fill(key: str, value: Any, path: str, name: str) -> Any:
    """A ``file_locations`` template value for one artifact: ``{path}``/``{name}`` in a URL or
    in a Hub file name (a Hub repository of many same-shaped files, e.g. LSDIR's shards)."""
    if key == "url":
        return value.format(path=path, name=name)
    if key == "hf" and isinstance(value.get("file"), str):
        return {**value, "file": value["file"].format(path=path, name=name)}
    return value


def _artifact(a: dict[str, Any], templates: list[dict[str, Any]]) -> Artifact:
    locs = a.get("locations")
    if not locs:
        name = PurePosixPath(a["path"]).name
        locs = [{k: _fill(k, v, a["path"], name) for k, v in t.items()} for t in templates]
    return Artifact(
        path=a["path"],
        kind=a.get("kind", "file"),
        size=a.get("size"),
        sha256=a.get("sha256"),
        md5=a.get("md5"),
        extract=bool(a.get("extract", False)),
        extract_to=a.get("extract_to"),
        optional=bool(a.get("optional", False)),
        locations=tuple(Location(**loc) for loc in locs),
    )


def parse_source(data: dict[str, Any], origin: str | os.PathLike) -> Source:
    """Validate and convert one parsed source manifest."""
    validate(data, "source", origin)
    templates = data.get("file_locations", [])
    arts = tuple(_artifact(a, templates) for a in data["artifacts"])
    for i, a in enumerate(arts):
        if not a.locations and not data.get("manual"):
            raise ManifestError(
                f"{origin}: key 'artifacts[{i}].locations' is missing (and no 'file_locations' or "
                "'manual' instructions): say where the file comes from"
            )
    paths = [a.path for a in arts]
    if len(set(paths)) != len(paths):
        dup = next(p for p in paths if paths.count(p) > 1)
        raise ManifestError(f"{origin}: key 'artifacts' lists path {dup!r} twice")
    return Source(
        name=data["name"],
        title=data["title"],
        tasks=tuple(data["tasks"]),
        adapter=data["adapter"],
        licence=data["licence"],
        artifacts=arts,
        manual=data.get("manual"),
        homepage=data.get("homepage"),
        path=Path(origin),
        raw=data,
    )


def load_source(name: str, directory: str | os.PathLike | None = None) -> Source:
    """Load ``<manifests>/<name>.yaml`` as a validated :class:`Source`."""
    d = Path(directory) if directory else manifests_dir()
    path = d / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(list_sources(d)) or "(none)"
        raise ManifestError(f"unknown source {name!r}: no {path}; known sources: {known}")
    data = _read_yaml(path)
    if isinstance(data, dict) and data.get("name") != name:
        raise ManifestError(
            f"{path}: key 'name' is {data.get('name')!r} but the file is named {name}.yaml; "
            "they must match"
        )
    return parse_source(data, path)


def load_benchmark(
    name: str = "uir10", directory: str | os.PathLike | None = None
) -> dict[str, Any]:
    """Load and validate a benchmark manifest; every referenced source must exist."""
    d = Path(directory) if directory else manifests_dir()
    path = d / f"{name}.yaml"
    data = _read_yaml(path)
    validate(data, "benchmark", path)
    if "extends" in data:  # e.g. daclip-mix: uir10's ten, then its own composites
        if data["extends"] == name:
            raise ManifestError(f"{path}: key 'extends' names the manifest itself")
        base = load_benchmark(data["extends"], directory)
        data = {**data, "tasks": {**base["tasks"], **data["tasks"]}}
    known = set(list_sources(d))
    for task, splits in data["tasks"].items():
        for split, spec in splits.items():
            for i, s in enumerate(spec["sources"]):
                if s["source"] not in known:
                    raise ManifestError(
                        f"{path}: key 'tasks.{task}.{split}.sources[{i}].source' names unknown "
                        f"source {s['source']!r}; known: {', '.join(sorted(known))}"
                    )
    return data


def list_sources(directory: str | os.PathLike | None = None) -> list[str]:
    """Names of the source manifests (every ``*.yaml`` except benchmarks and demo)."""
    d = Path(directory) if directory else manifests_dir()
    return sorted(p.stem for p in d.glob("*.yaml") if p.stem not in _NOT_SOURCES)
