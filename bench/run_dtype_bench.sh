#!/bin/sh
# Reduced precision in one run (make bench-dtype, issue #15): fill-mask
# latency and the 8x128 forward (all logits) of a distilroberta-shaped
# RoBERTa with fp32, bf16 and int8 weights (fill_mask_bench --dtype),
# against ONNX Runtime fp32 and dynamically quantized int8
# (bench/onnx_quantize.py), PyTorch fp32 and, where the CPU has
# AVX512-BF16 or AMX, PyTorch bf16 autocast; a read-bandwidth probe in the
# same run gives each dtype's memory floor (weight bytes / bandwidth).
# Prints one table with ratios (bench/dtype_bench_report.py). Never part of
# make check. Needs /usr/bin/python3 with Debian's torch and python3-onnx,
# node + npm.
#
# Environment: MLM_BENCH_MODEL (default /tmp/mlm-bench-droberta, made if
# absent), REPS (9), THREADS ("1 2"), SKIP_PEERS=1.
set -eu
cd "$(dirname "$0")/.."
MODEL=${MLM_BENCH_MODEL:-/tmp/mlm-bench-droberta}
REPS=${REPS:-9}
THREADS=${THREADS:-"1 2"}
PY=/usr/bin/python3
OUT=$(mktemp -d /tmp/mlm-bench-dtype.XXXXXX)

if [ ! -f "$MODEL/model.safetensors" ]; then
    echo "== making $MODEL (distilroberta-shaped, random weights)"
    $PY tests/reference/make_checkpoints.py distilroberta-shaped "$MODEL"
fi
[ -f "$MODEL/tokenizer.json" ] || cp ../shared/data/tokenizers/roberta-base/tokenizer.json "$MODEL/"
if [ -z "${SKIP_PEERS:-}" ]; then
    if [ ! -f "$MODEL-masked.onnx" ] || [ "$MODEL-masked.onnx" -ot "$MODEL/model.safetensors" ]; then
        echo "== exporting $MODEL-{full,masked}.onnx (torch.onnx.export, opset 14)"
        $PY bench/torch_peer.py "$MODEL" --export "$MODEL" 2>&1 | grep -v Warning || true
    fi
    if [ ! -f "$MODEL-masked-int8.onnx" ] || [ "$MODEL-masked-int8.onnx" -ot "$MODEL-masked.onnx" ]; then
        $PY bench/onnx_quantize.py "$MODEL-masked.onnx" "$MODEL-masked-int8.onnx"
    fi
    [ -d bench/node_modules/onnxruntime-node ] || (cd bench && npm install --no-audit --no-fund)
fi
cat "$MODEL"/model.safetensors "$MODEL"/tokenizer.json > /dev/null
uptime > "$OUT/load_before"
for dt in fp32 bf16 int8; do
    echo "== libmlm $dt"
    build/bench/fill_mask_bench "$MODEL" --json --reps "$REPS" --dtype "$dt" --bandwidth \
        --threads "$(echo $THREADS | tr ' ' ,)" >> "$OUT/libmlm.jsonl"
done
IDS=$(head -1 "$OUT/libmlm.jsonl" | $PY -c 'import json,sys; print(",".join(map(str, json.load(sys.stdin)["ids"])))')
POS=$(head -1 "$OUT/libmlm.jsonl" | $PY -c 'import json,sys; print(json.load(sys.stdin)["mask_pos"])')
if [ -z "${SKIP_PEERS:-}" ]; then
    AUTOCAST="none"
    [ "$($PY bench/torch_t5_train_peer.py --cpu-bf16)" = 1 ] && AUTOCAST="none bf16"
    for n in $THREADS; do
        for ac in $AUTOCAST; do
            echo "== pytorch: $n threads, autocast $ac"
            env BLIS_NUM_THREADS=$n OMP_NUM_THREADS=$n $PY bench/torch_peer.py "$MODEL" \
                --threads "$n" --ids "$IDS" --mask-pos "$POS" --reps "$REPS" --autocast "$ac" \
                2>/dev/null >> "$OUT/pytorch.jsonl"
        done
        echo "== onnxruntime: $n threads, fp32 and int8"
        node bench/ort_peer.js "$MODEL" --threads "$n" --ids "$IDS" --mask-pos "$POS" \
            --reps "$REPS" >> "$OUT/ort.jsonl"
        node bench/ort_peer.js "$MODEL" --threads "$n" --ids "$IDS" --mask-pos "$POS" \
            --reps "$REPS" --int8 >> "$OUT/ort.jsonl"
    done
fi
uptime > "$OUT/load_after"
$PY bench/dtype_bench_report.py "$OUT"
echo "(raw results in $OUT)"
