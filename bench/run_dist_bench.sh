#!/bin/sh
# Data-parallel training in one run (make bench-distributed;
# docs/distributed.md): what mpirun -np 2 does on this machine and what the
# gradient sums cost, for the three shapes of the training benches
#   small          4 layers, hidden 256, vocab 8192; 16 x 128 per rank
#   distilroberta  6 layers, hidden 768, vocab 50265; 8 x 128 per rank
#   t5-small       6 + 6 layers, d_model 512, vocab 32128; 8 x (128 + 32)
# each as
#   n1t1   1 process, 1 thread (the per-rank baseline)
#   n1t2   1 process, 2 threads (the machine as one rank)
#   n2t1   mpirun -np 2, 1 thread per rank, shared memory (vader)
#   n2tcp  the same over TCP on the loopback (--mca btl tcp,self)
#   n2one  shared memory with one bucket for the whole gradient (no overlap)
# (the per-rank batch stays the shape's, so N = 2 trains twice the tokens a
# step: tokens/s counts every rank's), then MPI_Allreduce alone
# (bench/allreduce_bench.c) at 8 bytes and at each shape's gradient over
# both transports, and bench/dist_report.py's tables: tokens/s, scaling
# efficiency, the bytes a step exchanges (fp32 and bf16 gradients), the
# allreduce time, and the model fitted to them predicting 2 to 64 nodes on
# 10, 25 and 100 Gb/s links.
#
# Each rank is bound to a core (--bind-to core). Run it on a quiet machine:
# the load average is printed first, and figures are medians (STEPS timed
# steps after WARMUP, per configuration; default 4 + 1). About 6 minutes on
# a 2-core Zen 4. Never part of make check.
set -eu
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
STEPS=${STEPS:-4}
WARMUP=${WARMUP:-1}
SHAPES=${SHAPES:-"small distilroberta t5-small"}
OUT=$(mktemp -d /tmp/mlm-bench-dist.XXXXXX)
MPIRUN="mpirun --allow-run-as-root --bind-to core --map-by core"
B=build/bench

echo "== machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores"
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $(mpirun --version 2>/dev/null | head -1)"

run_shape() { # SHAPE CONFIG [launcher args...]: one JSON line into $OUT/SHAPE-CONFIG.json
    _shape=$1 _cfg=$2
    shift 2
    if [ "$_shape" = t5-small ]; then
        _cmd="$B/t5_train_bench"
    else
        _cmd="$B/train_bench --shape $_shape"
    fi
    case $_cfg in
    n1t1) $_cmd --threads 1 --steps "$STEPS" --warmup "$WARMUP" --json ;;
    n1t2) $_cmd --threads 2 --steps "$STEPS" --warmup "$WARMUP" --json ;;
    n2t1) $MPIRUN -np 2 --mca btl vader,self $_cmd --threads 1 --steps "$STEPS" --warmup "$WARMUP" --json ;;
    n2tcp) $MPIRUN -np 2 --mca btl tcp,self $_cmd --threads 1 --steps "$STEPS" --warmup "$WARMUP" --json ;;
    n2one) $MPIRUN -np 2 --mca btl vader,self $_cmd --threads 1 --steps "$STEPS" --warmup "$WARMUP" \
               --bucket-mb 100000 --json ;;
    esac > "$OUT/$_shape-$_cfg.json"
    printf '   %-14s %-6s %s tokens/s\n' "$_shape" "$_cfg" \
        "$($PY -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["tokens_per_s"], 1))' "$OUT/$_shape-$_cfg.json")"
}

echo "== training steps"
FLOATS=2,262144
for shape in $SHAPES; do
    for cfg in n1t1 n1t2 n2t1 n2tcp n2one; do
        run_shape "$shape" "$cfg"
    done
    FLOATS=$FLOATS,$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["params"])' "$OUT/$shape-n1t1.json")
done

echo "== MPI_Allreduce alone ($FLOATS floats)"
for btl in vader tcp; do
    $MPIRUN -np 2 --mca btl $btl,self $B/allreduce_bench --floats "$FLOATS" --reps 10 \
        > "$OUT/allreduce-$btl.jsonl"
done

echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
$PY bench/dist_report.py "$OUT"
echo "(raw figures in $OUT)"
