#!/usr/bin/env bash
# The one GPU check of physdiff: the CUDA-marked tests (tests/test_cuda.py: solver steps, operators,
# a training step with and without bf16 autocast, resume with the CUDA RNG state, CPU vs GPU in
# float64, device "auto", nccl with two GPUs, the command line on CUDA) and the GPU variants of the
# benchmarks (ConvLSTM, Navier-Stokes, PeRCNN/PIMRL, the minimal ConvRNNs with the notebook's inference
# comparison), then one table. Under 9 minutes on one GPU: every step has a time limit and the limits
# add up to 8 minutes.
#
# Usage (from anywhere):
#   benchmarks/gpu_check.sh               # needs CUDA; without it the tests skip and the benchmarks are not run
#   benchmarks/gpu_check.sh --cpu-smoke   # no GPU: run the same steps on the CPU at tiny sizes (checks the script)
#
# Exit status: 0 when every step that ran passed (skipped steps included), 1 otherwise.
# Each step's full output goes to $GPU_CHECK_LOGS (default: a new temporary directory).
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
LOGS=${GPU_CHECK_LOGS:-$(mktemp -d -t physdiff-gpu-check.XXXXXX)}
mkdir -p "$LOGS"
SMOKE=0
[ "${1:-}" = "--cpu-smoke" ] && SMOKE=1

CUDA=$("$PY" -c 'import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)' 2>/dev/null || echo 0)
DEVICE_LINE=$("$PY" -c 'import torch; print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, " + (", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) if torch.cuda.is_available() else "no CUDA device"))')
if [ "$CUDA" -gt 0 ]; then
    DEVICE=cuda
elif [ "$SMOKE" = 1 ]; then
    DEVICE=cpu
else
    DEVICE=none
fi

NAMES=(); STATUS=(); SECONDS_=(); SUMMARY=()

# step NAME LIMIT_S COMMAND...: run COMMAND with a time limit, log its output, record one table row.
step() {
    local name=$1 limit=$2; shift 2
    local log="$LOGS/${name// /_}.log" start end code
    start=$(date +%s)
    timeout "$limit" "$@" >"$log" 2>&1
    code=$?
    end=$(date +%s)
    NAMES+=("$name")
    SECONDS_+=("$((end - start))")
    if [ $code -eq 0 ]; then STATUS+=("ok"); elif [ $code -eq 124 ]; then STATUS+=("TIMEOUT ${limit}s"); else STATUS+=("FAILED ($code)"); fi
    # The last line that says something: pytest's summary, or a benchmark's last table row.
    SUMMARY+=("$(grep -v -E '^\s*$|^load average|^SKIPPED|[Ww]arning' "$log" | tail -n 1 | cut -c1-90)")
}

skip() {
    NAMES+=("$1"); STATUS+=("skipped"); SECONDS_+=("-"); SUMMARY+=("$2")
}

if [ "$DEVICE" = cpu ]; then
    step "cuda tests (on cpu)" 300 env PHYSDIFF_TEST_DEVICE=cpu "$PY" -m pytest -q -p no:cacheprovider -m cuda tests
else
    step "cuda tests" 200 "$PY" -m pytest -q -p no:cacheprovider -m cuda tests -rs
fi

if [ "$DEVICE" = none ]; then
    for name in "convlstm" "navier-stokes" "percnn-pimrl" "convrnn"; do skip "$name" "no CUDA device (try --cpu-smoke)"; done
elif [ "$DEVICE" = cpu ]; then
    step "convlstm" 120 "$PY" benchmarks/convlstm.py --device cpu --threads 1 --size 16 --batch 2 --hidden 4 \
        --steps 3 --repeat 0.1 --runs 1 --memory-steps 10 --memory-size 8
    step "navier-stokes" 120 "$PY" benchmarks/navier_stokes.py --device cpu --threads 1 --repeat 0.05 --fused 2
    step "percnn-pimrl" 120 "$PY" benchmarks/percnn_pimrl.py --device cpu --threads 1 --grid 12 --rollout 20
    step "convrnn" 120 "$PY" benchmarks/convrnn.py --device cpu --threads 1 --sizes 4 --batch 1 --rounds 1 \
        --skip-memory --inference --inference-sizes 4
else
    step "convlstm" 80 "$PY" benchmarks/convlstm.py --device cuda --runs 1 --repeat 0.5
    step "navier-stokes" 50 "$PY" benchmarks/navier_stokes.py --device cuda --repeat 0.5
    step "percnn-pimrl" 90 "$PY" benchmarks/percnn_pimrl.py --device cuda --grid 48 --rollout 300
    step "convrnn" 60 "$PY" benchmarks/convrnn.py --device cuda --sizes 16 64 --rounds 3 --inference
fi

echo
echo "physdiff GPU check: $DEVICE_LINE; device used: $DEVICE; logs in $LOGS"
printf '%-22s %-14s %6s  %s\n' "step" "status" "s" "last line of its output"
printf '%-22s %-14s %6s  %s\n' "----" "------" "-" "-----------------------"
failed=0
for i in "${!NAMES[@]}"; do
    printf '%-22s %-14s %6s  %s\n' "${NAMES[$i]}" "${STATUS[$i]}" "${SECONDS_[$i]}" "${SUMMARY[$i]}"
    case "${STATUS[$i]}" in ok|skipped) ;; *) failed=1 ;; esac
done
exit $failed
