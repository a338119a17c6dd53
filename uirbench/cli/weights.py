"""``uirbench weights fetch NAME...``: download pretrained weights explicitly, into the standard
caches (torch.hub for pyiqa/torchvision files, Hugging Face for hub-hosted zoo files)."""

from __future__ import annotations

import typer

from uirbench.cli.console import console, results_console
from uirbench.errors import UirbenchError
from uirbench.progress import byte_progress, file_bars

weights_app = typer.Typer(
    help="Pretrained weights: `weights fetch lpips fid` (metrics) or a zoo model name.\n\n"
    "Example: uirbench weights fetch lpips fid",
    no_args_is_help=True,
)
METRIC_NAMES = ("lpips", "fid", "niqe", "musiq", "clipiqa", "maniqa")


def register(app: typer.Typer) -> None:
    weights_app.command("fetch")(fetch)
    app.add_typer(weights_app, name="weights")


def remotes_for(name: str) -> list:
    """The :class:`~uirbench.hub.Remote` files behind a metric or zoo model name."""
    # lazy: zoo cards load yaml, numpy and cv2; not for `uirbench --help`
    from uirbench.models.zoo import card_names, zoo_card, zoo_remotes

    if name in METRIC_NAMES:
        # lazy: metric options load numpy and cv2; not for `uirbench --help`
        from uirbench.evaluate.metrics.pyiqa_metric import explicit_options, required_weights
        from uirbench.evaluate.no_reference import PROFILE as NO_REFERENCE
        from uirbench.evaluate.profiles import get_profile

        given = NO_REFERENCE.get(name) or get_profile("daclip").pyiqa.get(name)
        return [f.remote() for f in required_weights(name, explicit_options(name, given))]
    try:
        zoo_card(name)
    except UirbenchError:
        raise UirbenchError(
            f"weights fetch {name}: unknown name; metrics: {', '.join(METRIC_NAMES)}; zoo models: "
            f"{card_names()}"
        ) from None
    return [r for _, r in zoo_remotes(name)]


def fetch(
    names: list[str] = typer.Argument(
        ...,
        help="lpips, fid, niqe, musiq, clipiqa, maniqa, or zoo model names (e.g. daclip_vitb32).",
    ),
) -> None:
    """Download and sha256-verify weight files; files already cached are only verified.

    Honours TORCH_HOME (pyiqa/torchvision files under $TORCH_HOME/hub), HF_HOME / HF_HUB_CACHE
    (Hugging Face files), HF_ENDPOINT, and HF_HUB_OFFLINE=1 (nothing downloaded; cached files
    are verified, absent ones named).

    Examples:

      uirbench weights fetch lpips fid

      HF_HOME=/shared/hf uirbench weights fetch daclip_vitb32
    """
    # lazy: the downloader loads numpy and cv2; not for `uirbench --help`
    from uirbench import hub

    con = results_console
    remotes = [r for n in dict.fromkeys(names) for r in remotes_for(n)]
    failed = []
    with file_bars(console) as bar:  # one bar per file downloaded, on stderr
        on_bytes = byte_progress(bar)
        for r in remotes:
            try:
                path = hub.fetch(r, progress=on_bytes)
            except UirbenchError as exc:
                failed.append(str(exc))
                continue
            check = "sha256 ok" if r.expected_sha256() else "no sha256 to check (not pinned)"
            con.print(f"{r.what}: {path} ({check})", highlight=False, markup=False)
    if failed:
        raise UirbenchError(
            f"{len(failed)} of {len(remotes)} file(s) not fetched:\n" + "\n".join(failed)
        )
