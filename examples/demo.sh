#!/bin/sh
# `make demo`: the main job. The seed tutorial's whole masked-LM flow in C
# (examples/train_mlm.c, public API only) on an ELI5-style corpus it writes
# itself: no network, and nothing written outside build/demo.
# Usage: demo.sh BINDIR [EPOCHS]
set -eu
bin=${1:-bin}
epochs=${2:-${DEMO_EPOCHS:-20}}
out=build/demo
echo "== libmlm demo"
"$bin/mlm" version
rm -rf "$out"
mkdir -p "$out"
start=$(date +%s)
"$bin/examples/train_mlm" --epochs "$epochs" --threads 2 "$out"
echo "== demo finished in $(( $(date +%s) - start )) s; corpus and model in $out"
