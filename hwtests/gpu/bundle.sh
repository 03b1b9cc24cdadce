#!/bin/sh
# Packs what hwtests/gpu/run.sh needs on a GPU box that has the NVIDIA driver but no
# GStreamer: the GPU tests built here, and this machine's GStreamer (Debian 12) with the
# plug-ins they use and every library those need, glibc and the C++ runtime excepted (the
# box has its own, newer). Usage: hwtests/gpu/bundle.sh [OUT_DIR], default .hw
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/.hw}
gst=/usr/lib/x86_64-linux-gnu/gstreamer-1.0
scanner=/usr/lib/x86_64-linux-gnu/gstreamer1.0/gstreamer-1.0/gst-plugin-scanner
plugins="coreelements app typefindfunctions videoconvertscale x264 isomp4 videoparsersbad nvcodec"

cd "$root"
test=$(cargo test --release -p piste-hwtests --no-run --message-format=json 2>/dev/null |
    grep -o '"executable":"[^"]*/nvdec-[^"]*"' | cut -d'"' -f4)
[ -x "$test" ] || { echo "bundle: the nvdec test did not build" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/lib" "$out/plugins"
cp "$test" "$out/nvdec"
cp "$scanner" /usr/bin/gst-inspect-1.0 /usr/bin/gst-launch-1.0 "$out/"
for p in $plugins; do
    cp "$gst/libgst$p.so" "$out/plugins/"
done
for f in "$out"/nvdec "$out"/gst-* "$out"/plugins/*.so; do
    ldd "$f" | awk '/=> \// { print $3 }'
done | sort -u |
    grep -v -E '/(libc|libm|libpthread|libdl|librt|ld-linux-x86-64|libstdc\+\+|libgcc_s)\.so' |
    while read -r lib; do cp -L "$lib" "$out/lib/"; done
echo "bundle: $(du -sh "$out" | cut -f1) in $out"
