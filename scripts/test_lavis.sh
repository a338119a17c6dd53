#!/usr/bin/env bash
# Create (or reuse) the separate LAVIS environment and run the LAVIS caption test in it.
#
# Why a separate venv: salesforce-lavis 1.0.2 pins transformers<4.27, timm 0.4.12 and
# opencv-python-headless 4.5.5 (built against numpy 1.x), none of which the main environment can
# accept. The `lavis` extra holds what `import lavis` needs (with numpy<2); LAVIS itself is
# installed with --no-deps because its opencv pin clashes with uirbench's core opencv>=4.8.
# Usage: bash scripts/test_lavis.sh [extra pytest args]
# Env: UIRBENCH_LAVIS_VENV (default ~/.cache/uirbench/venv-lavis), PYTHON (default python3),
#      UIRBENCH_TORCH (default "torch==2.14.1 torchvision==0.29.1", the pin of scripts/venv.sh;
#      e.g. "torch==2.13.0 torchvision==0.28.0" where a local CPU wheel of 2.13 is at hand).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${UIRBENCH_LAVIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/uirbench/venv-lavis}
if [ ! -f "$venv/.complete" ]; then
  echo "uirbench: creating LAVIS environment $venv" >&2
  rm -rf "$venv"
  "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2
  # Torch first (pinned, so LAVIS's loose torch>=1.10 resolves to it), then LAVIS with numpy<2.
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q ${UIRBENCH_TORCH:-torch==2.14.1 torchvision==0.29.1} >&2
  "$venv/bin/pip" install -q -e "$here[lavis]" pytest >&2
  "$venv/bin/pip" install -q --no-deps salesforce-lavis==1.0.2 >&2
  touch "$venv/.complete"
fi
"$venv/bin/pip" install -q --no-deps -e "$here" >&2
"$venv/bin/python" -c "import lavis, transformers, numpy; print('lavis env:', 'transformers', transformers.__version__, 'numpy', numpy.__version__)"
cd "$here"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/test_caption_lavis.py "$@"
