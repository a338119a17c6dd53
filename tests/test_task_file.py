"""User task files end to end: an 11th composite task (motion blur + rain) is built, verified,
byte-identical twice, trained on and classified with 11 classes, scored and drawn on 11 axes.
Errors in a task file name the file and line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from uirbench.data.build import build
from uirbench.data.index import read_index
from uirbench.data.shardset import ShardSet
from uirbench.data.task_file import load_task_file
from uirbench.data.verify import verify
from uirbench.errors import UirbenchError
from uirbench.tasks import TASK_IDS, TASKS, all_tasks, using

TASK_FILE = """\
tasks:
  - id: blur-rain
    folder: blurry-rainy
    synth:
      - {op: motion_blur}
      - {op: rain_streaks}
"""


def _photos(folder: Path) -> Path:
    folder.mkdir(parents=True)
    astro = skimage.data.astronaut()
    crops = [astro[y : y + 160, x : x + 160] for y, x in ((0, 0), (200, 200), (300, 40), (40, 300))]
    crops += [skimage.data.coffee()[:160, :160], skimage.data.chelsea()[:160, 100:260]]
    crops += [skimage.data.rocket()[:160, :160], skimage.data.immunohistochemistry()[:160, :160]]
    for i, img in enumerate(crops):
        small = cv2.resize(np.ascontiguousarray(img), (64, 64), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / f"photo {i}.png"), small[:, :, ::-1])
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("tasks")
    photos = _photos(base / "photos")
    (base / "my_tasks.yaml").write_text(TASK_FILE)
    roots = []
    for name in ("a", "b"):
        build(
            root=base / name,
            from_dir=photos,
            tasks_file=base / "my_tasks.yaml",
            val_fraction=0.5,
            workers=2 if name == "a" else 1,
        )
        roots.append(base / name)
    return base, roots


def test_eleventh_task_builds_verifies_and_is_byte_identical(built, tree_hashes):
    _, (a, b) = built
    assert verify(a) == []
    assert tree_hashes(a) == tree_hashes(b)
    index = read_index(a)
    assert set(index["task"]) == {*TASK_IDS, "blur-rain"}
    assert {"train", "val"} <= set(index["split"])
    assert (a / "train" / "blurry-rainy" / "LQ").is_dir() or (a / "val" / "blurry-rainy").is_dir()
    row = index[index["task"] == "blur-rain"].iloc[0]
    steps = json.loads(row["params"])["steps"]
    assert [s["op"] for s in steps] == ["motion_blur", "rain_streaks"]
    # shards carry the 11th class index and the chain's text (both tasks' texts)
    shards = ShardSet(a, row["split"])
    i = shards.keys().index(row["key"])
    assert int(shards.text(i, "cls")) == 10
    assert shards.text(i, "deg.txt") == "motion-blurry, rainy"
    # the composite LQ differs from each single degradation's LQ of the same photo
    lq = cv2.imread(str(a / row["lq_path"]))
    for task, folder in (("blurry", "motion-blurry"), ("rainy", "rainy")):
        single = a / row["split"] / folder / "LQ" / Path(row["lq_path"]).name
        assert not np.array_equal(lq, cv2.imread(str(single))), task


def test_root_refuses_another_task_set(built, tmp_path):
    base, (a, _) = built
    other = tmp_path / "other.yaml"
    other.write_text(TASK_FILE.replace("blur-rain", "blur-rain2"))
    with pytest.raises(UirbenchError, match="built with other tasks"):
        build(root=a, from_dir=base / "photos", tasks_file=other, val_fraction=0.5)


def test_daclip_trains_and_classifies_eleven_classes(built, tmp_path):
    pytest.importorskip("open_clip", reason="DA-CLIP needs the optional [train] extra")
    from uirbench.evaluate.classify import classification_table, load_model
    from uirbench.train import daclip as td

    _, (a, _) = built
    config = tmp_path / "micro.json"
    config.write_text(
        json.dumps(
            {
                "embed_dim": 32,
                "init_logit_scale": 4.6,
                "vision_cfg": {
                    "image_size": 32,
                    "layers": 1,
                    "width": 32,
                    "head_width": 16,
                    "patch_size": 8,
                },
                "text_cfg": {
                    "context_length": 77,
                    "vocab_size": 49408,
                    "width": 32,
                    "heads": 2,
                    "layers": 1,
                },
            }
        )
    )
    recipe = Path(__file__).parents[1] / "uirbench" / "recipes" / "daclip_tiny.yaml"
    logs: list[str] = []
    summary = td.train(
        td.load_daclip_recipe(
            recipe,
            [
                f"root={a}",
                f"model_config={config}",
                f"output={tmp_path / 'run'}",
                "batch_size=16",
                "epochs=1",
                "stop_at=2",
                "val_split=val",
                "progress=false",
                "threads=1",
            ],
        ),
        log=logs.append,
    )
    assert any("of 11 classes" in line for line in logs), logs[:3]
    model = load_model(summary["checkpoint"])
    table = classification_table(model, a, "val")
    assert [c for c in table.columns if c not in ("model", "average_macro", "average_micro")] == [
        *TASK_IDS,
        "blur-rain",
    ]
    assert table["blur-rain"].notna().all()
    assert all_tasks() == TASKS  # outside the command, the ten are in force again


def test_scores_and_radar_have_eleven_axes(built, tmp_path, monkeypatch):
    from uirbench.evaluate.runner import run
    from uirbench.report import leaderboard, radar

    _, (a, _) = built
    outputs = tmp_path / "outputs"
    index = read_index(a)
    for r in index[index["split"] == "val"].itertuples():
        dest = outputs / r.task / Path(r.lq_path).name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(a / r.lq_path, dest)  # identity: the LQ itself
    res = run(a, tmp_path / "res", outputs=outputs, metrics="psnr,ssim", name="identity")
    assert "blur-rain" in res["per_task"]
    axes: list[int] = []
    draw = radar._draw

    def counting(ax, data, *args, **kw):
        draw(ax, data, *args, **kw)
        axes.append(len(ax.get_xticks()))

    monkeypatch.setattr(radar, "_draw", counting)
    leaderboard.plot([tmp_path / "res"], tmp_path / "plots", metrics="psnr")
    assert axes == [11]


STEP = "tasks:\n  - id: x\n    synth:\n"
BAD_FILES = [
    (STEP + "      - {op: motion_blurr}\n", r"t\.yaml:4: unknown operator 'motion_blurr'"),
    (
        STEP + "      - op: noise\n        params: {sigmaa: 3}\n",
        r"t\.yaml:4: operator 'noise' has no parameter 'sigmaa'",
    ),
    ("tasks:\n  - id: noisy\n    synth: [{op: noise}]\n", r"t\.yaml:2: task 'noisy' .* defined"),
    (
        "tasks:\n  - id: x\n    colour: red\n    synth: [{op: noise}]\n",
        r"t\.yaml:2: unknown key\(s\) colour",
    ),
    ("tasks:\n  - id: x\n", r"t\.yaml:2: task 'x': give 'synth'"),
    ("tasks: [\n", r"t\.yaml(:\d+)?: not valid YAML"),
    ("include_builtin: false\ntasks: []\n", r"t\.yaml: no tasks"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_task_file_errors_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(UirbenchError, match=message):
        load_task_file(path)


def test_replacing_the_ten_renumbers_classes(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("include_builtin: false\ntasks:\n  - {id: only, synth: [{op: noise}]}\n")
    tasks = load_task_file(path)
    assert [t.id for t in tasks] == ["only"]
    with using(tasks):
        assert tasks[0].index == 0 and tasks[0].degradation == "noisy"
    assert all_tasks()[0].id == "blurry"


def test_root_commands_check_a_given_tasks_file_against_the_root(built, tmp_path):
    """caption and train daclip|restore take the task set from the root; --tasks-file there is
    a check: another task set (or a root of the ten) stops the command before any work."""
    from typer.testing import CliRunner

    from uirbench.cli.app import app

    base, (a, _) = built
    other = tmp_path / "other.yaml"
    other.write_text(TASK_FILE.replace("blur-rain", "blur-rain2"))
    commands = {
        "caption": ["caption", "--root", str(a), "--backend", "sidecar"],
        "train daclip": [
            "train",
            "daclip",
            "--recipe",
            "daclip_tiny",
            f"root={a}",
            f"output={tmp_path / 'd'}",
        ],
        "train restore": [
            "train",
            "restore",
            "--recipe",
            "nafnet_tiny",
            f"root={a}",
            f"output={tmp_path / 'r'}",
        ],
    }
    for what, args in commands.items():
        result = CliRunner().invoke(app, [*args, "--tasks-file", str(other)])
        assert isinstance(result.exception, UirbenchError), (what, result.output)
        assert "built with other tasks" in str(result.exception), what
    assert not (tmp_path / "d").exists() and not (tmp_path / "r").exists()
    # the root's own file passes the check (the dry-run caption then works on)
    sidecar = tmp_path / "captions.csv"
    sidecar.write_text("key,caption\n" + "".join(f"photo {i}.png,a photo\n" for i in range(8)))
    ok = CliRunner().invoke(
        app,
        [*commands["caption"], "--sidecar", str(sidecar), "--limit", "1",
         "--tasks-file", str(base / "my_tasks.yaml")],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
