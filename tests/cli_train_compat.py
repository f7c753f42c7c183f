#!/usr/bin/python3
"""`mlm train` / `mlm eval` leave the same files before and after a change.

    tests/cli_train_compat.py OLD_MLM NEW_MLM WORK_DIR

runs the same run_mlm.py command lines with two builds of the tool on this
machine (so the float results can be compared bit for bit: the same kernels
run) and compares, byte for byte, every file each run leaves in its
output_dir (checkpoints included) and what it prints, after blanking the
values that measure time (train_runtime, eval_runtime, *_per_second) in both.

`make check-cli-compat` builds OLD_MLM from CLI_COMPAT_BASE (the commit
before `mlm train` stopped recomputing the trainer's state, plan and FLOs
and asked the library instead) and runs this. The differences that change
was meant to make are checked exactly, not ignored:

  1. trainer_state.json in output_dir gains "stateful_callbacks", as
     transformers' TrainerState writes it (the old tool left it out): it must
     equal the last checkpoint's. Without it the file must be the old one.
  2. The run's last log record, printed as a JSON line, is now the whole of
     Trainer.log(metrics) (train_runtime, rates, total_flos, train_loss,
     epoch, step) where the old tool printed train_loss, epoch and step only:
     it must hold the old line's values, and equal the last record of
     log_history.
  3. With dynamic padding (line_by_line without pad_to_max_length) the old
     tool wrote no total_flos (it could not know the batches' widths): the new
     one writes the trainer's count in train_results.json, all_results.json
     and trainer_state.json; without that key the files must be the old ones.
  4. The optimizer became a trainer option (optim, issue #14) and its
     checkpoint state follows torch's state_dict: training_args.json gains
     "optim", which must be "adamw_torch"; optimizer.safetensors gains the
     metadata "optim" ("adamw_torch") and "param_groups" and a "<parameter>.step"
     scalar per parameter equal to the metadata's "step"; every tensor and
     metadata entry the old file has must be there, byte for byte.
  5. bf16 mixed precision became a trainer option (issue #15):
     training_args.json gains "bf16", which must be false (these runs are
     fp32).
  6. Data-parallel training became trainer options (issue #16):
     training_args.json gains "ddp_backend" and "ddp_bucket_cap_mb", which
     must be null (these runs are one process, as HF's defaults).

Exits 0 when everything matches, 1 with the first differences otherwise.
"""
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
import safetensors_io  # noqa: E402
TOK = os.path.join(ROOT, "tests", "data", "models", "tiny-random-bert-caikit")
WIKI = os.path.join(ROOT, "tests", "data", "corpora", "wikitext-2-raw", "wiki.valid.raw")

KOREAN = [
    "우리 은하와 가장 가까운 은하는 안드로메다 은하이다.",
    "서울은 대한민국의 수도이고 부산은 항구 도시이다.",
    "어제 엄마한테 혼났다. 다음에는 나쁜짓을 안해야겠다.",
]

CONFIG = {
    "model_type": "bert", "vocab_size": 1124, "hidden_size": 16, "num_hidden_layers": 2,
    "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 64,
    "type_vocab_size": 2, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
    "layer_norm_eps": 1e-12, "pad_token_id": 0,
}

COMMON = ["--config_name", "cfg.json", "--tokenizer_name", TOK, "--train_file", "corpus.txt",
          "--num_threads", "1", "--seed", "7", "--learning_rate", "1e-3"]

