"""Shared fixtures. `demo_root` is built once per test session: treat it as read-only and use
`demo_copy` for tests that modify a root."""

import shutil
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    from uirbench.data.build import build

    root = tmp_path_factory.mktemp("demo") / "root"
    build(root=root, preset="demo", workers=2)
    return root


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
