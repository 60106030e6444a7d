#!/usr/bin/env bash
# The GPU check (issue 19): everything a GPU user needs to know works, in one command,
# written to one short markdown report.
#
#   bash scripts/gpu_check.sh                 # on a CUDA machine: the full check
#   bash scripts/gpu_check.sh --quick         # minutes: a few test files, small benchmarks
#   bash scripts/gpu_check.sh --out DIR       # report and logs in DIR (default out/gpu_check)
#   bash scripts/gpu_check.sh --only tests,quickstart   # some steps only (names below)
#   bash scripts/gpu_check.sh --jobs 8        # the suite in 8 pytest-xdist workers
#   bash scripts/gpu_check.sh --step-timeout 300        # end any step after 300 s
#
# Steps (each logged to DIR/<step>.log, its exit status and wall time in DIR/report.md).
# The benchmarks run before the suite, so that their timings see an otherwise idle GPU.
#   1. environment      semlink info (torch, CUDA build, visible GPUs), nvidia-smi
#   2. quickstart       scenarios/quickstart.yaml with --device cuda (--quick: one SNR point,
#                       one image)
#   3. phy_throughput   benchmarks/phy_throughput.py --device cuda:0, with and without
#                       torch.compile (--compile runs both; not on the CPU fallback)
#   4. per_item_draws   benchmarks/per_item_draws.py --device cuda:0: Sionna's AWGN against the
#                       counter-based draws, fused Triton kernel and torch kernels
#   5. ldpc_early_termination  benchmarks/ldpc_early_termination.py --device cuda:0 --compile
#   6. ldpc_backends    benchmarks/ldpc_backends.py --device cuda:0: Sionna's decoder against
#                       the Triton kernels (issue 23), throughput and agreement
#   7. multisc_stages   benchmarks/multisc_stages.py at 512 x 512 with real-size stand-ins
#                       (issue 20: seconds per image and peak memory per stage)
#   8. tests            the whole suite with SEMLINK_TEST_DEVICE=cuda (--quick: the device
#                       guard and modulation tests); --jobs N (default: 8 workers where
#                       pytest-xdist is installed, else one process)
#
# Without a CUDA device it degrades clearly: the report says so, the CUDA steps are
# recorded as "skipped (no CUDA device)", and the same steps run on the CPU in quick form
# so that the script itself is exercised.  Exit status: 0 when every step that ran passed.
# PYTHON (default .venv/bin/python when present, else python3) selects the interpreter.
set -uo pipefail
cd "$(dirname "$0")/.."

STEPS="environment quickstart phy_throughput per_item_draws ldpc_early_termination ldpc_backends multisc_stages tests"
quick=0
out=out/gpu_check
only=""
jobs=""
step_timeout=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --out) out=${2:?--out needs a folder}; shift ;;
    --only) only=${2:?--only needs a comma list of steps: ${STEPS// /,}}; shift ;;
    --jobs) jobs=${2:?--jobs needs a number of pytest workers}; shift ;;
    --step-timeout) step_timeout=${2:?--step-timeout needs seconds}; shift ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument '$1' (use --quick, --out DIR, --only STEPS, --jobs N, --step-timeout S)" >&2; exit 2 ;;
  esac
  shift
done
for s in ${only//,/ }; do
  case " $STEPS " in
    *" $s "*) ;;
    *) echo "gpu_check.sh: --only: unknown step '$s'; the steps are: ${STEPS// /,}" >&2; exit 2 ;;
  esac
