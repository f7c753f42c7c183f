#!/bin/sh
# `make demo`: the main job. It grows with the library: for now it shows the
# build and what this machine gives libmlm (CPU features, GEMM kernels).
set -eu
bin=${1:-bin}
echo "== libmlm demo"
"$bin/mlm" version --verbose
