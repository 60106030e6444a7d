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
exec .venv/bin/python -m pytest "$@"
