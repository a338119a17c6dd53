#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and print its path.
#
# Why outside the clone: a venv with torch is ~7 GB. Keying it by a hash of the dependency files
# means repeated CI runs reuse one venv, and any change to the dependencies rebuilds it from scratch
# (never an in-place upgrade that could leave stale packages behind).
# Why torch first and pinned: an unpinned torch pulls a different multi-GB build on every resolve.
# Why constraints.txt: the lock (scripts/lock.sh) pins every package for the default extras, so CI
# and users resolve the same versions next month as today. pip itself is pinned too.
# Why scripts/opencv-shim: see its pyproject.toml (one wheel provides cv2).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
extras=${UIRBENCH_EXTRAS:-all,dev}
lock=$here/constraints.txt
shim=$here/scripts/opencv-shim
key=$(cat "$here/pyproject.toml" "$here/scripts/venv.sh" "$lock" "$shim/pyproject.toml" \
  <(echo "$extras") | sha256sum | cut -c1-16)
venv=${UIRBENCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/uirbench/venv-$key}
# The lock was resolved for the default extras; other sets (e.g. lavis) resolve on their own.
constraints=()
if [ "$extras" = "all,dev" ] && [ -z "${UIRBENCH_NO_LOCK:-}" ]; then
  constraints=(-c "$lock")
fi
if [ ! -f "$venv/.complete" ]; then
  echo "uirbench: creating virtual environment $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check pip==26.3 >&2
  "$venv/bin/pip" install -q torch==2.14.1 torchvision==0.29.1 ${constraints[@]+"${constraints[@]}"} >&2
  touch "$venv/.torch"
  # before uirbench's extras, so facexlib's opencv-python requirement is already met by it
  "$venv/bin/pip" install -q "$shim" ${constraints[@]+"${constraints[@]}"} >&2
fi
# The project itself is always reinstalled (editable, cheap), so the venv tracks this checkout.
"$venv/bin/pip" install -q -e "$here[$extras]" torch==2.14.1 torchvision==0.29.1 \
  ${constraints[@]+"${constraints[@]}"} >&2
touch "$venv/.complete"
echo "$venv"
