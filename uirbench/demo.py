"""``uirbench demo``: the whole pipeline on the embedded default, offline, in minutes on a CPU.

build-data (demo photos; the ten tasks + ``blur-rain`` from the task file ``DEMO_TASKS_FILE``)
-> caption (sidecar) -> train daclip (tiny) -> train restore (tiny ``ours`` and
``nafnet-daclip``) -> evaluate (identity and both models) -> classify -> leaderboard (CSV,
Markdown, radar plots). Each step records a marker when it finishes, so a rerun skips it; the
steps themselves also resume (build journal, caption cache, training checkpoints).

The numbers are honest but small: tiny models trained for minutes on 8 photos, scored on crops
of 2 held-out photos, with synthetic stand-ins for seven of the ten degradations. They show that
the pipeline works, not what the paper's models achieve.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uirbench.errors import UirbenchError
from uirbench.io import atomic_write_text
from uirbench.paths import manifests_dir, recipes_dir

RESTORE_MODELS = {"ours": "ours_tiny.yaml", "nafnet-daclip": "nafnet_daclip_tiny.yaml"}
# The ten + one composite task (blur then rain) declared only in this task file: the demo shows
# a user's own task going end to end (11 DA-CLIP classes, 11 radar axes).
DEMO_TASKS_FILE = manifests_dir() / "tasks" / "demo.yaml"

# The demo's budget (about 9 minutes on 2 cores) is smaller than the tiny recipes' own: these
# overrides shorten training (in-training validation off: the evaluate step scores val), and
# IR-SDE samples every val image in EVAL_STEPS reverse steps instead of the config's T=20:
# measured on the demo root (BENCHMARKS.md, "evaluate --model: IR-SDE sampling"), 80 images x 4
# steps cost 125 CPU-s against 79 for the old 1 image per task x 20 steps; 3 steps keep the
# step near the old cost (~95 CPU-s), and macro PSNR was flat from 2 to 20 steps (18.38-18.44).
# The results record the steps. `--quick` (tests) cuts everything to a few steps.
# DA-CLIP trains alone (nothing else can run before it), so it takes both cores: 2 threads ran
# the demo's 990 steps at 296.5 samples/s against 194.5 with the recipe's 1 (idle 2-core
# machine; 89.8% val accuracy against 90.9%, one of 88 crops).
_SHORT_VAL = ["val.every=100000", "val.per_task=1", "val.size=64"]  # only the final check
DEMO_OVERRIDES = {
    "daclip": ["train.threads=2"],
    "ours": ["train.iterations=400", "checkpoint.every=100", *_SHORT_VAL],
    "nafnet-daclip": ["train.iterations=800", "checkpoint.every=200", *_SHORT_VAL],
}
QUICK_OVERRIDES = {
    "daclip": ["train.epochs=1"],
    "ours": ["train.iterations=4", "checkpoint.every=2", *_SHORT_VAL],
    "nafnet-daclip": ["train.iterations=4", "checkpoint.every=2", *_SHORT_VAL],
}
EVAL_STEPS = {"ours": 3}
QUICK_EVAL_STEPS = {"ours": 2}


@dataclass
class Demo:
    out: Path
    quick: bool = False  # test mode: far fewer training steps (results meaningless)
    log: Callable[[str], None] = print
    workers: int = 2
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.out / "data"

    def run_step(self, name: str, fn: Callable[[], Any]) -> Any:
        marker = self.out / "steps" / f"{name}.json"
        if marker.is_file():
            self.log(f"[{name}] done earlier, reusing {marker.parent}")
            return json.loads(marker.read_text())
        self.log(f"[{name}] running")
        t = time.perf_counter()
        result = fn()
        self.timings[name] = time.perf_counter() - t
        atomic_write_text(marker, json.dumps(result, indent=1, default=str) + "\n")
        self.log(f"[{name}] finished in {self.timings[name]:.0f} s")
        return result

    # ----------------------------------------------------------------------------- steps
    def build_data(self) -> dict[str, Any]:
        # lazy, as every step's imports: a step loads only its own stack (a resumed demo skips
        # finished steps, and each spawned step worker imports this module)
        from uirbench.data.build import build

        report = build(
            root=self.root, preset="demo", tasks_file=DEMO_TASKS_FILE, workers=self.workers
        )
        return {
            "pairs": sum(report.counts.values()),
            "root": str(self.root),
            "tasks_file": str(DEMO_TASKS_FILE),
        }

    def caption(self) -> dict[str, Any]:
        # lazy: the caption stack (transformers backends registered) only for this step
        from uirbench.caption import build_captioner, caption_root

        result = caption_root(self.root, build_captioner("sidecar"), progress=False)
        return {"captioned": getattr(result, "captioned", None), "backend": "sidecar"}

    def _overrides(self, what: str) -> list[str]:
        return (QUICK_OVERRIDES if self.quick else DEMO_OVERRIDES)[what]

    def train_daclip(self) -> dict[str, Any]:
        # lazy: torch + open_clip only for the training steps
        from uirbench.train.daclip import load_daclip_recipe, train

        recipe = load_daclip_recipe(
            recipes_dir() / "daclip_tiny.yaml",
            [
                f"data.root={self.root}",
                f"output={self.out / 'runs' / 'daclip_tiny'}",
                *self._overrides("daclip"),
            ],
        )
        summary = train(recipe, log=lambda *a, **k: None)
        return {"checkpoint": str(self.daclip_checkpoint), "summary": summary}

    @property
    def daclip_checkpoint(self) -> Path:
        return self.out / "runs" / "daclip_tiny" / "checkpoints" / "last.safetensors"

    def restore_checkpoint(self, model: str) -> Path:
        return self.out / "runs" / f"{model}_tiny" / "checkpoints" / "last.safetensors"

    def train_restore(self, model: str) -> dict[str, Any]:
        # lazy: torch only for the training steps
        from uirbench.train.restore import load_restore_recipe, train

        recipe = load_restore_recipe(
            recipes_dir() / RESTORE_MODELS[model],
            [
                f"data.root={self.root}",
                f"output={self.out / 'runs' / f'{model}_tiny'}",
                f"daclip.weights={self.daclip_checkpoint}",
                *self._overrides(model),
            ],
        )
        summary = train(recipe, log=lambda *a, **k: None)
        return {"checkpoint": str(self.restore_checkpoint(model)), "summary": summary}

    def perceptual_metrics(self) -> tuple[list[str], list[str]]:
        """LPIPS/FID only where their weights are present: (metrics to add, reasons skipped)."""
        # lazy: pyiqa (and torch) only when the evaluate steps look for LPIPS/FID weights
        from uirbench.evaluate.metrics.pyiqa_metric import check_weights, explicit_options
        from uirbench.evaluate.profiles import get_profile

        profile = get_profile("daclip")
        extra, skipped = [], []
        for metric in ("lpips", "fid"):
            try:
                check_weights(metric, explicit_options(metric, profile.pyiqa.get(metric)))
                extra.append(metric)
            except UirbenchError as exc:
                skipped.append(str(exc))
        return extra, skipped

    def evaluate(self, model: str) -> dict[str, Any]:
        # lazy: torch and the metrics only for the evaluate steps
        from uirbench.evaluate import run

        extra, skipped = self.perceptual_metrics()
        for reason in skipped:
            self.log(f"  skipping: {reason}")
        weights = None if model == "identity" else str(self.restore_checkpoint(model))
        results = run(
            root=self.root,
            out=self.out / "results" / model,
            model=model,
            weights=weights,
            metrics=["psnr", "ssim", *extra],
            workers=0,
            threads=1,
            name=model,
            steps=(QUICK_EVAL_STEPS if self.quick else EVAL_STEPS).get(model),
        )
        return {"out": str(self.out / "results" / model), "average": results.get("average")}

    def classify(self) -> dict[str, Any]:
        # lazy: torch + open_clip only for the classify step
        from uirbench.evaluate.classify import classification_table, load_model, write_outputs

        model = load_model(str(self.daclip_checkpoint))
        table = classification_table(model, self.root, split="val", name="DA-CLIP (tiny, demo)")
        caption = (
            "Degradation classification accuracy on the demo's held-out val crops (tiny DA-CLIP "
            "trained for minutes on 6 photos; the zero-shot row is its untrained frozen CLIP)."
        )
        paths = write_outputs(table, self.out / "classify", caption)
        return {k: str(v) for k, v in paths.items()}

    def leaderboard(self) -> dict[str, Any]:
        # lazy: pandas/matplotlib only for the leaderboard step
        from uirbench.report.leaderboard import export, plot

        results = [self.out / "results"]
        out = self.out / "leaderboard"
        files = export(results, out, fmt="csv") + export(results, out, fmt="md")
        files += plot(results, out)
        return {"files": [str(f) for f in files]}

    # ----------------------------------------------------------------------------- all
    def step_table(self) -> dict[str, Callable[[], Any]]:
        steps: dict[str, Callable[[], Any]] = {
            "1-build-data": self.build_data,
            "2-caption": self.caption,
            "3-train-daclip": self.train_daclip,
        }
        for model in RESTORE_MODELS:
            steps[f"4-train-{model}"] = lambda m=model: self.train_restore(m)
        for model in ("identity", *RESTORE_MODELS):
            steps[f"5-evaluate-{model}"] = lambda m=model: self.evaluate(m)
        steps["6-classify"] = self.classify
        steps["5-evaluate-rest"] = self._evaluate_rest
        steps["7-leaderboard"] = self.leaderboard
        return steps

    def _evaluate_rest(self) -> dict[str, Any]:
        steps = self.step_table()
        return {
            sub: self.run_step(sub, steps[sub])
            for sub in ("5-evaluate-identity", "5-evaluate-nafnet-daclip", "6-classify")
        }

    def run_lanes(self, lanes: list[list[str]]) -> None:
        """Run each lane (steps in order) in its own process, the lanes side by side on the
        demo's two cores (one torch thread each). A lane's steps depend only on what came before
        it in the lane, so a short lane's evaluation overlaps the other lane's training."""
        todo = [[n for n in lane if not self._done(n)] for lane in lanes]
        for n in (n for lane in lanes for n in lane if self._done(n)):
            self.run_step(n, lambda: None)  # logs the reuse
        todo = [lane for lane in todo if lane]
        if len(todo) <= 1 or self.workers <= 1:
            for n in (n for lane in todo for n in lane):
                self.run_step(n, self.step_table()[n])
            return
        ctx = mp.get_context("spawn")
        self.log("running side by side: " + "; ".join(" -> ".join(lane) for lane in todo))
        with ProcessPoolExecutor(min(self.workers, len(todo)), mp_context=ctx) as pool:
            futures = [pool.submit(_child_lane, self.out, self.quick, lane) for lane in todo]
            for fut in as_completed(futures):
                for n, seconds in fut.result().items():
                    self.timings[n] = seconds
                    self.log(f"[{n}] finished in {seconds:.0f} s")

    def _done(self, name: str) -> bool:
        return (self.out / "steps" / f"{name}.json").is_file()

    def run(self) -> dict[str, Any]:
        self.out.mkdir(parents=True, exist_ok=True)
        steps = self.step_table()
        for name in ("1-build-data", "2-caption", "3-train-daclip"):
            self.run_step(name, steps[name])
        # ours trains in fewer steps than nafnet-daclip: its slow IR-SDE sampling then runs
        # while nafnet-daclip still trains; identity, nafnet-daclip and classify follow it
        self.run_lanes(
            [
                ["4-train-ours", "5-evaluate-ours"],
                ["4-train-nafnet-daclip", "5-evaluate-rest"],
            ]
        )
        return self.run_step("7-leaderboard", steps["7-leaderboard"])


def _child_lane(out: Path, quick: bool, names: list[str]) -> dict[str, float]:
    """Demo steps in order in a worker process (one torch thread: the other core is the other
    lane); seconds per step."""
    # lazy: torch only in the worker, to set its thread count before any step runs
    import torch

    torch.set_num_threads(1)
    demo = Demo(out=out, quick=quick, log=lambda msg: None)
    steps = demo.step_table()
    seconds = {}
    for name in names:
        t = time.perf_counter()
        demo.run_step(name, steps[name])
        seconds[name] = time.perf_counter() - t
    return seconds


def run_demo(out: str | Path, quick: bool = False, log: Callable[[str], None] = print) -> Demo:
    """Run (or resume) the whole demo under ``out``; returns the finished :class:`Demo`."""
    demo = Demo(out=Path(out), quick=quick, log=log)
    demo.run()
    return demo
