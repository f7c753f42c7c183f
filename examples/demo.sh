#!/bin/sh
# `make demo`: the main job. The seed tutorial's two flows in C, public API
# only, on corpora the programs write themselves: no network, and nothing
# written outside build/demo.
#   1. masked LM (examples/train_mlm.c): ELI5-style questions, a BERT from
#      scratch, fill-mask;
#   2. summarization (examples/train_summarization.c): news items, a T5 from
#      scratch, ROUGE each epoch, the summarization pipeline.
# Each exits 3 when its model did not learn (a wrong capital; held-out
# ROUGE-L below its threshold), which stops the demo with that status.
# Usage: demo.sh BINDIR [EPOCHS]   (EPOCHS: the masked-LM half's)
set -eu
bin=${1:-bin}
epochs=${2:-${DEMO_EPOCHS:-20}}
out=build/demo
echo "== libmlm demo"
"$bin/mlm" version
rm -rf "$out"
mkdir -p "$out"
start=$(date +%s)
echo "== part 1: masked language modeling (train_mlm)"
"$bin/examples/train_mlm" --epochs "$epochs" --threads 2 "$out"
mid=$(date +%s)
echo "== part 2: summarization (train_summarization)"
"$bin/examples/train_summarization" "$out"
end=$(date +%s)
echo "== demo finished in $((end - start)) s (masked LM $((mid - start)) s, summarization" \
     "$((end - mid)) s); corpora and models in $out"
echo "== load average at the end (the machine may be shared):$(uptime | sed 's/.*load average://')"
