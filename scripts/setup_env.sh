#!/usr/bin/env bash
# Create/refresh the virtual environment in .venv/ at the repository root.
# Idempotent: re-running only reinstalls when pyproject.toml (or this script) changed.
#
# torch/torchvision: on machines whose pip is configured with local wheel
# indexes (as on the project's CI machines) the pinned builds install from
# local files in about a minute. Elsewhere pip takes them from PyPI (CUDA
# build on Linux). For a CPU-only build use
#   SEMLINK_TORCH_INDEX=https://download.pytorch.org/whl/cpu bash scripts/setup_env.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_SPEC=${SEMLINK_TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
# extras to install: first argument, else $SEMLINK_EXTRAS, else "vision"
EXTRAS=${1:-${SEMLINK_EXTRAS:-vision}}

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.semlink-setup
base=$( (cat pyproject.toml scripts/setup_env.sh; echo "$TORCH_SPEC") | sha256sum | cut -d" " -f1)
# the stamp holds "<hash> <extra> <extra> ..." of what is installed; skip when nothing is new
if [ -f "$stamp" ] && .venv/bin/python -c "import semlink.phy" 2>/dev/null; then
  read -r have_base have_extras < "$stamp" || true
  if [ "$have_base" = "$base" ]; then
    missing=0
    for e in ${EXTRAS//,/ }; do
      case " $have_extras " in *" $e "*) ;; *) missing=1 ;; esac
    done
    [ $missing = 0 ] && exit 0
    EXTRAS="$EXTRAS,${have_extras// /,}"
  fi
fi
echo "[setup] installing into .venv (torch: $TORCH_SPEC; extras: $EXTRAS)" >&2
pip_args=(--disable-pip-version-check -q)
if [ -n "${SEMLINK_TORCH_INDEX:-}" ]; then
  .venv/bin/pip install "${pip_args[@]}" --index-url "$SEMLINK_TORCH_INDEX" $TORCH_SPEC
else
  .venv/bin/pip install "${pip_args[@]}" $TORCH_SPEC
fi
.venv/bin/pip install "${pip_args[@]}" -e ".[${EXTRAS}]"
echo "$base $(echo "${EXTRAS//,/ }" | tr ' ' '\n' | sort -u | tr '\n' ' ')" > "$stamp"
