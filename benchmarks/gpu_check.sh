#!/usr/bin/env bash
# GPU check of the Triton contrastive-loss kernels (issue 6): correctness at real sizes, then the benchmark.
# Run from the repository root on a CUDA machine (at most 9.5 minutes: both steps are time-limited):
#     bash benchmarks/gpu_check.sh            # writes the log to ${OUT:-benchmarks}/gpu_check.log
# CPU smoke test (tiny sizes, Triton's interpreter):  bash benchmarks/gpu_check.sh --tiny
set -uo pipefail
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
LOG="${OUT:-benchmarks}/gpu_check.log"
[ "${1:-}" = "--tiny" ] && LOG="${TMPDIR:-/tmp}/gpu_check_tiny.log"
PY="${PYTHON:-python3}"
if [ "${1:-}" = "--tiny" ]; then
  export TRITON_INTERPRET=1
  ARGS=(--device cpu --tiny --skip compiled)
else
  export TRITON_INTERPRET=0
  ARGS=(--device cuda)
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git rev-parse --short HEAD 2>/dev/null) ${ARGS[*]}"
  "$PY" -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
  # 1. correctness against the fp32 reference with IEEE matmuls (one block config: fewer compiles)
  MMTUTORIAL_TRITON_AUTOTUNE=0 timeout 230 "$PY" benchmarks/contrastive_loss_gpu.py "${ARGS[@]}" --check-only
  echo "check exit status $?"
  # 2. benchmark, bf16, autotuned kernel: naive / compiled / chunked / triton / inf-cl side by side
  timeout 330 "$PY" benchmarks/contrastive_loss_gpu.py "${ARGS[@]}" --no-check
  echo "benchmark exit status $?"
} 2>&1 | grep -v "DeprecationWarning\|scope.set_attr" | tee "$LOG"
