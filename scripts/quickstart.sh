#!/usr/bin/env bash
# Set up .venv (if needed) and run the main job: scenarios/quickstart.yaml.
# JPEG2000 / HEVC-intra + 5G LDPC(1/2) + Gray 8-PSK vs deep JSCC at equal channel
# uses, AWGN and Rayleigh, Es/N0 -5..20 dB, on photos shipped with scikit-image.
# Idempotent: re-running resumes (nothing is recomputed) and reprints the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh "vision,codecs,examples"
out=${1:-out/quickstart}
resume=()
[ -f "$out/results.h5" ] && resume=(--resume)
.venv/bin/semlink run scenarios/quickstart.yaml --out "$out" "${resume[@]}"
.venv/bin/semlink summary "$out/results.h5"
echo
echo "results: $out/results.h5"
echo "plots:   $out/plots/ (PNG and SVG)"
echo "JSON:    .venv/bin/semlink summary $out/results.h5 --json"
