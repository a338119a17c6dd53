"""Untrusted YAML: loaded safely, no manifest path escapes the data root, malformed files are
rejected with the offending key named.

Each YAML entry point a user can hand a file to -- source and benchmark manifests, training
recipes (and ``key=value`` overrides), zoo cards, leaderboard reference files -- is given a
``!!python/object/apply`` tag whose construction would create a marker file: it must be refused
with a :class:`UirbenchError` naming the file, and the marker must never appear. A static check
keeps every YAML call in the package a safe one.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import pytest
import yaml

from uirbench.data import manifest as m
from uirbench.errors import UirbenchError
from uirbench.train import daclip as train_daclip
from uirbench.train import recipe as train_recipe
from uirbench.train import restore as train_restore

PACKAGE = Path(__file__).resolve().parents[2] / "uirbench"


def _evil(marker: Path) -> str:
    """YAML whose unsafe loading runs ``os.system('touch <marker>')``."""
    return f"!!python/object/apply:os.system ['touch {marker}']"


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "YAML_PAYLOAD_RAN"


def _good_source() -> dict:
    return yaml.safe_load((m.manifests_dir() / "div2k.yaml").read_text())


def _write(folder: Path, name: str, data: dict | str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def test_control_the_payload_is_live(tmp_path: Path, marker: Path) -> None:
    yaml.unsafe_load(_evil(marker))  # what an unsafe loader would do
    assert marker.exists()


def _safe_loader_classes(tree: ast.Module) -> set[str]:
    """Classes of a module that subclass ``yaml.SafeLoader`` (e.g. one that records lines)."""
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(ast.unparse(b) == "yaml.SafeLoader" for b in node.bases)
    }


def _unsafe_yaml_uses(tree: ast.Module, where: str) -> list[str]:
    """Only ``yaml.safe_load``/``safe_dump`` (and friends); ``yaml.load`` only with ``Loader=``
    a subclass of ``yaml.SafeLoader`` defined in the same module (task files use one to name
    the line of an error; it constructs nothing SafeLoader would not)."""
    allowed = {"safe_load", "safe_load_all", "safe_dump", "safe_dump_all", "YAMLError", "dump"}
    # Names needed to subclass the safe loader; none of them loads anything by itself.
    allowed |= {"SafeLoader", "MappingNode", "resolver", "load"}
    safe = _safe_loader_classes(tree)
    bad = []
    for node in ast.walk(tree):
        at = f"{where}:{getattr(node, 'lineno', 0)}"
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "yaml"
            and node.attr not in allowed
            and not node.attr.endswith("Error")
        ):
            bad.append(f"{at} yaml.{node.attr}")
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "yaml.load":
            loader = {k.arg: ast.unparse(k.value) for k in node.keywords}.get("Loader")
            if loader not in safe:
                bad.append(f"{at} yaml.load with Loader={loader}")
    return bad


def test_no_unsafe_yaml_call_in_the_package() -> None:
    bad = []
    for py in sorted(PACKAGE.rglob("*.py")):
        bad += _unsafe_yaml_uses(
            ast.parse(py.read_text(), str(py)), str(py.relative_to(PACKAGE.parent))
        )
    assert bad == []


def test_the_yaml_rule_catches_unsafe_loaders() -> None:
    """The rule is not vacuous: an unsafe Loader, a loader class not derived from SafeLoader and
    an unknown yaml function are each reported."""
    snippet = (
        "import yaml\n"
        "class L(yaml.Loader):\n    pass\n"
        "yaml.load(t, Loader=yaml.UnsafeLoader)\n"
        "yaml.load(t, Loader=L)\n"
        "yaml.full_load(t)\n"
    )
    bad = _unsafe_yaml_uses(ast.parse(snippet), "x.py")
    assert any("Loader=yaml.UnsafeLoader" in b for b in bad)
    assert any("Loader=L" in b for b in bad)
    assert any("yaml.full_load" in b for b in bad) and any("yaml.Loader" in b for b in bad)


# ------------------------------------------------------------------------ python tags refused
def test_source_manifest_with_python_tag(tmp_path: Path, marker: Path) -> None:
    text = yaml.safe_dump(_good_source(), sort_keys=False).replace(
        "title: ", f"title: {_evil(marker)}\nnotes: ", 1
    )
    path = _write(tmp_path, "div2k", text)
    with pytest.raises(m.ManifestError) as exc:
        m.load_source("div2k", tmp_path)
    assert str(path) in str(exc.value)
    assert not marker.exists()


def test_benchmark_manifest_with_python_tag(tmp_path: Path, marker: Path) -> None:
    text = (m.manifests_dir() / "uir10.yaml").read_text()
    text = text.replace("count: 68", f"count: {_evil(marker)}", 1)
    path = _write(tmp_path, "uir10", text)
    with pytest.raises(m.ManifestError) as exc:
        m.load_benchmark("uir10", tmp_path)
    assert str(path) in str(exc.value)
    assert not marker.exists()


def test_zoo_card_with_python_tag(tmp_path: Path, marker: Path, monkeypatch) -> None:
    from uirbench.restore import zoo_card

    monkeypatch.setenv("UIRBENCH_HOME", str(tmp_path))
    path = _write(tmp_path / "zoo", "ours", f"arch: irsde\nrecipe: {_evil(marker)}\n")
    with pytest.raises(UirbenchError) as exc:
        zoo_card("ours")
    assert str(path) in str(exc.value)
    assert not marker.exists()


def test_leaderboard_reference_with_python_tag(tmp_path: Path, marker: Path) -> None:
    from uirbench.report.reference import load_meta

    path = _write(tmp_path / "leaderboard", "paper", f"method: {_evil(marker)}\n")
    with pytest.raises(UirbenchError) as exc:
        load_meta(tmp_path)
    assert str(path) in str(exc.value)
    assert not marker.exists()


# ------------------------------------------------------------------------ manifest paths
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("path", "/etc/passwd"),
        ("path", "../outside.zip"),
        ("path", "a/../../outside.zip"),
        ("path", "..\\outside.zip"),
        ("path", "C:/outside.zip"),
        ("extract_to", "../../outside"),
        ("extract_to", "/tmp/outside"),
        ("hf.file", "../../outside.zip"),
        ("hf.file", "/etc/passwd"),
    ],
)
def test_manifest_path_escaping_the_data_root_is_refused(
    tmp_path: Path, field: str, value: str
) -> None:
    data = _good_source()
    art = data["artifacts"][0]
    key = f"artifacts[0].{field}"
    if field == "hf.file":
        art["locations"] = [{"hf": {"repo": "someone/data", "file": value}}]
        key = "artifacts[0].locations[0].hf.file"
    else:
        art[field] = value
        if field == "extract_to":
            art["extract"] = True
    _write(tmp_path, "div2k", data)
    with pytest.raises(m.ManifestError) as exc:
        m.load_source("div2k", tmp_path)
    assert key in str(exc.value) and "div2k.yaml" in str(exc.value)


def test_file_location_template_cannot_escape(tmp_path: Path) -> None:
    data = _good_source()
    data["file_locations"] = [{"hf": {"repo": "someone/data", "file": "../{name}"}}]
    for a in data["artifacts"]:
        a.pop("locations", None)
    _write(tmp_path, "div2k", data)
    with pytest.raises(m.ManifestError, match=r"file_locations\[0\]\.hf\.file"):
        m.load_source("div2k", tmp_path)


# ------------------------------------------------------------------------ malformed manifests
@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: d.update(tasks="noisy"), "tasks"),
        (lambda d: d.update(tasks=["noisy", "sharpened"]), "tasks[1]"),
        (lambda d: d.update(adapter="Folder!"), "adapter"),
        (lambda d: d["licence"].pop("terms"), "licence"),
        (lambda d: d["artifacts"][0].update(size=-1), "artifacts[0].size"),
        (lambda d: d["artifacts"][0].update(kind="symlink"), "artifacts[0].kind"),
        (lambda d: d["artifacts"][0].update(md5="xyz"), "artifacts[0].md5"),
        (lambda d: d["artifacts"][0].update(locations=[{"url": "file:///etc"}]), "locations[0]"),
        (lambda d: d.update(artifacts=[]), "artifacts"),
    ],
)
def test_malformed_source_manifest_names_the_key(tmp_path: Path, mutate, key: str) -> None:
    data = copy.deepcopy(_good_source())
    mutate(data)
    _write(tmp_path, "div2k", data)
    with pytest.raises(m.ManifestError) as exc:
        m.load_source("div2k", tmp_path)
    assert key in str(exc.value) and "div2k.yaml" in str(exc.value), str(exc.value)


@pytest.mark.parametrize("text", ["- just\n- a list\n", "name: [unclosed\n", "42\n", ""])
def test_source_manifest_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, "div2k", text)
    with pytest.raises(m.ManifestError) as exc:
        m.load_source("div2k", tmp_path)
    assert str(path) in str(exc.value)


# ------------------------------------------------------------------------ recipes
def _recipe_modules():
    return train_recipe, train_restore.DEFAULTS, train_daclip.DEFAULTS


def test_every_packaged_recipe_validates() -> None:
    recipe, restore_defaults, daclip_defaults = _recipe_modules()
    paths = sorted((PACKAGE / "recipes").glob("*.yaml"))
    assert paths
    for p in paths:
        defaults = daclip_defaults if p.stem.startswith("daclip") else restore_defaults
        recipe.load_recipe(p, defaults)


def test_recipe_with_python_tag(tmp_path: Path, marker: Path) -> None:
    recipe, defaults, _ = _recipe_modules()
    path = _write(tmp_path, "evil", f"model: nafnet\noutput: {_evil(marker)}\n")
    with pytest.raises(UirbenchError) as exc:
        recipe.load_recipe(path, defaults)
    assert str(path) in str(exc.value)
    assert not marker.exists()


def test_override_with_python_tag(tmp_path: Path, marker: Path) -> None:
    recipe, defaults, _ = _recipe_modules()
    path = _write(tmp_path, "ok", "model: nafnet\n")
    with pytest.raises(UirbenchError):
        recipe.load_recipe(path, defaults, [f"output={_evil(marker)}"])
    assert not marker.exists()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("trian:\n  iterations: 10\n", "trian"),  # unknown section
        ("train:\n  iteratoins: 10\n", "iteratoins"),  # unknown setting
        ("train: 5\n", "train"),  # a section given a scalar
        ("data: null\n", "data"),  # a section removed
        ("train:\n  iterations: many\n", "train.iterations"),  # text for an int
        ("train:\n  iterations: 1.5\n", "train.iterations"),  # float for an int
        ("train:\n  amp: off\n", "train.amp"),  # YAML 1.1 'off' is a bool, not the string
        ("optim:\n  lr: fast\n", "optim.lr"),
        ("optim:\n  betas: 0.9\n", "optim.betas"),  # scalar for a list
        ("data:\n  flips: 1\n", "data.flips"),  # int for a bool
    ],
)
def test_malformed_recipe_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    recipe, defaults, _ = _recipe_modules()
    path = _write(tmp_path, "bad", "model: nafnet\n" + text)
    with pytest.raises(UirbenchError) as exc:
        recipe.load_recipe(path, defaults)
    msg = str(exc.value)
    assert key in msg and str(path) in msg, msg


@pytest.mark.parametrize(
    ("override", "key"),
    [("iterations=many", "train.iterations"), ("flips=yes please", "data.flips")],
)
def test_malformed_override_names_the_key(tmp_path: Path, override: str, key: str) -> None:
    recipe, defaults, _ = _recipe_modules()
    path = _write(tmp_path, "ok", "model: nafnet\n")
    with pytest.raises(UirbenchError, match=key.replace(".", r"\.")):
        recipe.load_recipe(path, defaults, [override])


@pytest.mark.parametrize("text", ["- a\n- list\n", "model: [unclosed\n"])
def test_recipe_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    recipe, defaults, _ = _recipe_modules()
    path = _write(tmp_path, "bad", text)
    with pytest.raises(UirbenchError, match=r"bad\.yaml"):
        recipe.load_recipe(path, defaults)


# ------------------------------------------------------------------------ a root from elsewhere
@pytest.mark.parametrize("rel", ["val/../../outside.png", "/etc/passwd"])
@pytest.mark.parametrize("col", ["lq_path", "gt_path"])
def test_index_paths_cannot_escape_the_root(tmp_path: Path, col: str, rel: str) -> None:
    """A built root may be downloaded: its index.parquet is read like a manifest, and a row whose
    file path leaves the root stops every reader (evaluate, caption, training, shards)."""
    import importlib.util

    from uirbench.data.index import read_index, write_index

    spec = importlib.util.spec_from_file_location(
        "_evalfix", PACKAGE.parent / "tests" / "test_evaluate_outputs.py"
    )
    fix = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fix)
    root = fix.make_root(tmp_path / "root")
    idx = read_index(root)
    key = idx.loc[1, "key"]
    idx.loc[1, col] = rel
    write_index(root, idx)
    with pytest.raises(UirbenchError) as exc:
        read_index(root)
    assert key in str(exc.value) and col in str(exc.value) and "index.parquet" in str(exc.value)
    from uirbench.evaluate import run

    with pytest.raises(UirbenchError, match=col):
        run(root=root, model="identity", out=tmp_path / "res", metrics="psnr", workers=0)
