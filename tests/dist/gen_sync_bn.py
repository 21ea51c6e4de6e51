#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Writes the PyTorch fixtures for tests/dist/torch_sync_bn.cpp: a small conv + BatchNorm + ReLU + pool + dense +
# BatchNorm1d + dense network trained data-parallel by 2 processes (torch.distributed, gloo) at 16 images each,
# with synchronized BatchNorm, for 3 SGD and 3 Adam steps; and, as the fixture, the same training by one process
# with plain BatchNorm over the global batch of 32. The script checks that the two agree (to 1e-12 in float64)
# before writing: synchronized BatchNorm over 2 x B/2 is BatchNorm over B.
# Run with the system Python that has torch:  /usr/bin/python3 tests/dist/gen_sync_bn.py
#
# torch 1.13's nn.SyncBatchNorm runs only on CUDA, so the processes use SyncBN below: the same computation as
# torch.nn.modules._functions.SyncBatchNorm (per-channel count, sum and sum of squares allreduced in forward,
# the biased variance for normalising, the unbiased one for running_var), with torch.distributed.nn's
# differentiable all_reduce giving the backward's two allreduced sums. The gradients are then averaged over the
# processes as DDP does. The initial state is drawn in float32 (what the C++ test loads); everything after is
# float64, stored as float32.
import os
import sys
import tempfile

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
import torch.multiprocessing as mp
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from fusenet_torch import save_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "sync_bn")
RANKS, GLOBAL, STEPS = 2, 32, 3
OPTIMIZERS = {"sgd": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, foreach=False),
              "adam": lambda p: torch.optim.Adam(p, lr=1e-2, foreach=False)}


class SyncBN(nn.BatchNorm1d):
    """BatchNorm over every process's batch (1-d or 2-d by the input's rank), as torch.nn.SyncBatchNorm."""

    def _check_input_dim(self, x):
        pass

    def forward(self, x):
        dims = [0] if x.dim() == 2 else [0, 2, 3]
        shape = [1, -1] + [1] * (x.dim() - 2)
        n = x.numel() // x.shape[1] * dist.get_world_size()
        s = dist_fn.all_reduce(x.sum(dims))
        sq = dist_fn.all_reduce((x * x).sum(dims))
        mean = s / n
        var = sq / n - mean * mean
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.running_var.mul_(1 - self.momentum).add_(self.momentum * var * n / (n - 1))
            self.num_batches_tracked += 1
        return (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps) * self.weight.view(shape) + \
            self.bias.view(shape)


def make(norm2d, norm1d):
    # fusenet: input<3,8,8>, conv2d<16,3,padding<1>,bias<false>>, batch_norm, relu, max_pool<2>, flatten,
    # dense<32,bias<false>>, batch_norm, relu, dense<10>
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), norm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(256, 32, bias=False), norm1d(32), nn.ReLU(), nn.Linear(32, 10))


def train(net, opt, x, labels, average):
    """STEPS steps; returns the losses (the global batch's mean) and the first step's logits."""
    losses, first_logits = [], None
    for _ in range(STEPS):
        opt.zero_grad()
        logits = net(x)
        loss = nn.functional.cross_entropy(logits, labels)
        loss.backward()
        if first_logits is None:
            first_logits = logits.detach().clone()
        losses.append(average(loss.detach().clone()))
        if average is not None:
            for p in net.parameters():
                average(p.grad)
        opt.step()
    return losses, first_logits


def rank_main(rank, store, init, x, labels, results):
    dist.init_process_group("gloo", init_method="file://" + store, rank=rank, world_size=RANKS)

    def average(t):  # in place, as DDP's gradient allreduce
        dist.all_reduce(t)
        t /= RANKS
        return t

    per = GLOBAL // RANKS
    xs, ys = x[rank * per:(rank + 1) * per], labels[rank * per:(rank + 1) * per]
    for name, make_opt in OPTIMIZERS.items():
        net = make(SyncBN, SyncBN).double()
        net.load_state_dict(init)
        losses, logits = train(net, make_opt(net.parameters()), xs, ys, average)
        results[(rank, name)] = ({k: v.clone() for k, v in net.state_dict().items()}, losses, logits)
    dist.destroy_process_group()


def main():
    torch.manual_seed(20261202)
    init = {k: v.clone() for k, v in make(nn.BatchNorm2d, nn.BatchNorm1d).state_dict().items()}
    x = torch.randn(GLOBAL, 3, 8, 8)
    labels = torch.randint(0, 10, (GLOBAL,), dtype=torch.int64)
    os.makedirs(OUT, exist_ok=True)
    save_safetensors(init, os.path.join(OUT, "init.safetensors"))
    np.save(os.path.join(OUT, "x.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(OUT, "labels.npy"), labels.numpy())

    with tempfile.TemporaryDirectory() as tmp, mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(rank_main, args=(os.path.join(tmp, "store"), init, x.double(), labels, results), nprocs=RANKS)
        results = dict(results)

    for name, make_opt in OPTIMIZERS.items():
        net = make(nn.BatchNorm2d, nn.BatchNorm1d).double()
        net.load_state_dict(init)
        net.train()
        losses, logits = train(net, make_opt(net.parameters()), x.double(), labels, lambda t: t)
        state = net.state_dict()
        # the oracle's own check: 2 synchronized processes train exactly as one process at the global batch
        for rank in range(RANKS):
            r_state, r_losses, r_logits = results[(rank, name)]
            per = GLOBAL // RANKS
            assert torch.allclose(r_logits, logits[rank * per:(rank + 1) * per], rtol=1e-12, atol=1e-12), name
            for a, b in zip(r_losses, losses):
                assert abs(a.item() - b.item()) <= 1e-12 * abs(b.item()), name
            for k in state:
                assert torch.allclose(r_state[k].double(), state[k].double(), rtol=1e-10, atol=1e-12), (name, k)
        save_safetensors({k: v.float() if v.is_floating_point() else v for k, v in state.items()},
                         os.path.join(OUT, "after_" + name + ".safetensors"))
        np.save(os.path.join(OUT, name + "_losses.npy"), np.array([v.item() for v in losses], dtype=np.float32))
        np.save(os.path.join(OUT, name + "_logits.npy"), logits.numpy().astype(np.float32))
    print("sync_bn fixtures written to", OUT)


if __name__ == "__main__":
    main()
