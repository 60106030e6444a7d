#!/usr/bin/env bash
# The GPU check (issue 19): everything a GPU user needs to know works, in one command,
# written to one short markdown report.
#
#   bash scripts/gpu_check.sh                 # on a CUDA machine: the full check
#   bash scripts/gpu_check.sh --quick         # minutes: a few test files, small benchmarks
#   bash scripts/gpu_check.sh --out DIR       # report and logs in DIR (default out/gpu_check)
#
# Steps (each logged to DIR/<step>.log, its exit status and wall time in DIR/report.md):
#   1. environment      semlink info (torch, CUDA build, visible GPUs), nvidia-smi
#   2. tests            the whole suite with SEMLINK_TEST_DEVICE=cuda (--quick: the device
#                       guard and modulation tests)
#   3. quick start      scenarios/quickstart.yaml with --device cuda (--quick: one SNR point,
#                       one image)
#   4. phy_throughput   benchmarks/phy_throughput.py --device cuda:0, with and without
#                       torch.compile (--compile runs both; not on the CPU fallback)
#   5. ldpc_early_term  benchmarks/ldpc_early_termination.py --device cuda:0 --compile
#
# Without a CUDA device it degrades clearly: the report says so, the CUDA steps are
# recorded as "skipped (no CUDA device)", and the same steps run on the CPU in quick form
# so that the script itself is exercised.  Exit status: 0 when every step that ran passed.
# PYTHON (default .venv/bin/python when present, else python3) selects the interpreter.
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0
out=out/gpu_check
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --out) out=${2:?--out needs a folder}; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument '$1' (use --quick, --out DIR)" >&2; exit 2 ;;
  esac
  shift
done

if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
mkdir -p "$out"
report="$out/report.md"
status=0

cuda=$("$PYTHON" -c "import torch; print(int(torch.cuda.is_available() and torch.cuda.device_count() > 0))" 2>/dev/null || echo 0)
if [ "$cuda" = 1 ]; then
  dev=cuda:0
  gpu=$("$PYTHON" -c "import torch; print(torch.cuda.get_device_name(0))")
else
  dev=cpu
  gpu="none"
  quick=1            # the CPU fallback only exercises the script
fi

{
  echo "# semlink GPU check"
  echo
  echo "- date (UTC): $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- git revision: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "- python: $("$PYTHON" -c 'import sys; print(sys.version.split()[0])'), torch: $("$PYTHON" -c 'import torch; print(torch.__version__, "CUDA build", torch.version.cuda)')"
  echo "- GPU: $gpu; device checked: **$dev**; mode: $([ $quick = 1 ] && echo quick || echo full)"
  if [ "$cuda" != 1 ]; then
    echo
    echo "**No CUDA device is visible here: the CUDA checks did not run.** The steps below ran"
    echo "on the CPU in quick form, only to exercise this script; run it on a GPU machine."
  fi
  echo
  echo "| step | command | exit | wall [s] |"
  echo "|---|---|---|---|"
} > "$report"

# run STEP_NAME CMD...: log to $out/STEP_NAME.log, append a table row
run() {
  local name=$1; shift
  local t0 t1 rc
  t0=$(date +%s.%N)
  "$@" > "$out/$name.log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  [ $rc -ne 0 ] && status=1
  printf '| %s | `%s` | %s | %.1f |\n' "$name" "$*" "$rc" "$(echo "$t1 - $t0" | bc)" >> "$report"
  echo "gpu_check: $name exit $rc ($out/$name.log)" >&2
}

run environment "$PYTHON" -m semlink.links.cli info
command -v nvidia-smi > /dev/null && nvidia-smi >> "$out/environment.log" 2>&1

if [ $quick = 1 ]; then
  tests=(tests/test_device_guard.py tests/test_modulation.py)
else
  tests=(tests)
fi
run tests env SEMLINK_TEST_DEVICE="$dev" "$PYTHON" -m pytest -q -p no:cacheprovider "${tests[@]}"

qs_dir="$out/quickstart"
rm -rf "$qs_dir"
if [ $quick = 1 ]; then
  # two SNR points of the quick start, same codecs and channels
  "$PYTHON" - "$qs_dir/quickstart_quick.yaml" <<'EOF'
import sys, yaml, pathlib
raw = yaml.safe_load(open("scenarios/quickstart.yaml"))
raw["snr_db"] = [10]                     # one point, one image; same codecs and channels
raw["dataset"]["max_images"] = 1
out = pathlib.Path(sys.argv[1]); out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(yaml.safe_dump(raw, sort_keys=False))
EOF
  scenario="$qs_dir/quickstart_quick.yaml"
else
  scenario=scenarios/quickstart.yaml
fi
run quickstart "$PYTHON" -m semlink.links.cli run "$scenario" --out "$qs_dir/run" --device "$dev" --no-plot

if [ $quick = 1 ]; then
  phy=(--blocks 200 --repeats 1)
  ldpc=(--blocks 100 --repeats 1 --ebno-db 2.5)
else
  phy=(--repeats 3)
  ldpc=(--repeats 3 --ebno-db 1.0,2.5,4.0)
fi
# with and without torch.compile (--compile runs both); on the CPU fallback compiling is
# minutes of work that checks nothing about a GPU: without it there
compile=(--compile)
[ "$cuda" = 1 ] || compile=()
run phy_throughput "$PYTHON" benchmarks/phy_throughput.py --device "$dev" "${compile[@]}" "${phy[@]}"
run ldpc_early_termination "$PYTHON" benchmarks/ldpc_early_termination.py --device "$dev" "${compile[@]}" "${ldpc[@]}"

{
  echo
  echo "## Test summary"
  echo
  echo '```'
  tail -n 3 "$out/tests.log"
  echo '```'
  echo
  echo "## Quick start"
  echo
  echo '```'
  grep -E "point\(s\) run|results:" "$out/quickstart.log" || tail -n 5 "$out/quickstart.log"
  echo '```'
  for b in phy_throughput ldpc_early_termination; do
    echo
    echo "## $b"
    echo
    echo '```'
    tail -n 20 "$out/$b.log"
    echo '```'
  done
} >> "$report"

echo "gpu_check: report in $report" >&2
exit $status
