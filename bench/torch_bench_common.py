"""What the PyTorch peers of the training benchmarks (torch_train_peer.py,
torch_t5_train_peer.py) share: naming the BLIS sub-configuration torch
runs, mapping sub-configuration names to BLIS_ARCH_TYPE ids, the GEMM probe
that ranks them, and peak RSS.

Import this module BEFORE torch and call blis_debug_start() then: BLIS 0.9
prints the sub-configuration it selects on stderr (BLIS_ARCH_DEBUG=1) when
torch first uses it, and that message has to be caught. Importing this
module does not import torch."""

import ctypes
import os
import resource
import sys
import sysconfig
import tempfile
import time


def blis_debug_start():
    """BLIS 0.9 prints the sub-configuration it selects on stderr when
    BLIS_ARCH_DEBUG=1: send fd 2 to a file until torch's BLIS has run once,
    so the result can name the kernels every figure used."""
    os.environ["BLIS_ARCH_DEBUG"] = "1"
    f = tempfile.TemporaryFile()
    saved = os.dup(2)
    os.dup2(f.fileno(), 2)
    return f, saved


def blis_debug_end(state):
    """The sub-configuration BLIS selected (after one product through torch);
    restores stderr and passes on whatever else was printed."""
    import torch
    f, saved = state
    torch.ones(8, 8).matmul(torch.ones(8, 8))   # BLIS initialises on first use
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
    f.seek(0)
    text = f.read().decode(errors="replace")
    f.close()
    for line in text.splitlines():
        if "selecting sub-configuration" in line:
            return line.split("'")[1] if "'" in line else line.strip()
        sys.stderr.write(line + "\n")
    return "unknown (not BLIS, or BLIS_ARCH_DEBUG unsupported)"


def arch_ids(names):
    """BLIS 0.9.0 reads BLIS_ARCH_TYPE as a number (its arch_t id): a name
    such as "zen3" parses as 0, which is skx. Map names to ids with the
    bli_arch_string of the BLIS that torch's libblas.so.3 belongs to."""
    multiarch = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"
    real = os.path.realpath(f"/usr/lib/{multiarch}/libblas.so.3")
    lib = os.path.join(os.path.dirname(real), "libblis.so.4")
    out = {}
    try:
        blis = ctypes.CDLL(lib)
        blis.bli_arch_string.restype = ctypes.c_char_p
        blis.bli_arch_string.argtypes = [ctypes.c_int]
        ids = {blis.bli_arch_string(i).decode(): i for i in range(64)
               if blis.bli_arch_string(i) not in (None, b"")}
    except (OSError, AttributeError):
        return {"blas": real, "ids": {}}
    for n in names:
        if n in ids:
            out[n] = ids[n]
    return {"blas": real, "ids": out}


def cpu_has_bf16():
    """Whether the CPU has AVX512-BF16 or AMX (where torch.autocast's
    bfloat16 products can run in hardware): /proc/cpuinfo's flags."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def gemm_probe(rows, C, I, H, T, batch, reps=7):
    """GFLOP/s of the products a training step of a transformer layer is
    made of: the FFN's x·W1ᵀ (rows x C by I x C) and the two products of
    its backward, and attention's batched q·kᵀ (batch·H sequences of T,
    C/H per head), through torch. Only ranks BLIS configurations cheaply
    (the rest of a step does not depend on BLIS). The best repetition, not
    the median: other load on the machine only ever slows a repetition down."""
    import torch
    torch.manual_seed(0)
    x, w, dy = torch.randn(rows, C), torch.randn(I, C), torch.randn(rows, I)
    q = torch.randn(batch * H, T, C // H)

    def run():
        x.matmul(w.t())
        dy.matmul(w)
        dy.t().matmul(x)
        q.bmm(q.transpose(1, 2))

    run()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    flop = 3 * 2.0 * rows * C * I + 2.0 * batch * H * T * T * (C // H)
    return flop / min(times) * 1e-9


def maxrss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
