#!/bin/sh
# The summarization benchmark (make bench-t5): libmlm's generate() vs the
# PyTorch reference's (tests/reference/t5_generate.py, transformers 4.56's
# algorithm, timed by bench/t5_generate_ref.py) on a t5-small-shaped T5 (random weights, v1.0: relu, tied
# head), a 128-token input into exactly 32 new tokens, greedy and beam 4,
# batch 1 and 8, 1 and 2 threads, in one run; a table with the ratios
# (bench/t5_bench_report.py). Never part of make check. Needs /usr/bin/python3
# with Debian's torch 1.13.
#
# Environment: MLM_BENCH_T5 (checkpoint folder, made if absent; default
# /tmp/mlm-bench-t5-small), STYLE (v1.0 or v1.1, for a new checkpoint),
# REPS (default 3), THREADS (default "1 2"), BATCHES (default "1 8"),
# MODES (default "greedy beam4"), DTYPES (default "fp32": libmlm's weights,
# fp32 bf16 int8), TORCH_ARCH (default zen3: the BLIS sub-configuration
# torch runs, as bench/run_model_bench.sh names them; zen3's kernels for
# thin products are also the fastest on an Intel Xeon with AVX-512: skx
# there halved PyTorch fp32's beam-4 tokens/s at batch 1), BF16 (auto | 0 | 1:
# also time PyTorch under torch.autocast("cpu", bfloat16), its bf16
# inference; auto = when the CPU has AVX512-BF16 or AMX), SKIP_PEERS=1.
# Each row's ratio is taken against the faster of PyTorch's fp32 and bf16
# figures (both printed).
set -eu
cd "$(dirname "$0")/.."
MODEL=${MLM_BENCH_T5:-/tmp/mlm-bench-t5-small}
REPS=${REPS:-3}
THREADS=${THREADS:-"1 2"}
BATCHES=${BATCHES:-"1 8"}
MODES=${MODES:-"greedy beam4"}
DTYPES=${DTYPES:-fp32}
TORCH_ARCH=${TORCH_ARCH:-zen3}
BF16=${BF16:-auto}
PY=/usr/bin/python3
OUT=$(mktemp -d /tmp/mlm-bench-t5.XXXXXX)

if [ ! -f "$MODEL/model.safetensors" ]; then
    echo "== making $MODEL (t5-small-shaped, random weights, ${STYLE:-v1.0})"
    $PY tests/reference/make_t5.py checkpoint "${STYLE:-v1.0}" t5-small "$MODEL"
fi
cat "$MODEL"/model.safetensors > /dev/null
ARCH_ID=""
if [ -z "${SKIP_PEERS:-}" ]; then
    $PY bench/torch_train_peer.py --arch-ids "$TORCH_ARCH" > "$OUT/arch_ids.json"
    ARCH_ID=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["ids"].get(sys.argv[2], ""))' \
        "$OUT/arch_ids.json" "$TORCH_ARCH")
    [ "$BF16" = auto ] && BF16=$($PY bench/torch_t5_train_peer.py --cpu-bf16)
fi
uptime > "$OUT/load_before"
for dt in $DTYPES; do
for mode in $MODES; do
    for b in $BATCHES; do
        for n in $THREADS; do
            echo "== libmlm $dt: $mode, batch $b, $n threads"
            MLM_ROOT=. build/bench/t5_bench "$MODEL" --mode "$mode" --batch "$b" --threads "$n" \
                --reps "$REPS" --dtype "$dt" >> "$OUT/libmlm.jsonl"
        done
    done
done
done
if [ -z "${SKIP_PEERS:-}" ]; then
    AUTOCASTS=none
    [ "$BF16" = 1 ] && AUTOCASTS="none bf16"
    for ac in $AUTOCASTS; do
    for n in $THREADS; do
        echo "== pytorch (autocast $ac): $n threads, BLIS_ARCH_TYPE=$ARCH_ID ($TORCH_ARCH)"
        env BLIS_NUM_THREADS=$n OMP_NUM_THREADS=$n ${ARCH_ID:+BLIS_ARCH_TYPE=$ARCH_ID} \
            $PY bench/t5_generate_ref.py "$MODEL" --threads "$n" \
            --modes "$(echo $MODES | tr ' ' ,)" --batches "$(echo $BATCHES | tr ' ' ,)" \
            --reps "$REPS" --autocast "$ac" >> "$OUT/pytorch.jsonl"
    done
    done
fi
uptime > "$OUT/load_after"
$PY bench/t5_bench_report.py "$OUT"
echo "(raw results in $OUT; load before/after: $(cat "$OUT/load_before" | sed 's/.*load/load/') / $(cat "$OUT/load_after" | sed 's/.*load/load/'))"
