#!/usr/bin/env bash
# The GPU checks of one lent-GPU session, as one script (a GPU is lent for minutes, not hours).
#
# Run from the repository root on a CUDA machine whose python3 has torch + transformers (the
# uirbench extras it lacks can be installed from wheels first). Each part writes $OUT/<part>.log
# (gathered into $OUT/gpu_logs.tgz at the end) and a failing part does not stop the others. In order:
#   env        GPU, driver, torch
#   caption    benchmarks/caption.py on CUDA: batched fp16 vs one image per call (BLIP-base size)
#   daclip     benchmarks/train_daclip.py on CUDA: ViT-B/32 step, official AMP (fp16) and fp32 vs bf16
#   build      the demo root (16 workers)
#   dctiny     `train daclip` tiny recipe through torchrun, bf16 autocast (one GPU: world size 1,
#              so no NCCL process group is formed; NCCL needs a machine with 2+ GPUs)
#   amp        `train restore` of the paper-size IR-SDE + DA-CLIP, 30 steps fp32 vs bf16
#   sample     IR-SDE (paper size, T 100) sampling time per image on the GPU
#   sampling   benchmarks/evaluate_sampling.py --gpu: batched sampler (fp32, bf16, fp16 autocast)
#              vs the official-order loop, paper size, 256 and 512 px (issue #19's GPU figures)
#   ours_gpu   tiny IR-SDE + DA-CLIP trained for minutes on the GPU (3000 steps of 16), with
#              identity PSNR on the same val crops: does the tiny recipe beat identity once it
#              has GPU-scale steps?
set -u
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
W=${GPU_WORK:-/tmp/gpu_work}
L=$W/logs
mkdir -p "$L"
D=$W/demo
TRAIN_S=${TRAIN_S:-230}   # seconds of tiny-ours training
py=python3
part() {
  local name=$1 lim=$2
  shift 2
  echo "== $name ($(date +%T))"
  timeout "$lim" "$@" >"$L/$name.log" 2>&1
  echo "rc=$?" >>"$L/$name.log"
  grep -v -E "^\s*$|it/s|s/it" "$L/$name.log" | tail -n 14
}

part env 30 bash -c 'nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv;
  python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name())"; nproc'
part caption 150 $py benchmarks/caption.py --device cuda --images 48 --batch-size 48
part daclip 150 $py benchmarks/train_daclip.py --device cuda --batch 128 --repeats 10 --warmup 3
part build 120 $py -m uirbench build-data --preset demo --root "$D" --workers 16
part dctiny 150 torchrun --standalone --nproc-per-node 1 -m uirbench train daclip \
  --recipe daclip_tiny "root=$D" output=$W/dctiny train.device=cuda train.amp=auto \
  train.threads=4
DC=$W/dctiny/checkpoints/last.safetensors
for amp in off bf16; do
  part "amp_$amp" 150 $py -m uirbench train restore --recipe irsde_daclip \
    "root=$D" output=$W/amp_$amp train.iterations=30 train.amp=$amp train.device=cuda \
    log.every=10 val.every=100000 checkpoint.every=100000 data.workers=4 train.resume=none
done
part sample 120 $py - "$W/amp_bf16/checkpoints/last.safetensors" <<'EOF'
import sys, time, torch
from uirbench.restore import build
r = build("ours", weights=sys.argv[1], device="cuda")
for side in (256, 512):
    x = torch.rand(1, 3, side, side)
    r.restore(x); torch.cuda.synchronize()
    t0 = time.perf_counter(); r.restore(x); torch.cuda.synchronize()
    print(f"IR-SDE+DA-CLIP paper size, T {r.sde.T}, {side}x{side}: {time.perf_counter() - t0:.2f} s/image")
EOF
part sampling 420 $py benchmarks/evaluate_sampling.py --device cuda --gpu --images 8 --repeat 2

# Tiny "ours" (the CPU recipe's model and SDE) with GPU-scale steps, for TRAIN_S seconds at most.
(timeout "$TRAIN_S" $py -m uirbench train restore --recipe ours_tiny "root=$D" \
  "daclip.weights=$DC" train.device=cuda train.threads=4 train.resume=none train.iterations=3000 \
  train.batch_size=16 val.every=1500 val.per_task=8 log.every=500 checkpoint.every=100000 \
  output=$W/ours_gpu >"$L/ours_gpu.log" 2>&1; echo "rc=$?" >>"$L/ours_gpu.log") &
part identity 60 $py - "$D" <<'EOF'
import sys
from pathlib import Path
from uirbench.evaluate.metrics.psnr import psnr_tensor as psnr
from uirbench.tasks import TASKS
from uirbench.train.restore import load_restore_recipe, validation_set
cfg = load_restore_recipe("ours_tiny", [f"root={sys.argv[1]}", "val.per_task=8"])
val = validation_set(Path(sys.argv[1]), cfg, [t.id for t in TASKS])
print({t: round(sum(psnr(lq, gt) for lq, gt in p) / len(p), 2) for t, p in val.items()})
EOF
wait
for d in "$W"/ours_*/; do
  n=$(basename "$d")
  echo "== $n"
  grep -E "rc=|Error" "$L/$n.log" | tail -n 3
  grep val_psnr "$d/log.jsonl" 2>/dev/null | $py -c "
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print(r['step'], round(r['val_psnr_mean'], 2),
          {k: round(v, 2) for k, v in r['val_psnr'].items()})"
  cp "$d/log.jsonl" "$L/$n.jsonl" 2>/dev/null
done
tar czf "$OUT/gpu_logs.tgz" -C "$W" logs
