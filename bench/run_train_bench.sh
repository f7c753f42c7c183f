#!/bin/sh
# The training benchmark in one run (make bench-train): masked-LM training
# throughput (tokens/s over fwd + bwd + clip + AdamW), model-FLOPs
# utilisation and peak RSS, libmlm (bench/train_bench.c, the public API)
# against PyTorch (bench/torch_train_peer.py: tests/reference/hf_models.py
# trained as transformers' Trainer does), same model, batch and threads:
#   small          4 layers, hidden 256, 4 heads, FFN 1024, vocab 8192; 16 x 128
#   distilroberta  6 layers, hidden 768, 12 heads, FFN 3072, vocab 50265; 8 x 128
# with 1 and 2 threads. Each figure comes from its own process (peak RSS is
# that configuration's); libmlm and PyTorch run back to back per shape and
# thread count, so drift in the machine's load hits both.
#
# PyTorch's configuration: torch.set_num_threads(n), OMP_NUM_THREADS=n,
# BLIS_NUM_THREADS=n, and BLIS_ARCH_TYPE set to the fastest of TORCH_ARCHS
# for that shape and thread count. The search runs a GEMM probe of the
# shape's products once per sub-configuration (cheap; the rest of a step
# does not depend on BLIS); TORCH_SEARCH=full times whole training steps for
# every one instead (slow). BLIS 0.9 takes BLIS_ARCH_TYPE as a number, so
# names are mapped to ids first; each run reports the sub-configuration
# BLIS actually selected.
#
# Environment: SHAPES (default "small distilroberta"), THREADS ("1 2"),
# STEPS / WARMUP (timed and warm-up steps; default per shape: small 8 + 2,
# distilroberta 4 + 1), TORCH_ARCHS ("zen3 haswell skx generic"),
# TORCH_SEARCH (probe | full), SKIP_PEERS=1 (libmlm only), MLM_BF16=1 (libmlm's
# "bf16" option timed too, beside PyTorch's bf16 autocast where the CPU has
# AVX512-BF16 or AMX: bench/train_bf16_report.py's table)
# About 3 minutes on a 2-core Zen 4 with the defaults; STEPS=2
# WARMUP=1 about halves it. Never part of make check.
set -eu
cd "$(dirname "$0")/.."
SHAPES=${SHAPES:-"small distilroberta"}
THREADS=${THREADS:-"1 2"}
TORCH_ARCHS=${TORCH_ARCHS:-"zen3 haswell skx generic"}
TORCH_SEARCH=${TORCH_SEARCH:-probe}
PY=/usr/bin/python3
OUT=$(mktemp -d /tmp/mlm-bench-train.XXXXXX)
. bench/bench_lib.sh

steps_args() {
    a=""
    [ -n "${STEPS:-}" ] && a="$a --steps $STEPS"
    [ -n "${WARMUP:-}" ] && a="$a --warmup $WARMUP"
    echo "$a"
}

# The timed steps of a shape, as train_bench uses them (for the peer).
shape_steps() {
    case $1 in
    small) s=8; w=2 ;;
    *) s=4; w=1 ;;
    esac
    echo "--steps ${STEPS:-$s} --warmup ${WARMUP:-$w}"
}

shape_batch() {
    case $1 in
    small) echo "--batch 16 --seq 128" ;;
    *) echo "--batch 8 --seq 128" ;;
    esac
}

uptime > "$OUT/load_before"
[ -z "${SKIP_PEERS:-}" ] && arch_ids "$TORCH_ARCHS"
# PyTorch's bf16 autocast is timed where the CPU has AVX512-BF16 or AMX
CPU_BF16=$($PY bench/torch_t5_train_peer.py --cpu-bf16 2>/dev/null || echo 0)

# peer SHAPE N ARCH_NAME ARCH_ID MODE: one PyTorch process (MODE probe|train)
peer() {
    cfg=$(build/bench/train_bench --config "$1")
    flag=""
    [ "$5" = probe ] && flag="--probe"
    if [ -n "$4" ]; then
        env BLIS_NUM_THREADS="$2" OMP_NUM_THREADS="$2" BLIS_ARCH_TYPE="$4" \
            $PY bench/torch_train_peer.py $flag --config "$cfg" $(shape_batch "$1") \
            $(shape_steps "$1") --threads "$2" --arch-name "$3" --label "$1" \
            --autocast "${AUTOCAST:-none}"
    else
        env BLIS_NUM_THREADS="$2" OMP_NUM_THREADS="$2" \
            $PY bench/torch_train_peer.py $flag --config "$cfg" $(shape_batch "$1") \
            $(shape_steps "$1") --threads "$2" --label "$1" --autocast "${AUTOCAST:-none}"
    fi
}

for shape in $SHAPES; do
    for n in $THREADS; do
        echo "== libmlm: $shape, $n thread(s)"
        build/bench/train_bench --shape "$shape" --threads "$n" --json $(steps_args) \
            | tee -a "$OUT/libmlm.jsonl" | cut -c1-160
        if [ "${MLM_BF16:-0}" = 1 ]; then
            echo "== libmlm bf16: $shape, $n thread(s)"
            build/bench/train_bench --shape "$shape" --threads "$n" --json $(steps_args) --bf16 \
                | tee -a "$OUT/libmlm_bf16.jsonl" | cut -c1-160
        fi
        [ -n "${SKIP_PEERS:-}" ] && continue
        if [ "$TORCH_SEARCH" = full ]; then
            for arch in $TORCH_ARCHS; do
                id=$(arch_id "$arch")
                if [ -z "$id" ]; then
                    echo "   (BLIS has no sub-configuration $arch: skipped)"
                    continue
                fi
                echo "== pytorch: $shape, $n thread(s), BLIS $arch (id $id), full steps"
                peer "$shape" "$n" "$arch" "$id" train >> "$OUT/pytorch_all.jsonl"
            done
            $PY -c 'import json,sys
rows = [json.loads(l) for l in open(sys.argv[1])]
r = max((r for r in rows if r["label"] == sys.argv[2] and r["config"]["threads"] == int(sys.argv[3])),
        key=lambda r: r["tokens_per_s"])
print(json.dumps(r))' "$OUT/pytorch_all.jsonl" "$shape" "$n" >> "$OUT/pytorch.jsonl"
        else
            probe_fn() { peer "$shape" "$n" "$1" "$2" probe; }
            blis_search "$shape, $n thread(s)" probe_fn "$TORCH_ARCHS"
            echo "== pytorch: $shape, $n thread(s), BLIS ${BEST:-default}"
            peer "$shape" "$n" "$BEST" "$BEST_ID" train | tee -a "$OUT/pytorch.jsonl" | cut -c1-160
            if [ "$CPU_BF16" = 1 ]; then
                echo "== pytorch bf16 autocast: $shape, $n thread(s), BLIS ${BEST:-default}"
                AUTOCAST=bf16 peer "$shape" "$n" "$BEST" "$BEST_ID" train \
                    | tee -a "$OUT/pytorch_bf16.jsonl" | cut -c1-160
            fi
        fi
    done
done
uptime > "$OUT/load_after"
$PY bench/train_bench_report.py "$OUT"
[ -f "$OUT/libmlm_bf16.jsonl" ] && $PY bench/train_bf16_report.py "$OUT"
echo "(raw results in $OUT)"
