#!/usr/bin/env bash
# GPU check of the Triton contrastive-loss kernels (issue 6): correctness at real sizes, then the benchmarks.
# Run from the repository root on a CUDA machine; every step is time-limited, 9.7 minutes at most in all:
#     bash benchmarks/gpu_check.sh            # writes the log to ${OUT:-benchmarks}/gpu_check.log
#     STEPS="check bench" bash benchmarks/gpu_check.sh    # a subset of: check bench losses
# CPU smoke test (tiny sizes, Triton's interpreter):  bash benchmarks/gpu_check.sh --tiny
set -uo pipefail
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
LOG="${OUT:-benchmarks}/gpu_check.log"
PY="${PYTHON:-python3}"
STEPS="${STEPS:-check bench losses}"
if [ "${1:-}" = "--tiny" ]; then
  export TRITON_INTERPRET=1
  LOG="${TMPDIR:-/tmp}/gpu_check_tiny.log"
  ARGS=(--device cpu --tiny --skip compiled)
  LOSSES_ARGS=(--device cpu --n 40 --d 24 --dtype fp32 --impls reference,chunked,triton --repeats 1)
else
  export TRITON_INTERPRET=0
  ARGS=(--device cuda)
  LOSSES_ARGS=(--device cuda --n 65536 --d 768 --dtype bf16 --impls reference,chunked,triton,infcl)
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git rev-parse --short HEAD 2>/dev/null) steps: $STEPS"
  "$PY" -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
  if [[ " $STEPS " == *" check "* ]]; then
    # 1. correctness against the fp32 reference with IEEE matmuls (one block config: fewer compiles)
    MMTUTORIAL_TRITON_AUTOTUNE=0 timeout 180 "$PY" benchmarks/contrastive_loss_gpu.py "${ARGS[@]}" --check-only
    echo "check exit status $?"
  fi
  if [[ " $STEPS " == *" bench "* ]]; then
    # 2. one-process benchmark, bf16, autotuned kernel: triton / naive / compiled / chunked / inf-cl
    timeout 300 "$PY" benchmarks/contrastive_loss_gpu.py "${ARGS[@]}" --no-check
    echo "benchmark exit status $?"
  fi
  if [[ " $STEPS " == *" losses "* ]]; then
    # 3. the losses issue's benchmark (a fresh process per implementation) at the headline size
    timeout 100 "$PY" benchmarks/contrastive_loss.py "${LOSSES_ARGS[@]}"
    echo "contrastive_loss.py exit status $?"
  fi
} 2>&1 | grep -v "DeprecationWarning\|scope.set_attr" | tee "$LOG"
