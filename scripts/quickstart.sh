#!/usr/bin/env bash
# Set up .venv (if needed) and run the main job.
# Until the semantic quick start lands, this is a short coded BER sweep:
# 5G LDPC (k=512, n=1024) + Gray 8-PSK over AWGN and Rayleigh fast fading.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
out=${1:-out/quickstart}
mkdir -p "$out"
for ch in awgn rayleigh; do
  echo "== LDPC(512,1024) + 8-PSK over $ch =="
  .venv/bin/semlink ber --code ldpc5g --k 512 --n 1024 --modulation psk8 --channel "$ch" \
    --snr-db 0:12:1 --max-blocks 2000 --target-block-errors 50 --batch-size 500 \
    --seed 1 --json > "$out/ber_$ch.jsonl"
  .venv/bin/python - "$out/ber_$ch.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][1:]
print(f"{'Es/N0 dB':>9} {'Eb/N0 dB':>9} {'BER':>10} {'BLER':>10} {'blocks':>7}")
for r in rows:
    print(f"{r['snr_db']:9.2f} {r['ebno_db']:9.2f} {r['ber']:10.3e} {r['bler']:10.3e} {r['blocks']:7d}")
PY
done
echo "results written to $out/"
