"""Expected texts for tests/test_trainer.c's progress-bar and log-line tests,
from the real references: tqdm (Debian python3-tqdm; 4.64.1 when they were
made) for the bar, CPython for float repr, round() and str(dict).

    /usr/bin/python3 tests/reference/progress_reference.py

prints C initializers to paste into the test (never run by make check)."""
import json

from tqdm import tqdm
from tqdm.utils import disp_len


def c(s):
    return json.dumps(s, ensure_ascii=False)


def fmt_num(x):
    return tqdm.format_num(x)


# (n, total, elapsed, ncols, rate, initial, loss, ascii)
METERS = [
    (150, 400, 12.2, None, 12.3, 0, 2.3456789, False),
    (150, 400, 12.2, 80, 12.3, 0, 2.3456789, False),
    (150, 400, 12.2, 30, 12.3, 0, 2.3456789, False),
    (150, 400, 12.2, 0, 12.3, 0, 2.3456789, False),
    (0, 400, 0.0, 80, None, 0, None, False),
    (3, 5000, 3725.0, 100, 0.4, 0, 0.000123456, False),
    (150, 400, 10.0, 60, None, 100, 7.0, False),
    (400, 400, 31.0, 70, None, 0, 1.5, False),
    (37, 100, 4.0, 60, 9.25, 0, 2.0, True),
    (1, 7, 0.5, 46, 2.0, 0, None, False),
]

print("/* format_meter */")
for n, total, el, ncols, rate, initial, loss, asc in METERS:
    postfix = None if loss is None else "loss=" + fmt_num(loss)
    s = tqdm.format_meter(n, total, el, ncols=ncols, rate=rate, initial=initial,
                          postfix=postfix, ascii=asc)
    cn = -1 if ncols is None else ncols
    cr = "NAN" if rate is None else repr(rate)
    has = 0 if loss is None else 1
    cl = 0.0 if loss is None else loss
    print(f"{{{n}, {total}, {el!r}, {cn}, {cr}, {initial}, {has}, {cl!r}, {int(asc)}, {c(s)}}},")

print("/* format_meter with desc, unit and unit_scale (datasets' bars) */")
# (n, total, elapsed, ncols, rate, desc, unit, unit_scale)
UNIT_METERS = [
    (10300000, 22936920, 1.1, 80, 9.41e6, "Tokenizing big.txt", "B", True),
    (10300000, 22936920, 1.1, 0, 0.5, "Tokenizing big.txt", "B", True),
    (0, 22936920, 0.0, 60, None, "한국어.txt", "B", True),
    (22936920, 22936920, 2.5, 70, None, "big.txt: ", "B", True),
    (3, 22936920, 1.1, -1, None, None, "B", True),
    (10300000, 0, 1.1, -1, None, "x", "B", True),
    (450, 1000, 1.5, 70, 300.0, "Map", " examples", False),
]
for n, total, el, ncols, rate, desc, unit, scale in UNIT_METERS:
    s = tqdm.format_meter(n, total or None, el, ncols=None if ncols < 0 else ncols, rate=rate,
                          prefix=desc or "", unit=unit, unit_scale=scale)
    cr = "NAN" if rate is None else repr(rate)
    cd = "NULL" if desc is None else c(desc)
    print(f"{{{n}, {total}, {el!r}, {ncols}, {cr}, {cd}, {c(unit)}, {int(scale)}, {c(s)}}},")

print("/* format_sizeof */")
for x in [0, 3, 9.994, 9.995, 99.94, 99.95, 999.4, 999.5, 1234, 22936920, 9.41e6, 5e26, 2e30]:
    print(f"{{{x!r}, {c(tqdm.format_sizeof(x))}}},")

print("/* repr */")
for x in [2.3456, 4.5e-05, 0.0001, 1e-05, 1e16, 1e15, 123456789.123, 0.1 + 0.2, -0.0, 2.0,
          5e-324, 1.7976931348623157e308, 1 / 3, 100.0, 1234567890123456.7, 0.00012]:
    print(f"{{{x!r}, {c(repr(x))}}},")

print("/* round2 */")
for x in [0.125, 0.375, 2.675, 1.005, 0.5, 0.3333333333333333, 2.999, 0.015]:
    print(f"{{{x!r}, {round(x, 2)!r}}},")

print("/* format_num */")
for x in [2.3456789, 0.000123456, 1e-05, 123456.0, 2.0, 1234.5, 0.05, 12.5]:
    print(f"{{{x!r}, {c(fmt_num(x))}}},")

print("/* format_interval */")
for t in [0, 59.9, 60, 3599.99, 3600, 86399, 360000.5]:
    print(f"{{{t!r}, {c(tqdm.format_interval(t))}}},")

print("/* dict lines: the record (JSON) and ProgressCallback's line */")
recs = [
    {"loss": 2.3456, "grad_norm": 1.2345678806304932, "learning_rate": 4.5e-05,
     "epoch": 0.123456, "step": 150},
    {"eval_loss": 1.75, "perplexity": 5.754602676005731, "epoch": 2.0, "step": 300},
    {"train_loss": 2.0, "epoch": 3.0, "step": 400, "total_flos": 123456.0},
    {"note": '한국어 "따옴표"', "epoch": 1.005, "flag": True, "none": None},
    {"note": "it's", "tab": "a\tb"},
]
for r in recs:
    shown = {k: v for k, v in r.items() if k not in ("step", "total_flos")}
    if "epoch" in shown:
        shown["epoch"] = round(shown["epoch"], 2)
    print(f"{{{c(json.dumps(r, ensure_ascii=False))}, {c(str(shown))}}},")

print("/* disp_len */")
for s in ["한국어 loss", "abc", " 37%|███▋      |"]:
    print(f"{{{c(s)}, {disp_len(s)}}},")
