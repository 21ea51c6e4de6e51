#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Generate the PyTorch fixtures for the scalar reference loops (tests/reference/ops/reference_ops.cpp).

Run with /usr/bin/python3 (the interpreter that has torch):  /usr/bin/python3 tests/reference/ops/gen_ops.py

For every case it writes fixtures/<case>_<tensor>.npy: the inputs and parameters, the forward output y, the
fixed random r of the loss L = (y * r).sum(), and the gradients of L (d<name>). Inputs are drawn as float32 and
then computed on in float64, so each stored float32 result is the correctly rounded exact value and the C++
tolerance only has to absorb the C++ side's own rounding. Integer facts the C++ side needs (stride, padding,
...) go to <case>_config.npy as int64, so the geometry is written down only here.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def f32(*shape, lo=-1.0, hi=1.0):
    """A float32-exact tensor in [lo, hi), held as float64 for the computation."""
    return (torch.rand(*shape, dtype=torch.float32) * (hi - lo) + lo).double()


def save(case, name, t):
    a = t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t)
    a = a.astype(np.int64) if np.issubdtype(a.dtype, np.integer) else a.astype(np.float32)
    np.save(os.path.join(OUT, f"{case}_{name}.npy"), a)


def run(case, fn, inputs, config=None):
    """y = fn(**inputs); saves inputs, y, r and the gradient of (y * r).sum() for every input."""
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    y = fn(**leaves)
    r = f32(*y.shape)
    (y * r).sum().backward()
    for k, v in inputs.items():
        save(case, k, v)
        save(case, "d" + k, leaves[k].grad)
    save(case, "y", y)
    save(case, "r", r)
    if config is not None:
        save(case, "config", np.array(config, dtype=np.int64))
    return leaves


def conv_cases():
    # case: (N, Cin, H, W, Cout, K, stride, padding, dilation, groups, bias)
    cases = {
        "conv_pad1": (2, 3, 6, 6, 4, 3, 1, 1, 1, 1, True),
        "conv_stride2": (2, 3, 7, 7, 4, 3, 2, 0, 1, 1, True),
        "conv_dilation2": (2, 3, 8, 7, 4, 3, 1, 2, 2, 1, True),
        "conv_groups2": (2, 4, 6, 5, 6, 3, 1, 1, 1, 2, True),
        "conv_nobias": (2, 3, 6, 6, 4, 3, 1, 1, 1, 1, False),
        "conv_k5": (2, 2, 9, 7, 3, 5, 1, 2, 1, 1, True),
    }
    for case, (n, cin, h, w, cout, k, s, p, d, g, bias) in cases.items():
        inputs = {"x": f32(n, cin, h, w), "weight": f32(cout, cin // g, k, k)}
        if bias:
            inputs["bias"] = f32(cout)
        run(case,
            lambda x, weight, bias=None: F.conv2d(x, weight, bias, stride=s, padding=p, dilation=d, groups=g),
            inputs, config=[s, p, d, g])


def batch_norm_cases():
    # One training forward (batch statistics, running stats updated with momentum 0.1), then eval on the same x.
    for case, shape in {"bn1d": (8, 4), "bn2d": (4, 3, 5, 5)}.items():
        c = shape[1]
        bn = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(c, eps=1e-5, momentum=0.1).double()
        x = f32(*shape, lo=-2.0, hi=3.0)
        with torch.no_grad():
            bn.weight.copy_(f32(c, lo=0.5, hi=1.5))
            bn.bias.copy_(f32(c))
            bn.running_mean.copy_(f32(c))
            bn.running_var.copy_(f32(c, lo=0.5, hi=2.0))
        save(case, "running_mean_before", bn.running_mean)
        save(case, "running_var_before", bn.running_var)
        save(case, "weight", bn.weight)
        save(case, "bias", bn.bias)
        save(case, "x", x)
        for mode in ("train", "eval"):
            bn.train(mode == "train")
            bn.zero_grad()
            xl = x.clone().requires_grad_(True)
            y = bn(xl)
            r = f32(*y.shape)
            (y * r).sum().backward()
            save(case, f"{mode}_y", y)
            save(case, f"{mode}_r", r)
            save(case, f"{mode}_dx", xl.grad)
            save(case, f"{mode}_dweight", bn.weight.grad)
            save(case, f"{mode}_dbias", bn.bias.grad)
            if mode == "train":
                with torch.no_grad():  # eval must run on exactly the float32 values the C++ side loads
                    bn.running_mean.copy_(bn.running_mean.float().double())
                    bn.running_var.copy_(bn.running_var.float().double())
                save(case, "running_mean", bn.running_mean)
                save(case, "running_var", bn.running_var)


def pool_cases():
    # case: (N, C, H, W, kernel, stride, padding)
    cases = {"k2": (2, 3, 6, 6, 2, 2, 0), "k3s2p1": (2, 3, 7, 7, 3, 2, 1)}
    for name, (n, c, h, w, k, s, p) in cases.items():
        # A random permutation of well-spaced values: no ties, so PyTorch's argmax is unambiguous.
        x = (torch.randperm(n * c * h * w).double() * 0.125 - 10.0).reshape(n, c, h, w)
        run(f"max_pool_{name}", lambda x: F.max_pool2d(x, k, s, p), {"x": x}, config=[k, s, p])
        _, idx = F.max_pool2d(x, k, s, p, return_indices=True)
        save(f"max_pool_{name}", "argmax", idx)
        run(f"avg_pool_{name}", lambda x: F.avg_pool2d(x, k, s, p), {"x": f32(n, c, h, w)}, config=[k, s, p])
    run("adaptive_avg_pool", lambda x: F.adaptive_avg_pool2d(x, 1), {"x": f32(2, 3, 5, 4)})


def other_cases():
    run("linear", lambda x, weight, bias: F.linear(x, weight, bias),
        {"x": f32(4, 6), "weight": f32(5, 6), "bias": f32(5)})
    run("relu", lambda x: F.relu(x), {"x": f32(3, 17)})
    run("leaky_relu", lambda x: F.leaky_relu(x, 0.2), {"x": f32(3, 17)})
    run("sigmoid", lambda x: torch.sigmoid(x), {"x": f32(3, 17, lo=-6.0, hi=6.0)})
    run("tanh", lambda x: torch.tanh(x), {"x": f32(3, 17, lo=-3.0, hi=3.0)})
    # Special values (drawn last, so the random cases above keep their numbers): relu and leaky_relu keep NaN and
    # ±inf; at NaN the gradient is that of x <= 0 (threshold_backward: 0; leaky_relu_backward: slope · r).
    nan, inf = float("nan"), float("inf")
    special = torch.tensor([[nan, inf, -inf, 0.0, -0.0, 1.0], [-1.0, 0.5, -0.5, nan, 3.0, -3.0]], dtype=torch.float64)
    run("relu_special", lambda x: F.relu(x), {"x": special})
    run("leaky_relu_special", lambda x: F.leaky_relu(x, 0.2), {"x": special})


if __name__ == "__main__":
    torch.manual_seed(1234)
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".npy"):
            os.remove(os.path.join(OUT, f))
    conv_cases()
    batch_norm_cases()
    pool_cases()
    other_cases()