# name, arguments (after "train"/"eval"), what differs on purpose
SCENARIOS = [
    ("grouped", ["train"] + COMMON + [
        "--do_eval", "--max_seq_length", "32", "--max_steps", "4", "--logging_steps", "1",
        "--save_steps", "2", "--per_device_train_batch_size", "4", "--eval_strategy", "steps",
        "--eval_steps", "2", "--output_dir", "out"], {}),
    ("epochs_ratios", ["train"] + COMMON + [
        "--do_eval", "--max_seq_length", "16", "--num_train_epochs", "2",
        "--logging_steps", "0.25", "--save_steps", "0.5", "--gradient_accumulation_steps", "2",
        "--per_device_train_batch_size", "4", "--warmup_ratio", "0.1", "--weight_decay", "0.01",
        "--save_total_limit", "1", "--output_dir", "out"], {}),
    ("padded_lines", ["train"] + COMMON + [
        "--line_by_line", "--pad_to_max_length", "--do_eval", "--max_seq_length", "24",
        "--max_steps", "3", "--logging_steps", "2", "--save_strategy", "epoch",
        "--per_device_train_batch_size", "5", "--output_dir", "out"], {}),
    ("dynamic_lines", ["train"] + COMMON + [
        "--line_by_line", "--max_seq_length", "24", "--max_steps", "3", "--logging_steps", "1",
        "--save_strategy", "no", "--per_device_train_batch_size", "6", "--output_dir", "out"],
     {"flos": True}),
    ("resume", ["train"] + COMMON + [
        "--do_eval", "--max_seq_length", "32", "--max_steps", "4", "--logging_steps", "1",
        "--save_steps", "2", "--per_device_train_batch_size", "4", "--eval_strategy", "steps",
        "--eval_steps", "2", "--output_dir", "out", "--resume_from_checkpoint",
        "out/checkpoint-2"], {"after": "grouped"}),
    ("eval_only", ["eval", "--model_name_or_path", "out", "--tokenizer_name", TOK,
                   "--validation_file", "corpus.txt", "--max_seq_length", "32",
                   "--num_threads", "1", "--seed", "7", "--output_dir", "evalout"],
     {"after": "grouped"}),
]

TIMING = re.compile(r'("?(?:train|eval)_(?:runtime|samples_per_second|steps_per_second)"?)'
                    r'\s*([:=])\s*([-0-9.e+:]+)')