done
case "$jobs" in ''|[0-9]|[0-9][0-9]) ;; *) echo "gpu_check.sh: --jobs '$jobs' is not a number of workers (e.g. --jobs 8)" >&2; exit 2 ;; esac
case "$step_timeout" in ''|*[!0-9]*) [ -z "$step_timeout" ] || { echo "gpu_check.sh: --step-timeout '$step_timeout' is not a whole number of seconds (e.g. --step-timeout 300)" >&2; exit 2; } ;; esac
# wanted STEP: is the step selected (all are, without --only)?
wanted() { [ -z "$only" ] && return 0; case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

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

# run STEP_NAME CMD...: log to $out/STEP_NAME.log, append a table row (exit 124: the step
# ran past --step-timeout and was ended)
run() {
  local name=$1; shift
  local t0 t1 rc
  wanted "$name" || return 0
  t0=$(date +%s.%N)
  if [ -n "$step_timeout" ]; then
    timeout -k 10 "$step_timeout" "$@" > "$out/$name.log" 2>&1
  else
    "$@" > "$out/$name.log" 2>&1
  fi
  rc=$?
  t1=$(date +%s.%N)
  [ $rc -ne 0 ] && status=1
  printf '| %s | `%s` | %s | %.1f |\n' "$name" "$*" "$rc" "$(awk "BEGIN{print $t1 - $t0}")" >> "$report"
  echo "gpu_check: $name exit $rc ($out/$name.log)" >&2
}

run environment "$PYTHON" -m semlink.links.cli info
wanted environment && command -v nvidia-smi > /dev/null && nvidia-smi >> "$out/environment.log" 2>&1

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
draws=(--repeats 5)
[ $quick = 1 ] && draws=(--blocks 200 --repeats 1)
run per_item_draws "$PYTHON" benchmarks/per_item_draws.py --device "$dev" "${draws[@]}"
run ldpc_early_termination "$PYTHON" benchmarks/ldpc_early_termination.py --device "$dev" "${compile[@]}" "${ldpc[@]}"

if [ $quick = 1 ]; then
  backends=(--codes 256x512:qpsk --blocks 50 --repeats 1 --agreement-blocks 50)
  stages=(--scale small --size 64 --steps 2 --images 2 --repeats 1 --schemes multisc)
else
  backends=(--repeats 3)
  stages=(--scale full --size 512 --steps 20 --images 8 --repeats 1)
fi
[ "$cuda" = 1 ] || backends+=(--decoders "sionna full,ldpc serial")   # Triton needs CUDA
run ldpc_backends "$PYTHON" benchmarks/ldpc_backends.py --device "$dev" "${backends[@]}"
run multisc_stages "$PYTHON" benchmarks/multisc_stages.py --device "$dev" "${stages[@]}"

if [ $quick = 1 ]; then
  tests=(tests/test_device_guard.py tests/test_modulation.py)
else
  tests=(tests)
fi
if [ -z "$jobs" ]; then
  jobs=1
  [ $quick = 0 ] && "$PYTHON" -c "import xdist" 2>/dev/null && jobs=8
fi
xdist=()
[ "$jobs" -gt 1 ] && xdist=(-n "$jobs")
run tests env SEMLINK_TEST_DEVICE="$dev" "$PYTHON" -m pytest -q -p no:cacheprovider "${xdist[@]}" "${tests[@]}"


{
  echo
  if [ -f "$out/tests.log" ]; then
    echo "## Test summary"
    echo
    echo '~~~~'
    grep -E "^(FAILED|ERROR) " "$out/tests.log" | head -n 60
    tail -n 3 "$out/tests.log"
    echo '~~~~'
  fi
  if [ -f "$out/quickstart.log" ]; then
    echo
    echo "## Quick start"
    echo
    echo '~~~~'
    grep -E "point\(s\) run|results:" "$out/quickstart.log" || tail -n 5 "$out/quickstart.log"
    echo '~~~~'
  fi
  for b in phy_throughput per_item_draws ldpc_early_termination ldpc_backends multisc_stages; do
    [ -f "$out/$b.log" ] || continue
    echo
    echo "## $b"
    echo
    echo '~~~~'
    tail -n 40 "$out/$b.log"
    echo '~~~~'
  done
} >> "$report"

echo "gpu_check: report in $report" >&2
exit $status
