#!/bin/sh
# The seq2seq training benchmark in one run (make bench-t5-train): T5
# training throughput (tokens/s, source + target tokens, over fwd + bwd +
# clip + AdamW), model-FLOPs utilisation and peak RSS, libmlm
# (bench/t5_train_bench.c, the public API: the Trainer on a seq2seq
# collator) against PyTorch (bench/torch_t5_train_peer.py:
# tests/reference/t5_models.py trained as transformers' Trainer does), same
# model, batch and threads:
#   t5-small  T5 v1.0 (relu, tied): vocab 32128, d_model 512, 8 heads,
#             d_ff 2048, 6 + 6 layers, dropout 0.1; batch 8 x (128 source,
#             32 target) tokens
# with 1 and 2 threads. Each figure comes from its own process (peak RSS is
# that configuration's); per thread count libmlm and the PyTorch runs go
# back to back, REPS times in turn, so drift in the machine's load hits
# them alike; the report takes each configuration's median over the REPS.
#
# PyTorch's configuration: torch.set_num_threads(n), OMP_NUM_THREADS=n,
# BLIS_NUM_THREADS=n, and BLIS_ARCH_TYPE set to the fastest of TORCH_ARCHS
# by the GEMM probe bench/run_train_bench.sh uses (bench/bench_lib.sh),
# here at T5's shape. On a CPU with AVX512-BF16 or AMX, PyTorch also runs
# under torch.autocast("cpu", dtype=torch.bfloat16) (transformers' bf16=True
# on CPU); the faster of fp32 and bf16 is the peer the ratio is taken
# against, and both are printed.
#
# Environment: THREADS ("1 2"), REPS (1), STEPS / WARMUP (timed and
# warm-up steps per process; 4 + 1), TORCH_ARCHS ("zen3 haswell skx
# generic"), BF16 (auto | 0 | 1: time PyTorch's autocast; auto = when the
# CPU has it), MLM_BF16=1 (libmlm trains with its "bf16" option),
# SKIP_PEERS=1 (libmlm only). About 3 minutes on a 2-core
# Zen 4 with the defaults. Never part of make check.
set -eu
cd "$(dirname "$0")/.."
THREADS=${THREADS:-"1 2"}
REPS=${REPS:-1}
STEPS=${STEPS:-4}
WARMUP=${WARMUP:-1}
TORCH_ARCHS=${TORCH_ARCHS:-"zen3 haswell skx generic"}
BF16=${BF16:-auto}
PY=/usr/bin/python3
OUT=$(mktemp -d /tmp/mlm-bench-t5-train.XXXXXX)
. bench/bench_lib.sh

CFG=$(build/bench/t5_train_bench --config)
uptime > "$OUT/load_before"
if [ -z "${SKIP_PEERS:-}" ]; then
    arch_ids "$TORCH_ARCHS"
    [ "$BF16" = auto ] && BF16=$($PY bench/torch_t5_train_peer.py --cpu-bf16)
fi

# peer N ARCH_NAME ARCH_ID MODE: one PyTorch process (MODE probe | none | bf16)
peer() {
    if [ "$4" = probe ]; then
        mode="--probe"
    else
        mode="--autocast $4"
    fi
    env BLIS_NUM_THREADS="$1" OMP_NUM_THREADS="$1" ${3:+BLIS_ARCH_TYPE=$3} \
        $PY bench/torch_t5_train_peer.py $mode --config "$CFG" --batch 8 --source 128 \
        --target 32 --steps "$STEPS" --warmup "$WARMUP" --threads "$1" --arch-name "${2:-default}"
}

for n in $THREADS; do
    if [ -z "${SKIP_PEERS:-}" ]; then
        probe_fn() { peer "$n" "$1" "$2" probe; }
        blis_search "t5-small, $n thread(s)" probe_fn "$TORCH_ARCHS"
    fi
    rep=1
    while [ "$rep" -le "$REPS" ]; do
        echo "== libmlm: t5-small, $n thread(s), run $rep of $REPS"
        build/bench/t5_train_bench --threads "$n" --steps "$STEPS" --warmup "$WARMUP" --json \
            $([ "${MLM_BF16:-0}" = 1 ] && echo --bf16) \
            | tee -a "$OUT/libmlm.jsonl" | cut -c1-120
        if [ -z "${SKIP_PEERS:-}" ]; then
            for cast in none $([ "$BF16" = 1 ] && echo bf16); do
                echo "== pytorch: t5-small, $n thread(s), BLIS ${BEST:-default}, autocast $cast"
                peer "$n" "$BEST" "$BEST_ID" "$cast" | tee -a "$OUT/pytorch.jsonl" | cut -c1-120
            done
        fi
        rep=$((rep + 1))
    done
done
uptime > "$OUT/load_after"
$PY bench/t5_train_bench_report.py "$OUT"
echo "(raw results in $OUT)"
