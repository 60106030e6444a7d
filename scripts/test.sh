#!/usr/bin/env bash
# Set up .venv (if needed) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh "test,vision,codecs,examples,metrics,vlm,ray,text,diffusion,saliency,ldpc-cpu"
# Test data (Kodak24, the COCO sample): the first of $SEMLINK_DATA, ../shared/data and the
# user cache that holds both (semlink/data_fetch.py). Only when none does, fetch them into
# $SEMLINK_DATA or the cache (files already there are checked and kept; SEMLINK_DATA_MIRROR:
# a local mirror). The tests then see that folder as $SEMLINK_DATA. Where the data is found
# (CI: ../shared/data) nothing is fetched.
data_root=$(.venv/bin/python -c "from semlink.data_fetch import common_root; print(common_root() or '')")
if [ -z "$data_root" ]; then
  data_root=${SEMLINK_DATA:-$(.venv/bin/python -c "from semlink.data_fetch import fetch_root; print(fetch_root())")}
  echo "test data missing: semlink data fetch --all --dest $data_root" >&2
  .venv/bin/semlink data fetch --all --dest "$data_root"
fi
export SEMLINK_DATA="$data_root"
# The whole suite (no arguments, as CI runs it) starts with the lint and type check
# (scripts/lint.sh: ruff, mypy); the tests run either way, and a lint failure fails the run.
lint_status=0
if [ $# -eq 0 ]; then
  bash scripts/lint.sh || lint_status=$?
fi
.venv/bin/python -m pytest "$@"
if [ "$lint_status" -ne 0 ]; then
  echo "scripts/test.sh: the tests ran, but the lint or type check failed (bash scripts/lint.sh)" >&2
  exit "$lint_status"
fi
