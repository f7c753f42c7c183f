#!/bin/sh
# `make demo`: the main job. The whole masked-LM flow in C (examples/
# train_mlm.c, public API only) on a corpus it generates: no network, and
# nothing written outside build/demo. Usage: demo.sh BINDIR [EPOCHS]
set -eu
bin=${1:-bin}
epochs=${2:-${DEMO_EPOCHS:-250}}
out=build/demo/model
echo "== libmlm demo"
"$bin/mlm" version
rm -rf "$out"
mkdir -p build/demo
start=$(date +%s)
"$bin/examples/train_mlm" "$out" "$epochs" 2
echo "== demo finished in $(( $(date +%s) - start )) s; model in $out"
