#!/bin/sh
# The model benchmark in one run (make bench-model): libmlm vs PyTorch (the
# reference model of tests/reference/hf_models.py, best BLIS configuration
# per thread count) vs ONNX Runtime (onnxruntime-node, same threads) on a
# distilroberta-base-shaped RoBERTa, with 1 and 2 threads:
#   fill-mask latency for one 12-token sentence, 8x128 forward throughput
#   (all logits), load time from the page cache, peak RSS.
# Prints one table with ratios (bench/model_bench_report.py). Never part of
# make check. Needs /usr/bin/python3 with Debian's torch 1.13, node + npm.
#
# Environment: MLM_BENCH_MODEL (checkpoint folder, made if absent; default
# /tmp/mlm-bench-droberta), REPS (default 9), THREADS (default "1 2"),
# TORCH_ARCHS (default "zen3 haswell skx generic": names, mapped to the
# numeric ids BLIS 0.9 reads from BLIS_ARCH_TYPE), SKIP_PEERS=1.
set -eu
cd "$(dirname "$0")/.."
MODEL=${MLM_BENCH_MODEL:-/tmp/mlm-bench-droberta}
REPS=${REPS:-9}
THREADS=${THREADS:-"1 2"}
TORCH_ARCHS=${TORCH_ARCHS:-"zen3 haswell skx generic"}
PY=/usr/bin/python3
OUT=$(mktemp -d /tmp/mlm-bench-model.XXXXXX)

if [ ! -f "$MODEL/model.safetensors" ]; then
    echo "== making $MODEL (distilroberta-shaped, random weights)"
    $PY tests/reference/make_checkpoints.py distilroberta-shaped "$MODEL"
fi
[ -f "$MODEL/tokenizer.json" ] || cp ../shared/data/tokenizers/roberta-base/tokenizer.json "$MODEL/"
[ -f "$MODEL/tokenizer.json" ] || { echo "no tokenizer.json in $MODEL"; exit 1; }
if [ -z "${SKIP_PEERS:-}" ]; then
    if [ ! -f "$MODEL-masked.onnx" ] || [ ! -f "$MODEL-full.onnx" ] ||
       [ "$MODEL-full.onnx" -ot "$MODEL/model.safetensors" ]; then
        echo "== exporting $MODEL-{full,masked}.onnx (torch.onnx.export, opset 14)"
        $PY bench/torch_peer.py "$MODEL" --export "$MODEL" 2>&1 | grep -v Warning || true
    fi
    [ -d bench/node_modules/onnxruntime-node ] || (cd bench && npm install --no-audit --no-fund)
fi
# Page cache: every figure below is "from the page cache".
cat "$MODEL"/model.safetensors "$MODEL"/tokenizer.json > /dev/null
[ -z "${SKIP_PEERS:-}" ] && cat "$MODEL"-*.onnx > /dev/null

echo "== libmlm"
uptime > "$OUT/load_before"
build/bench/fill_mask_bench "$MODEL" --json --reps "$REPS" --threads "$(echo $THREADS | tr ' ' ,)" \
    > "$OUT/libmlm.jsonl"
IDS=$(head -1 "$OUT/libmlm.jsonl" | $PY -c 'import json,sys; print(",".join(map(str, json.load(sys.stdin)["ids"])))')
POS=$(head -1 "$OUT/libmlm.jsonl" | $PY -c 'import json,sys; print(json.load(sys.stdin)["mask_pos"])')

if [ -z "${SKIP_PEERS:-}" ]; then
    # BLIS 0.9 reads BLIS_ARCH_TYPE as a number (a name such as "zen3" parses
    # as 0, which is skx): map the names to the ids of torch's BLIS.
    $PY bench/torch_train_peer.py --arch-ids "$TORCH_ARCHS" > "$OUT/arch_ids.json"
    for n in $THREADS; do
        for arch in $TORCH_ARCHS; do
            id=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["ids"].get(sys.argv[2], ""))' \
                 "$OUT/arch_ids.json" "$arch")
            if [ -z "$id" ]; then
                echo "== pytorch: BLIS has no sub-configuration $arch: skipped"
                continue
            fi
            echo "== pytorch: $n threads, BLIS_ARCH_TYPE=$id ($arch)"
            env BLIS_NUM_THREADS=$n BLIS_ARCH_TYPE=$id OMP_NUM_THREADS=$n \
                $PY bench/torch_peer.py "$MODEL" --threads "$n" --ids "$IDS" --mask-pos "$POS" \
                --reps "$REPS" --arch-name "$arch" >> "$OUT/pytorch.jsonl"
        done
        echo "== onnxruntime: $n threads"
        node bench/ort_peer.js "$MODEL" --threads "$n" --ids "$IDS" --mask-pos "$POS" \
            --reps "$REPS" >> "$OUT/ort.jsonl"
    done
fi
uptime > "$OUT/load_after"
$PY bench/model_bench_report.py "$OUT"
echo "(raw results in $OUT)"
