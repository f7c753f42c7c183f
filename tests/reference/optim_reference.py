"""Goldens of the optimizers TrainingArguments.optim names, for tests/test_optim.c.

    /usr/bin/python3 tests/reference/optim_reference.py [OUT_DIR]
        (default tests/data/goldens/optim) writes
        grads.safetensors      the parameter table (metadata "params": JSON
                               [[name, shape, no_decay], ...]), the initial
                               parameters "param.<name>" and the gradients of
                               each step "grad.<step>.<name>" (step 1..STEPS)
        <case>.safetensors     for each case below: the parameters after step
                               1 and after the last ("after.<step>.<name>"),
                               the optimizer's state_dict() after the last step
                               ("state.<name>.<key>": every tensor of the
                               state, and step: an I64 scalar where torch keeps
                               a Python int), and in the metadata the case
                               ("case": JSON), the learning rate of each step
                               ("lrs"), clip_grad_norm_'s total norm and
                               float32 coefficient of each step ("norms",
                               "coefs"), and state_dict()["param_groups"]
                               ("param_groups": JSON).

The three optimizers, written from their source:
  adamw_torch  torch.optim.AdamW itself (torch 1.13 here, foreach=False);
  adamw_hf     transformers.AdamW (src/transformers/optimization.py of 4.49
               and earlier, class AdamW; removed in 4.50), re-implemented
               below line for line;
  adafactor    transformers.Adafactor (optimization.py, class Adafactor, as of
               4.56), re-implemented below line for line, with the arguments
               Trainer.get_optimizer_cls_and_kwargs gives it for
               optim="adafactor": lr=args.learning_rate, scale_parameter=False,
               relative_step=False.
Each step is what Trainer's loop does: gradients set, clip_grad_norm_(params,
max_grad_norm) when max_norm > 0 (torch 1.13's: the norm of the per-tensor
norms, coef = max_norm/(norm + 1e-6) clamped at 1, grads *= coef in float32),
optimizer.step(), then the LambdaLR of get_linear_schedule_with_warmup steps.
Groups as Trainer.create_optimizer makes them ("trainer": weight_decay on the
parameters without no_decay, 0.0 on the others) or one group of every
parameter ("one": the seed's `AdamW(model.parameters(), lr=...)`).

Deterministic (a seeded generator, one thread, float32).

    /usr/bin/python3 tests/reference/optim_reference.py check-checkpoint CKPT_DIR
        loads a libmlm checkpoint's optimizer.safetensors as the torch
        state_dict it stands for (the per-parameter tensors by the groups'
        param_names, param_groups from the metadata) into the optimizer of its
        kind over the checkpoint's parameters with load_state_dict, and checks
        that state_dict() gives every tensor back; exits 1 on a mismatch.
"""

import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_io as st  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
STEPS = 5

# Mixed shapes: an embedding-shaped matrix (several blocks of rows, a zero
# padding row), non-square and square matrices, a one-column matrix (factored
# by Adafactor all the same), vectors, one longer than a block of elements.
PARAMS = [
    ("emb.weight", (96, 24), False),
    ("layer.weight", (24, 20), False),
    ("layer.bias", (24,), True),
    ("norm.weight", (20,), True),
    ("head.weight", (7, 67), False),
    ("head.bias", (8200,), True),
    ("sq.weight", (16, 16), False),
    ("col.weight", (33, 1), False),
]

CASES = {
    # the Trainer's defaults: two groups, clipping at 1.0, warmup then decay
    "adamw_torch": dict(optim="adamw_torch", lr=1e-3, weight_decay=0.01, eps=1e-8,
                        groups="trainer", max_norm=1.0, warmup=1),
    "adamw_torch_nowd": dict(optim="adamw_torch", lr=2e-3, weight_decay=0.0, eps=1e-8,
                             groups="trainer", max_norm=0.0, warmup=0),
    # Trainer(optim="adamw_hf"): adam_epsilon, the two groups
    "adamw_hf": dict(optim="adamw_hf", lr=1e-3, weight_decay=0.01, eps=1e-8,
                     groups="trainer", max_norm=1.0, warmup=1),
    # the seed's AdamW(model.parameters()) with its eps default, one group
    # (decay on every parameter here, to see that it applies to all of them)
    "adamw_hf_seed": dict(optim="adamw_hf", lr=1e-3, weight_decay=0.01, eps=1e-6,
                          groups="one", max_norm=0.0, warmup=0),
    "adafactor": dict(optim="adafactor", lr=1e-3, weight_decay=0.01, groups="trainer",
                      max_norm=1.0, warmup=1),
    "adafactor_nowd": dict(optim="adafactor", lr=2e-3, weight_decay=0.0, groups="trainer",
                           max_norm=0.0, warmup=0),
}