def blank_timing(data):
    """The timing values blanked (and the padding that aligns them in
    Trainer.log_metrics' printout, which depends on their width)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data  # safetensors and other binary files hold no timing
    return TIMING.sub(lambda m: m.group(1) + m.group(2) + "T", text).encode("utf-8")


def write_inputs(work):
    with open(WIKI, encoding="utf-8") as f:
        lines = f.read().split("\n")[:160]
    lines[40:40] = KOREAN  # Korean in the middle, blank lines as WikiText has them
    with open(os.path.join(work, "corpus.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(work, "cfg.json"), "w") as f:
        json.dump(CONFIG, f)


def run(mlm, name, args, work):
    cmd = [mlm] + args
    p = subprocess.run(cmd, cwd=work, capture_output=True)
    if p.returncode != 0:
        sys.exit(f"cli_train_compat: {name}: {' '.join(cmd)} exited {p.returncode}:\n"
                 f"{p.stderr.decode(errors='replace')}")
    return p.stdout


def tree(work):
    files = {}
    for d in ("out", "evalout"):
        top = os.path.join(work, d)
        for dp, _, fn in os.walk(top):
            for f in fn:
                p = os.path.join(dp, f)
                with open(p, "rb") as fh:
                    files[os.path.relpath(p, work)] = fh.read()
    return files


def py_state_dump(obj):
    """trainer_state.json as TrainerState.save_to_json writes it."""
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode("utf-8")


def same_number(old, new):
    """4. The old tool's numbers went through cJSON's printer, which keeps
    15 significant digits whenever they read back within an epsilon, so its
    files and lines could lose the last bits of a loss or a norm; the new
    ones are exact. A number is the same when equal, or when the old one is
    the new one printed with 15 digits."""
    if isinstance(old, bool) or isinstance(new, bool):
        return old is new
    return old == new or float(f"{new:.15g}") == old


def same_json(old, new, where, problems):
    if isinstance(old, (int, float)) and isinstance(new, (int, float)):
        if not same_number(old, new):
            problems.append(f"{where}: {old!r} became {new!r}")
    elif isinstance(old, dict) and isinstance(new, dict):
        if list(sorted(old)) != list(sorted(new)):
            problems.append(f"{where}: keys {sorted(old)} became {sorted(new)}")
        for k in old:
            if k in new:
                same_json(old[k], new[k], f"{where}.{k}", problems)
    elif isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            problems.append(f"{where}: {len(old)} elements became {len(new)}")
        for i, (a, b) in enumerate(zip(old, new)):
            same_json(a, b, f"{where}[{i}]", problems)
    elif old != new:
        problems.append(f"{where}: {old!r} became {new!r}")


def zero_timing(obj):
    if isinstance(obj, dict):
        return {k: (0 if TIMING.match(f'"{k}": 0') else zero_timing(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [zero_timing(v) for v in obj]
    return obj


def compare_stdout(name, old_out, new_out, new_files, how, problems):
    old_lines = old_out.decode("utf-8").split("\n")
    new_lines = new_out.decode("utf-8").split("\n")
    if how.get("flos"):  # 3. the train metrics' printout shows total_flos too
        new_lines = [x for x in new_lines if not x.startswith("  total_flos ")]
    if len(old_lines) != len(new_lines):
        problems.append(f"{name}: stdout has {len(new_lines)} lines, not {len(old_lines)}")
        return
    for n, (a, b) in enumerate(zip(old_lines, new_lines)):
        if not a.startswith("{"):
            if blank_timing(a.encode()) != blank_timing(b.encode()):
                problems.append(f"{name}: stdout line {n + 1}: {a!r} became {b!r}")
            continue
        old_rec, new_rec = json.loads(a), zero_timing(json.loads(b))
        if "train_loss" in old_rec:  # 2.
            for k in ("train_runtime", "train_samples_per_second", "train_steps_per_second",
                      "total_flos"):
                if new_rec.pop(k, None) is None and k != "total_flos":
                    problems.append(f"{name}: the last record has no {k}: {b}")
            state = json.loads(new_files.get("out/trainer_state.json", b"{}"))
            last = zero_timing((state.get("log_history") or [{}])[-1])
            if last != zero_timing(json.loads(b)):
                problems.append(f"{name}: the printed record {b} is not log_history's {last}")
        same_json(old_rec, new_rec, f"{name}: stdout line {n + 1}", problems)


def last_checkpoint_state(files):
    states = [p for p in files if re.match(r"out/checkpoint-\d+/trainer_state.json$", p)]
    states.sort(key=lambda p: int(p.split("/")[1].split("-")[1]))
    return json.loads(files[states[-1]]) if states else None


def compare_optimizer(where, a, b, problems):
    """4. the new optimizer.safetensors holds the old one and the state_dict's additions."""
    (old_h, old_base), (new_h, new_base) = safetensors_io.parse_header(a), \
        safetensors_io.parse_header(b)
    old_meta, new_meta = old_h.get("__metadata__", {}), dict(new_h.get("__metadata__", {}))
    if new_meta.pop("optim", None) != "adamw_torch" or "param_groups" not in new_meta:
        problems.append(f"{where}: no optim \"adamw_torch\" and param_groups in the metadata")
    new_meta.pop("param_groups", None)
    if new_meta != old_meta:
        problems.append(f"{where}: metadata {new_meta} (old {old_meta})")
    old_t, new_t = safetensors_io.load_bytes(a), safetensors_io.load_bytes(b)
    for key, v in new_t.items():
        if key in old_t:
            if old_t[key].tobytes() != v.tobytes() or old_t[key].shape != v.shape:
                problems.append(f"{where}: {key} differs")
        elif not key.endswith(".step") or v.shape != () or \
                float(v) != float(old_meta.get("step", "nan")):
            problems.append(f"{where}: {key} is new and not the step")
    for key in old_t:
        if key not in new_t:
            problems.append(f"{where}: {key} is gone")


