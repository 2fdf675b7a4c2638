#!/usr/bin/env bash
# The whole GPU check of the Triton contrastive-loss kernels, one command, about 5 minutes on an H200:
#     bash benchmarks/gpu_check.sh            # log: ${OUT:-benchmarks}/gpu_check.log
#     bash benchmarks/gpu_check.sh --tiny     # CPU smoke run under Triton's interpreter (< 1 min)
# Runs from the checkout with PYTHONPATH only (no pip install, no internet): the repository root and the vendored
# Inf-CL wheel (benchmarks/vendor/, imported from the zip). Steps, each time-limited (420 s in all):
#   1. correctness (<= 150 s): confident regime (p_ii ~ 0.97 / 0.9995, bf16 + fp16, CLIP + SigLIP, both
#      backwards) against fp64, and one autotuned bf16 case at N = 65,536 against the fp32 chunked loss;
#   2. benchmark (<= 270 s): N in {65,536, 262,144}, D = 768, bf16: kernel, Inf-CL, chunked, torch.compile,
#      the measured bf16 matmul peak; one VERDICT line per target.
# Exit status: 0 only if every step ran and passed.
set -uo pipefail
cd "$(dirname "$0")/.."
WHEEL="$PWD/benchmarks/vendor/inf_cl-1.2.1-py3-none-any.whl"
export PYTHONPATH="$PWD:$WHEEL${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
PY="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"
if [ "${1:-}" = "--tiny" ]; then
  export TRITON_INTERPRET=1
  LOG="${TMPDIR:-/tmp}/gpu_check_tiny.log"
  ARGS=(--device cpu --tiny)
  LIMITS=(150 120)  # generous: wall time on a loaded shared CPU is several times the CPU time
else
  unset TRITON_INTERPRET
  mkdir -p "${OUT:-benchmarks}"
  LOG="${OUT:-benchmarks}/gpu_check.log"
  ARGS=(--device cuda)
  LIMITS=(150 270)
fi
: > "$LOG"
status=0
step() {  # step LIMIT_S ARGS...: run the GPU script under a time limit, log every line as it comes
  local limit=$1
  shift
  timeout --kill-after=10 "$limit" "$PY" benchmarks/contrastive_loss_gpu.py "${ARGS[@]}" "$@" 2>&1 |
    grep --line-buffered -v "DeprecationWarning\|scope.set_attr\|warnings.warn" | tee -a "$LOG"
  local rc=${PIPESTATUS[0]}
  [ "$rc" -eq 124 ] && echo "TIMEOUT after ${limit} s" | tee -a "$LOG"
  echo "step $* exit status $rc" | tee -a "$LOG"
  [ "$rc" -eq 0 ] || status=1
}
{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  "$PY" -c "import torch, triton, inf_cl; print('torch', torch.__version__, 'triton', triton.__version__,
      'inf-cl from', inf_cl.__file__)" 2>&1 | tail -1
  if [ "${1:-}" != "--tiny" ]; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  fi
} 2>&1 | tee -a "$LOG"
step "${LIMITS[0]}" --check-only
step "${LIMITS[1]}" --bench-only
echo "gpu_check: $([ $status -eq 0 ] && echo PASS || echo FAIL) (log: $LOG)" | tee -a "$LOG"
exit $status