class HFAdamW(torch.optim.Optimizer):
    """transformers.AdamW (optimization.py up to 4.49)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0,
                 correct_bias=True):
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "correct_bias": correct_bias}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                beta1, beta2 = group["betas"]
                state["step"] += 1
                exp_avg.mul_(beta1).add_(grad, alpha=(1.0 - beta1))
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
                denom = exp_avg_sq.sqrt().add_(group["eps"])
                step_size = group["lr"]
                if group["correct_bias"]:
                    bias_correction1 = 1.0 - beta1 ** state["step"]
                    bias_correction2 = 1.0 - beta2 ** state["step"]
                    step_size = step_size * math.sqrt(bias_correction2) / bias_correction1
                p.addcdiv_(exp_avg, denom, value=-step_size)
                if group["weight_decay"] > 0.0:
                    p.add_(p, alpha=(-group["lr"] * group["weight_decay"]))
        return None


class Adafactor(torch.optim.Optimizer):
    """transformers.Adafactor (optimization.py, 4.56)."""

    def __init__(self, params, lr=None, eps=(1e-30, 1e-3), clip_threshold=1.0,
                 decay_rate=-0.8, beta1=None, weight_decay=0.0, scale_parameter=True,
                 relative_step=True, warmup_init=False):
        if lr is not None and relative_step:
            raise ValueError("Cannot combine manual `lr` and `relative_step=True` options")
        if warmup_init and not relative_step:
            raise ValueError("`warmup_init=True` requires `relative_step=True`")
        defaults = {"lr": lr, "eps": eps, "clip_threshold": clip_threshold,
                    "decay_rate": decay_rate, "beta1": beta1, "weight_decay": weight_decay,
                    "scale_parameter": scale_parameter, "relative_step": relative_step,
                    "warmup_init": warmup_init}
        super().__init__(params, defaults)

    @staticmethod
    def _get_lr(param_group, param_state):
        rel_step_sz = param_group["lr"]
        if param_group["relative_step"]:
            min_step = 1e-6 * param_state["step"] if param_group["warmup_init"] else 1e-2
            rel_step_sz = min(min_step, 1.0 / math.sqrt(param_state["step"]))
        param_scale = 1.0
        if param_group["scale_parameter"]:
            param_scale = max(param_group["eps"][1], param_state["RMS"])
        return param_scale * rel_step_sz

    @staticmethod
    def _get_options(param_group, param_shape):
        factored = len(param_shape) >= 2
        use_first_moment = param_group["beta1"] is not None
        return factored, use_first_moment

    @staticmethod
    def _rms(tensor):
        return tensor.norm(2) / (tensor.numel() ** 0.5)

    @staticmethod
    def _approx_sq_grad(exp_avg_sq_row, exp_avg_sq_col):
        r_factor = (exp_avg_sq_row / exp_avg_sq_row.mean(dim=-1, keepdim=True)).rsqrt_().unsqueeze(-1)
        c_factor = exp_avg_sq_col.unsqueeze(-2).rsqrt()
        return torch.mul(r_factor, c_factor)

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.state[p]
                grad_shape = grad.shape
                factored, use_first_moment = self._get_options(group, grad_shape)
                if len(state) == 0:
                    state["step"] = 0
                    if use_first_moment:
                        state["exp_avg"] = torch.zeros_like(grad)
                    if factored:
                        state["exp_avg_sq_row"] = torch.zeros(grad_shape[:-1]).to(grad)
                        state["exp_avg_sq_col"] = torch.zeros(grad_shape[:-2] + grad_shape[-1:]).to(grad)
                    else:
                        state["exp_avg_sq"] = torch.zeros_like(grad)
                    state["RMS"] = 0
                p_data_fp32 = p
                state["step"] += 1
                state["RMS"] = self._rms(p_data_fp32)
                lr = self._get_lr(group, state)
                beta2t = 1.0 - math.pow(state["step"], group["decay_rate"])
                update = (grad**2) + group["eps"][0]
                if factored:
                    exp_avg_sq_row = state["exp_avg_sq_row"]
                    exp_avg_sq_col = state["exp_avg_sq_col"]
                    exp_avg_sq_row.mul_(beta2t).add_(update.mean(dim=-1), alpha=(1.0 - beta2t))
                    exp_avg_sq_col.mul_(beta2t).add_(update.mean(dim=-2), alpha=(1.0 - beta2t))
                    update = self._approx_sq_grad(exp_avg_sq_row, exp_avg_sq_col)
                    update.mul_(grad)
                else:
                    exp_avg_sq = state["exp_avg_sq"]
                    exp_avg_sq.mul_(beta2t).add_(update, alpha=(1.0 - beta2t))
                    update = exp_avg_sq.rsqrt().mul_(grad)
                update.div_((self._rms(update) / group["clip_threshold"]).clamp_(min=1.0))
                update.mul_(lr)
                if use_first_moment:
                    exp_avg = state["exp_avg"]
                    exp_avg.mul_(group["beta1"]).add_(update, alpha=(1 - group["beta1"]))
                    update = exp_avg
                if group["weight_decay"] != 0:
                    p_data_fp32.add_(p_data_fp32, alpha=(-group["weight_decay"] * lr))
                p_data_fp32.add_(-update)
        return None


def linear_lambda(warmup, total):
    """transformers' _get_linear_schedule_with_warmup_lr_lambda."""
    def f(current_step):
        if current_step < warmup:
            return float(current_step) / float(max(1, warmup))
        return max(0.0, float(total - current_step) / float(max(1, total - warmup)))
    return f


