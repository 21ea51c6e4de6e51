#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# fashion_mnist train on a non-finite loss: exit status 3 and a message naming epoch and step, and --save PATH
# holds the last completed epoch (byte-identical to a run that stopped there) or is left untouched.
"""Usage: nonfinite_loss.py FASHION_MNIST_BINARY. Exit 0 pass, 1 fail, 77 skip (no Fashion-MNIST files)."""
import os
import re
import subprocess
import sys
import tempfile

# Adam moves every weight with a gradient by about lr in its first step, so with lr = 1e30 the weights stay finite
# but the next forward multiplies two of them (conv2's weight by BN1's γ-scaled output): 1e60 overflows float
# to inf, and BatchNorm's statistics then give inf − inf = NaN, whatever the summation order or precision.
# One batch per epoch (--limit 64 --batch 64): epoch 1 ends after the first step, epoch 2's first loss is NaN.
DIVERGE = ["--lr", "1e30", "--schedule", "constant", "--batch", "64", "--threads", "1", "--seed", "5"]
DIVERGED_STATUS = 3

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(binary, *args):
    p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=300)
    print("$ fashion_mnist " + " ".join(args) + f"\n  -> status {p.returncode}\n  stderr: {p.stderr.strip()}")
    return p


def where(stderr):
    """(epoch, step) from 'non-finite loss (nan) at epoch E, step S of N', or None."""
    m = re.search(r"non-finite loss \((nan|inf|-inf)\) at epoch (\d+), step (\d+) of (\d+)", stderr)
    return (int(m.group(2)), int(m.group(3))) if m else None


def main():
    binary = sys.argv[1]
    data = os.environ.get("FUSENET_DATA") or "/usr/share/datasets/fashion-mnist"
    if not os.path.isdir(data):
        print(f"skipped: {data} is absent (apt-get install dataset-fashion-mnist)")
        return 77
    with tempfile.TemporaryDirectory(prefix="fusenet_nonfinite_") as tmp:
        # 1. Diverges in epoch 1 (two steps, the second is NaN): an existing PATH stays byte-identical.
        path = os.path.join(tmp, "existing.safetensors")
        before = b"not a checkpoint: must survive a diverged run\n"
        with open(path, "wb") as f:
            f.write(before)
        p = run(binary, "train", "--epochs", "1", "--limit", "128", *DIVERGE, "--save", path)
        check(p.returncode == DIVERGED_STATUS, f"epoch-1 divergence exits with status {DIVERGED_STATUS}")
        check(where(p.stderr) == (1, 2), "the message names epoch 1, step 2")
        check(f"no epoch completed; {path} not written" in p.stderr, "the message says PATH was not written")
        with open(path, "rb") as f:
            check(f.read() == before, "the existing --save file is unchanged")
        check(sorted(os.listdir(tmp)) == ["existing.safetensors"], "no temporary file is left behind")

        # 2. Epoch 1 (one step) completes and is saved; epoch 2's first step diverges.
        kept = os.path.join(tmp, "kept.safetensors")
        p = run(binary, "train", "--epochs", "2", "--limit", "64", *DIVERGE, "--save", kept)
        check(p.returncode == DIVERGED_STATUS, f"epoch-2 divergence exits with status {DIVERGED_STATUS}")
        check(where(p.stderr) == (2, 1), "the message names epoch 2, step 1")
        check(f"kept the checkpoint of epoch 1 in {kept}" in p.stderr, "the message names the kept checkpoint")
        # Oracle: the same run asked for one epoch only ends normally there and saves the same weights.
        one = os.path.join(tmp, "one_epoch.safetensors")
        p = run(binary, "train", "--epochs", "1", "--limit", "64", *DIVERGE, "--save", one)
        check(p.returncode == 0, "a one-epoch run of the same settings succeeds")
        with open(kept, "rb") as a, open(one, "rb") as b:
            check(a.read() == b.read(), "the kept file equals the one-epoch run's checkpoint byte for byte")
        p = run(binary, "eval", "--weights", kept)
        check(p.returncode == 0 and "test accuracy" in p.stdout, "eval loads the kept checkpoint")

        # 3. Without --save the message still names the place and the status is the same.
        p = run(binary, "train", "--epochs", "1", "--limit", "128", *DIVERGE)
        check(p.returncode == DIVERGED_STATUS and where(p.stderr) == (1, 2), "without --save: status 3, epoch and step")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
