#!/usr/bin/env bash
# The GPU run of issue #8, prepared for a machine without network: SD 1.5-shaped random models (fused attention) at
# 512² on onnxruntime's CUDA provider, fp16 then fp32: seconds per UNet step (batch 2) and per 20-step image.
#   bash server/src/bench/gpu-run.sh [results-folder]      (from anywhere; default folder: $OUT, else bench-results)
# Needs: nvidia-smi; Node.js 20.19+ and node_modules as installed here; onnxruntime-node's CUDA libraries, which
# `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci` fetches on a machine with network, and the CUDA 12 / cuDNN 9 runtime
# libraries they load (system ones, or pip's nvidia-* packages, found below). Writes ~6 GB of models to
# $EASEL_BENCH_CACHE (default /tmp/easel-bench) once; about 5 minutes on a fast machine.
set -euo pipefail
cd "$(dirname "$0")/../../.."
results=${1:-${OUT:-bench-results}}
mkdir -p "$results"
log="$results/gpu-bench.txt"
: >"$log"
note() { printf '%s\n' "$*" | tee -a "$log"; }

command -v nvidia-smi >/dev/null || { note "nvidia-smi not found: no NVIDIA driver on this machine."; exit 1; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$log"

# shellcheck source=installer/node-runtime.sh
source installer/node-runtime.sh
find_node || { note "Node.js 20.19+ not found (./start.sh fetches one into .runtime/ where there is network)."; exit 1; }

ort_bin=node_modules/onnxruntime-node/bin/napi-v6/linux/x64
if [[ ! -f $ort_bin/libonnxruntime_providers_cuda.so ]]; then
  note "onnxruntime-node's CUDA libraries are missing from $ort_bin. Install them where there is network" \
    "(ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci) and copy libonnxruntime_providers_{cuda,shared}.so here."
  exit 1
fi
# CUDA runtime libraries from pip's nvidia-* packages (PyTorch installs them), when the loader does not know them.
if nvidia_libs=$(python3 -c 'import nvidia, os; print(":".join(os.path.join(p, d, "lib") for p in nvidia.__path__ for d in sorted(os.listdir(p)) if os.path.isdir(os.path.join(p, d, "lib"))))' 2>/dev/null); then
  export LD_LIBRARY_PATH="${nvidia_libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
missing=$(ldd "$ort_bin/libonnxruntime_providers_cuda.so" | awk '/not found/ {print $1}' | tr '\n' ' ')
[[ -z $missing ]] || note "warning: the CUDA provider cannot find: $missing(onnxruntime-node 1.30 is built for CUDA 12 and cuDNN 9)"

# The same check the server makes at start: a tiny session must really run on CUDA.
"$NODE" --import tsx --input-type=module -e "
  const { chooseExecutionProvider } = await import('./server/src/pipeline/onnx/execution-provider.ts');
  const { device } = await chooseExecutionProvider();
  console.log(device.reason);
  if (device.id !== 'cuda') process.exit(1);" 2>&1 | tee -a "$log"

export EASEL_BENCH_CACHE=${EASEL_BENCH_CACHE:-/tmp/easel-bench}
for precision in --fp16 --fp32; do
  note "" "== compute, CUDA, ${precision#--}, SD 1.5-shaped (fused attention), 512², 20 steps"
  "$NODE" --import tsx server/src/bench/bench-cli.ts compute --provider cuda ${precision/--fp32/} \
    --models sd15-fused --sizes 512 --steps 20 --no-write 2>&1 | tee -a "$log"
done
note "" "Results are in $log; paste the tables into docs/BENCHMARKS.md's GPU section."