def make_inputs():
    g = torch.Generator().manual_seed(20240614)
    init = {}
    for name, shape, _ in PARAMS:
        x = torch.randn(shape, generator=g) * 0.05
        if name == "norm.weight":
            x += 1.0
        init[name] = x
    scales = [0.02, 0.005, 0.01, 0.003, 0.015]
    grads = []
    for s in range(STEPS):
        step = {}
        for name, shape, _ in PARAMS:
            x = torch.randn(shape, generator=g) * scales[s]
            if name == "emb.weight":
                x[0].zero_()                  # a padding row: no gradient
            if name == "layer.weight":
                x[0, :5] = 1e-9 * (s + 1)     # noise-level gradients: eps decides
            if name == "head.bias":
                x[:100].zero_()               # never a gradient
            if name == "sq.weight":
                x[3, 3] = 1e-3 * (-1) ** s    # alternating sign: m cancels
            step[name] = x
        grads.append(step)
    return init, grads


def run_case(case, init, grads):
    torch.manual_seed(0)
    params = {name: torch.nn.Parameter(init[name].clone()) for name, _, _ in PARAMS}
    table = [(name, params[name], no_decay) for name, _, no_decay in PARAMS]
    wd = case["weight_decay"]
    if case["groups"] == "one":
        groups = [{"params": [p for _, p, _ in table], "weight_decay": wd}]
    else:  # Trainer.create_optimizer: decay group first
        groups = [{"params": [p for _, p, nd in table if not nd], "weight_decay": wd},
                  {"params": [p for _, p, nd in table if nd], "weight_decay": 0.0}]
    kind = case["optim"]
    if kind == "adamw_torch":
        opt = torch.optim.AdamW(groups, lr=case["lr"], betas=(0.9, 0.999), eps=case["eps"])
    elif kind == "adamw_hf":
        opt = HFAdamW(groups, lr=case["lr"], betas=(0.9, 0.999), eps=case["eps"])
    else:
        opt = Adafactor(groups, lr=case["lr"], scale_parameter=False, relative_step=False)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_lambda(case["warmup"], STEPS))
    out, lrs, norms, coefs = {}, [], [], []
    ordered = [p for _, p, _ in table]
    for s in range(STEPS):
        for name, p, _ in table:
            p.grad = grads[s][name].clone()
        lrs.append(opt.param_groups[0]["lr"])
        if case["max_norm"] > 0:
            # torch 1.13's clip_grad_norm_ (norm_type 2), spelled out to keep
            # the float32 coefficient it multiplies by
            total = torch.norm(torch.stack([torch.norm(p.grad.detach(), 2.0) for p in ordered]), 2.0)
            coef = case["max_norm"] / (total + 1e-6)
            coef = torch.clamp(coef, max=1.0)
            for p in ordered:
                p.grad.detach().mul_(coef)
            norms.append(float(total))
            coefs.append(float(coef))
        else:
            norms.append(None)
            coefs.append(1.0)
        opt.step()
        sched.step()
        if s + 1 in (1, STEPS):
            for name, p, _ in table:
                out[f"after.{s + 1}.{name}"] = p.detach().clone()
    sd = opt.state_dict()
    index = {id(p): i for i, p in enumerate(p for g in opt.param_groups for p in g["params"])}
    for name, p, _ in table:
        for key, v in sd["state"][index[id(p)]].items():
            if isinstance(v, torch.Tensor):
                out[f"state.{name}.{key}"] = v.detach().clone()
            else:
                out[f"state.{name}.{key}"] = torch.tensor(v, dtype=torch.int64)
    pg = []
    for g in sd["param_groups"]:
        pg.append({k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()})
    meta = {"case": json.dumps(case), "lrs": json.dumps(lrs), "norms": json.dumps(norms),
            "coefs": json.dumps(coefs), "param_groups": json.dumps(pg)}
    return out, meta


