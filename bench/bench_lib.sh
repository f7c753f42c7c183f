# Shell helpers shared by the training benchmarks' drivers
# (run_train_bench.sh, run_t5_train_bench.sh): sourced, POSIX sh. They
# expect PY (Debian's /usr/bin/python3) and OUT (the run's folder) set.

# arch_ids ARCHS: writes $OUT/arch_ids.json, the BLIS_ARCH_TYPE id of each
# sub-configuration name (BLIS 0.9 reads the variable as a number).
arch_ids() {
    $PY bench/torch_train_peer.py --arch-ids "$1" > "$OUT/arch_ids.json"
}

# arch_id NAME: the id of a sub-configuration from $OUT/arch_ids.json, or
# nothing when this BLIS has none of that name.
arch_id() {
    $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["ids"].get(sys.argv[2], ""))' \
        "$OUT/arch_ids.json" "$1"
}

# json_field FILE KEY: a top-level field of the JSON line in FILE.
json_field() {
    $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# float_gt A B: true when A > B as numbers.
float_gt() {
    $PY -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)' "$1" "$2"
}

# blis_search WHAT PROBE ARCHS: the fastest BLIS sub-configuration of ARCHS
# for torch, by the GFLOP/s that the command "PROBE NAME ID" prints as a
# JSON line with a "gflops" field (appended to $OUT/probe.jsonl). Sets
# BEST and BEST_ID (empty when no name exists in this BLIS).
blis_search() {
    BEST=""
    BEST_ID=""
    _best_v=0
    for _arch in $3; do
        _id=$(arch_id "$_arch")
        if [ -z "$_id" ]; then
            echo "   (BLIS has no sub-configuration $_arch: skipped)"
            continue
        fi
        $2 "$_arch" "$_id" | tee -a "$OUT/probe.jsonl" > "$OUT/last"
        _v=$(json_field "$OUT/last" gflops)
        echo "   probe $1, BLIS $_arch: $_v GFLOP/s"
        if float_gt "$_v" "$_best_v"; then
            BEST=$_arch
            BEST_ID=$_id
            _best_v=$_v
        fi
    done
}