def compare(name, old_files, new_files, old_out, new_out, how, problems):
    compare_stdout(name, old_out, new_out, new_files, how, problems)
    for path in sorted(set(old_files) | set(new_files)):
        if path not in new_files or path not in old_files:
            problems.append(f"{name}: {path} written by the "
                            f"{'old' if path in old_files else 'new'} tool only")
            continue
        a, b = old_files[path], new_files[path]
        if os.path.basename(path) == "optimizer.safetensors":  # 4.
            compare_optimizer(f"{name}: {path}", a, b, problems)
            continue
        if not path.endswith(".json"):
            if a != b:
                problems.append(f"{name}: {path} differs")
            continue
        old, new = zero_timing(json.loads(a)), zero_timing(json.loads(b))
        base, top_level = os.path.basename(path), os.path.dirname(path) in ("out", "evalout")
        if base == "training_args.json" and new.pop("optim", None) != "adamw_torch":  # 4.
            problems.append(f"{name}: {path}: no optim \"adamw_torch\"")
        if base == "training_args.json" and "bf16" not in old and new.pop("bf16", None) is not False:  # 5.
            problems.append(f"{name}: {path}: no bf16 false")
        if base == "training_args.json" and "ddp_backend" not in old:  # 6.
            if new.pop("ddp_backend", "x") is not None or new.pop("ddp_bucket_cap_mb", "x") is not None:
                problems.append(f"{name}: {path}: no ddp_backend and ddp_bucket_cap_mb null")
        if top_level and base == "trainer_state.json":  # 1.
            got = new.pop("stateful_callbacks", None)
            ckpt = last_checkpoint_state(new_files)
            want = ckpt["stateful_callbacks"] if ckpt else None
            if got is None or (want is not None and got != want):
                problems.append(f"{name}: {path}: stateful_callbacks {got} (the last "
                                f"checkpoint's: {want})")
        if top_level and how.get("flos") and "total_flos" in new:  # 3.
            flos = new.pop("total_flos")
            if not isinstance(flos, (int, float)) or flos <= 0:
                problems.append(f"{name}: {path}: total_flos {flos!r}")
            for rec in new.get("log_history", []):
                rec.pop("total_flos", None)
        same_json(old, new, f"{name}: {path}", problems)
        # the files Trainer writes are in Python's json format, byte for byte
        if top_level and (base == "trainer_state.json" or base.endswith("results.json")):
            obj = json.loads(b)
            indent, nl = (2, "\n") if base == "trainer_state.json" else (4, "")
            if (json.dumps(obj, indent=indent, sort_keys=True) + nl).encode("utf-8") != b:
                problems.append(f"{name}: {path} is not what Python's json.dumps writes")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    old_mlm, new_mlm, work = (os.path.abspath(a) for a in sys.argv[1:])
    problems, results = [], {}
    for tool, mlm in (("old", old_mlm), ("new", new_mlm)):
        for name, args, how in SCENARIOS:
            d = os.path.join(work, tool, name)
            shutil.rmtree(d, ignore_errors=True)
            if "after" in how:
                shutil.copytree(os.path.join(work, tool, how["after"]), d)
                for sub in ("evalout",):
                    shutil.rmtree(os.path.join(d, sub), ignore_errors=True)
            else:
                os.makedirs(d)
                write_inputs(d)
            if name == "resume":  # from checkpoint-2: drop what came after it
                for p in os.listdir(os.path.join(d, "out")):
                    if p != "checkpoint-2":
                        q = os.path.join(d, "out", p)
                        shutil.rmtree(q) if os.path.isdir(q) else os.remove(q)
            out = run(mlm, name, args, d)
            results[(tool, name)] = (out, tree(d))
    for name, _, how in SCENARIOS:
        old_out, old_files = results[("old", name)]
        new_out, new_files = results[("new", name)]
        compare(name, old_files, new_files, old_out, new_out, how, problems)
        print(f"cli_train_compat: {name}: {len(new_files)} files compared")
    if problems:
        print("\n".join(problems[:20]))
        sys.exit(1)
    print("cli_train_compat: the same files and output")


if __name__ == "__main__":
    main()