def check_checkpoint(ckpt):
    meta, tensors = st.read_metadata(os.path.join(ckpt, "optimizer.safetensors"))[0], \
        st.load_torch(os.path.join(ckpt, "optimizer.safetensors"))
    weights = st.load_torch(os.path.join(ckpt, "model.safetensors"))
    kind = meta["optim"]
    groups = json.loads(meta["param_groups"])
    state, torch_groups, params = {}, [], {}
    for g in groups:
        names = g.pop("param_names")
        for idx, name in zip(g["params"], names):
            params[idx] = torch.nn.Parameter(weights[name].clone())
            state[idx] = {key[len(name) + 1:]: v for key, v in tensors.items()
                          if key.startswith(name + ".") and "." not in key[len(name) + 1:]}
            if kind != "adamw_torch":  # a Python int in torch's state
                state[idx]["step"] = int(state[idx]["step"])
            if kind == "adafactor":
                state[idx]["RMS"] = state[idx]["RMS"].reshape(())
        torch_groups.append(g)
    ctor_groups = [{"params": [params[i] for i in g["params"]]} for g in torch_groups]
    if kind == "adamw_torch":
        opt = torch.optim.AdamW(ctor_groups)
    elif kind == "adamw_hf":
        opt = HFAdamW(ctor_groups)
    else:
        opt = Adafactor(ctor_groups, lr=1e-3, scale_parameter=False, relative_step=False)
    if kind == "adamw_torch":  # torch 2.x's keys that 1.13 does not know
        for g in torch_groups:
            g.pop("differentiable", None)
            g.pop("fused", None)
    opt.load_state_dict({"state": state, "param_groups": torch_groups})
    back = opt.state_dict()
    bad = 0
    for idx, st_ in state.items():
        for key, v in st_.items():
            w = back["state"][idx][key]
            same = torch.equal(torch.as_tensor(w), torch.as_tensor(v))
            bad += not same
    for g, h in zip(back["param_groups"], torch_groups):
        for key in h:
            if key != "params" and (list(g[key]) if isinstance(g[key], tuple) else g[key]) != h[key]:
                print(f"param_groups {key}: {g[key]} vs {h[key]}")
                bad += 1
    print(f"{ckpt}: {kind}, {len(state)} parameters, "
          f"{sum(len(s) for s in state.values())} state entries loaded by load_state_dict; "
          f"{bad} mismatches")
    return 1 if bad else 0


def main():
    torch.set_num_threads(1)
    if len(sys.argv) > 2 and sys.argv[1] == "check-checkpoint":
        sys.exit(check_checkpoint(sys.argv[2]))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests/data/goldens/optim")
    os.makedirs(out_dir, exist_ok=True)
    init, grads = make_inputs()
    tensors = {f"param.{n}": init[n].clone() for n, _, _ in PARAMS}
    for s in range(STEPS):
        for n, _, _ in PARAMS:
            tensors[f"grad.{s + 1}.{n}"] = grads[s][n].clone()
    meta = {"params": json.dumps([[n, list(sh), nd] for n, sh, nd in PARAMS]),
            "steps": str(STEPS), "torch": torch.__version__}
    st.save_file(tensors, os.path.join(out_dir, "grads.safetensors"), meta)
    for name, case in CASES.items():
        t, m = run_case(case, init, grads)
        st.save_file(t, os.path.join(out_dir, f"{name}.safetensors"), m)
        print(f"{name}: lrs {m['lrs']} coefs {m['coefs']}")


if __name__ == "__main__":
    main()
