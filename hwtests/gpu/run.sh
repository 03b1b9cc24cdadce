#!/bin/sh
# Runs the GPU tests on a box with the NVIDIA driver, from what bundle.sh packed.
# Usage (from the repository root): hwtests/gpu/run.sh [BUNDLE_DIR], default .hw
set -eu
hw=$(cd "${1:-.hw}" && pwd)
export LD_LIBRARY_PATH="$hw/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export GST_PLUGIN_SYSTEM_PATH="$hw/plugins" GST_PLUGIN_PATH=""
export GST_PLUGIN_SCANNER="$hw/gst-plugin-scanner"
GST_REGISTRY="$(mktemp -d)/registry.bin"
export GST_REGISTRY
nvidia-smi -L
"$hw/gst-inspect-1.0" nvh264dec | grep -E '^ +(Long-name|Description)' || {
    echo "run: GStreamer's nvcodec plug-in found no NVDEC here" >&2
    exit 1
}
keep="$(mktemp -d)/cam.mp4"
PISTE_HWTEST_GPU=1 PISTE_HWTEST_KEEP="$keep" "$hw/nvdec" --nocapture --test-threads=1
if env -u LD_LIBRARY_PATH python3 -c "import cv2" 2>/dev/null; then
    env -u LD_LIBRARY_PATH python3 "$(dirname "$0")/baseline.py" "$keep"
fi
