#!/usr/bin/env bash
# Set up .venv (if needed) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh "test,vision,codecs,examples,metrics,vlm,ray,text,diffusion,saliency,ldpc-cpu"
exec .venv/bin/python -m pytest "$@"
