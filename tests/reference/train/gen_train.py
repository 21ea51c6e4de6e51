#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Writes the PyTorch fixtures for fusenet's optimizers, schedules and losses (tests/reference/train/*.cpp).
# Run with the system Python that has torch:  /usr/bin/python3 tests/reference/train/gen_train.py
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
STEPS = 3


def save(name, array):
    np.save(os.path.join(OUT, name + ".npy"), array)


def f32(t):
    return t.detach().numpy().astype(np.float32)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(20240601)

    # Two parameter tensors (a 4x3 weight and a 5-element bias) and a fixed gradient per step.
    init = [torch.randn(4, 3), torch.randn(5)]
    grads = [torch.randn(STEPS, 4, 3), torch.randn(STEPS, 5)]
    save("init_p0", f32(init[0]))
    save("init_p1", f32(init[1]))
    save("grads_p0", f32(grads[0]))
    save("grads_p1", f32(grads[1]))

    # name -> (optimizer class, keyword arguments); foreach=False selects the single-tensor path fusenet mirrors.
    configs = {
        "sgd_plain": (torch.optim.SGD, dict(lr=0.1)),
        "sgd_momentum": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=1e-2)),
        "sgd_nesterov": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
        "adam_default": (torch.optim.Adam, dict()),
        "adam_weight_decay": (torch.optim.Adam, dict(lr=0.01, weight_decay=1e-2)),
        "adamw": (torch.optim.AdamW, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    }
    for name, (cls, kwargs) in configs.items():
        params = [p.clone().requires_grad_(True) for p in init]
        opt = cls(params, foreach=False, **kwargs)
        rows = []
        for s in range(STEPS):
            for p, g in zip(params, grads):
                p.grad = g[s].clone()
            opt.step()
            rows.append(np.concatenate([f32(p).ravel() for p in params]))
        # Row s: all parameters (p0 flattened, then p1) after step s + 1.
        save(name, np.stack(rows).astype(np.float32))

    # Schedules: the lr seen by the optimizer during epochs 0..9 (scheduler.step() at the end of each epoch).
    def lrs(make):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        sched = make(opt)
        out = []
        for _ in range(10):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return np.array(out, dtype=np.float64)

    save("step_lr", lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)))
    save("cosine_lr", lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=1e-3)))
    save("cosine_lr_tmax4", lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=1e-3)))

    # Cross-entropy (mean) on moderate logits and on large ones that overflow a naive exp in float.
    labels = torch.randint(0, 5, (6,), dtype=torch.int64)
    save("ce_labels", labels.numpy().astype(np.int64))
    for name, scale in (("ce", 3.0), ("ce_large", 60.0)):
        logits = (torch.randn(6, 5) * scale).requires_grad_(True)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        save(name + "_logits", f32(logits))
        save(name + "_loss", np.array([loss.item()], dtype=np.float32))
        save(name + "_grad", f32(logits.grad))

    # Mean squared error.
    pred = torch.randn(4, 3).requires_grad_(True)
    target = torch.randn(4, 3)
    loss = F.mse_loss(pred, target)
    loss.backward()
    save("mse_pred", f32(pred))
    save("mse_target", f32(target))
    save("mse_loss", np.array([loss.item()], dtype=np.float32))
    save("mse_grad", f32(pred.grad))


if __name__ == "__main__":
    main()
