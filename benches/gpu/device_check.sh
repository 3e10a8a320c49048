#!/usr/bin/env bash
# The GPU checks of issue 19, for a machine with a CUDA GPU, torch, triton, JAX, CuPy and
# transformers (the device image). From the repository root, with the native module built here
# (python/credo/_credo.abi3.so, release profile) and the wheels of benches/gpu/fetch_wheels.sh in
# .whl/, both carried. Runs, within about 6 minutes, writing logs to $OUT:
#   1. tests/test_array_api.py with the CUDA cases (torch CUDA through the fused Triton kernel,
#      CuPy, JAX on the GPU) and torch on the CPU;
#   2. examples/gpu_generate.py (a randomly initialised Llama, generate() scored on the GPU);
#   3. benches/gpu/bench_gpu.py (the table, [512, 128256] bf16 and f32).
set -uo pipefail
OUT=${OUT:-/tmp/credo-device-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 CREDO_DEVICE_TESTS=1 XLA_PYTHON_CLIENT_PREALLOCATE=false  # JAX shares the GPU with torch
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/python${PYTHONPATH:+:$PYTHONPATH}
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; python3 -c "
import sys, numpy, torch, triton, jax, cupy, transformers, array_api_compat, credo
print(sys.version.split()[0], 'numpy', numpy.__version__, 'torch', torch.__version__, 'triton', triton.__version__,
      'jax', jax.__version__, jax.devices(), 'cupy', cupy.__version__, 'transformers', transformers.__version__,
      'array_api_compat', array_api_compat.__version__)"; } 2>&1 | tee "$OUT/env.log"
status=0
timeout 170 python3 -m pytest tests/test_array_api.py -q -p no:cacheprovider --maxfail=10 \
  -k "cuda or cupy or jax-gpu or triton or torch or import" 2>&1 | tee "$OUT/tests.log" || status=1
timeout 50 python3 examples/gpu_generate.py 2>&1 | tee "$OUT/example.log" || status=1
timeout 150 python3 benches/gpu/bench_gpu.py --rounds 10 2>&1 | tee "$OUT/bench.log" || status=1
echo "device_check: exit $status" | tee -a "$OUT/tests.log"
exit $status
