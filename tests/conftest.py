"""Shared fixtures. `demo_root` is built once per test session: treat it as read-only and use
`demo_copy` for tests that modify a root."""

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    from uirbench.data.build import build

    root = tmp_path_factory.mktemp("demo") / "root"
    build(root=root, preset="demo", workers=2)
    return root


def _stat_tree(root: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def demo_subset(tmp_path_factory) -> Iterator[Callable[..., Path]]:
    """``demo_subset(tasks, splits=None)``: a demo build of some tasks, made once per session
    and shared by every module that asks for the same (tasks, splits) -- several modules used to
    rebuild the same roots. Read-only: copy it before writing. The teardown fails the session if
    any file under a shared root was added, removed or rewritten, so sharing cannot silently
    couple two tests."""
    from uirbench.data.build import build

    built: dict[tuple[str, str | None], tuple[Path, dict[str, tuple[int, int]]]] = {}

    def get(tasks: str, splits: str | None = None) -> Path:
        key = (tasks, splits)
        if key not in built:
            root = tmp_path_factory.mktemp("demo-subset") / "root"
            kw = {} if splits is None else {"splits": splits}
            build(root=root, preset="demo", tasks=tasks, workers=1, **kw)
            built[key] = (root, _stat_tree(root))
        return built[key][0]

    yield get
    for (tasks, splits), (root, before) in built.items():
        assert _stat_tree(root) == before, (
            f"a test wrote into the shared demo root {tasks}/{splits}"
        )


@pytest.fixture
def demo_copy(demo_root, tmp_path) -> Path:
    dest = tmp_path / "root"
    shutil.copytree(demo_root, dest)
    return dest


@pytest.fixture
def tree_hashes():
    """sha256 of every file under a folder, by relative path: compares two builds byte for byte."""
    from uirbench.io import sha256_file

    def hashes(root: Path) -> dict[str, str]:
        return {
            p.relative_to(root).as_posix(): sha256_file(p)
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    return hashes


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "SHA256SUMS").is_file():
        pytest.skip(f"real upstream mirror not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """Trainers and the evaluate runner set torch's thread count in-process; restore it so one
    test's setting never changes another test's float summation order."""
    import torch

    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_irsde_checkpoint(tmp_path_factory) -> str:
    """A random-weight, smaller irsde_tiny as a uirbench checkpoint (its config travels in the
    meta): 51k parameters, T=4, seconds per image on one core. Shared by the CLI-option and
    batch-independence tests (one copy of the recipe)."""
    import copy

    import torch

    from uirbench.models.networks import build_network, load_model_config
    from uirbench.train.checkpoint import save_checkpoint

    torch.manual_seed(3)
    cfg = copy.deepcopy(load_model_config("irsde_tiny"))
    cfg["net"].update(nf=8, ch_mult=[1, 2])
    cfg["sde"]["T"] = 4
    net = build_network(cfg)
    with torch.no_grad():
        for p in net.parameters():  # the zero-initialised output layer too: a non-trivial net
            p.add_(torch.randn_like(p) * 0.05)
    stem = tmp_path_factory.mktemp("w") / "irsde_tiny"
    save_checkpoint(
        stem, {f"net.{k}": v for k, v in net.state_dict().items()}, {"model_config": cfg}
    )
    return str(stem.with_suffix(".safetensors"))
