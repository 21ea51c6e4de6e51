#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# fashion_mnist train on the library's loop: SIGINT and SIGTERM finish the step, write a checkpoint and the log,
# say where, and exit with 130 / 143; --resume then ends with weights byte-identical to an uninterrupted run of
# the same options (and the same CSV rows, seconds aside); the CSV log's format; bad --resume input is refused
# with a message naming the file and the problem.
"""Usage: resume_and_signals.py FASHION_MNIST_BINARY. Exit 0 pass, 1 fail, 77 skip (no Fashion-MNIST files)."""
import csv
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

# 2048 images in batches of 64: 32 steps per epoch; 3 epochs on one thread take a few seconds.
RUN = ["train", "--limit", "2048", "--epochs", "3", "--batch", "64", "--threads", "1", "--seed", "9"]
HEADER = ["epoch", "steps", "lr", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds"]

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(binary, *args):
    p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=600)
    print("$ fashion_mnist " + " ".join(args) + f"\n  -> status {p.returncode}\n  stderr: {p.stderr.strip()}")
    return p


def interrupted(binary, sig, delay, *args):
    """Starts a run, sends `sig` `delay` seconds after epoch 1 is reported, returns (status, stdout, stderr)."""
    p = subprocess.Popen([binary, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = []
    for line in p.stdout:
        out.append(line)
        if line.startswith("epoch 1 "):
            time.sleep(delay)
            p.send_signal(sig)
            break
    rest, err = p.communicate(timeout=600)
    print("$ fashion_mnist " + " ".join(args) + f" (signal {sig.name} after epoch 1)\n  -> status {p.returncode}"
          f"\n  stderr: {err.strip()}")
    return p.returncode, "".join(out) + rest, err


def rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    binary = sys.argv[1]
    data = os.environ.get("FUSENET_DATA") or "/usr/share/datasets/fashion-mnist"
    if not os.path.isdir(data):
        print(f"skipped: {data} is absent (apt-get install dataset-fashion-mnist)")
        return 77
    with tempfile.TemporaryDirectory(prefix="fusenet_resume_") as tmp:
        at = lambda name: os.path.join(tmp, name)  # noqa: E731
        full = run(binary, *RUN, "--save", at("full.safetensors"), "--log", at("full.csv"))
        check(full.returncode == 0, "the uninterrupted run succeeds")

        # The CSV log: the header, one row per epoch, numbers where they belong, test accuracy as printed.
        table = rows(at("full.csv"))
        check(table[0] == HEADER, "the log's header is " + ",".join(HEADER))
        check(len(table) == 4, "one row per epoch")
        printed = [float(x) for x in re.findall(r"test accuracy (\d\.\d+)  lr", full.stdout)]
        for i, r in enumerate(table[1:], start=1):
            check(len(r) == len(HEADER) and all(r), f"row {i} has {len(HEADER)} non-empty fields")
            check(int(r[0]) == i and int(r[1]) == 32 * i, f"row {i}: epoch {i}, {32 * i} steps")
            check(0 < float(r[2]) <= 1.0001e-3 and 0 < float(r[3]) < 3 and 0 <= float(r[4]) <= 1, f"row {i}: lr, loss, accuracy")
            check(abs(float(r[6]) - printed[i - 1]) < 5e-5, f"row {i}: test accuracy as printed")

        # SIGINT a little after epoch 1 (mid-epoch 2, where the machine is not too loaded), SIGTERM at once (while
        # epoch 1's files are written, so it is seen at the start of epoch 2): both must resume identically.
        for sig, status, delay in ((signal.SIGINT, 130, 0.4), (signal.SIGTERM, 143, 0.0)):
            name = sig.name.lower()
            save, log = at(f"{name}.safetensors"), at(f"{name}.csv")
            code, out, err = interrupted(binary, sig, delay, *RUN, "--save", save, "--log", log)
            ckpt = at(f"{name}.checkpoint.safetensors")  # next to --save when there is no --checkpoint
            check(code == status, f"{sig.name} exits with status {status}")
            check(f"interrupted by {sig.name} at epoch" in err, f"the message names {sig.name} and the epoch")
            check(f"checkpoint written to {ckpt}" in err and os.path.isfile(ckpt), "the checkpoint is written, and named")
            check(f"log (completed epochs) in {log}" in err, "the message names the log")
            check(f"--resume {ckpt}" in err, "the message says how to continue")
            done = len(rows(log)) - 1
            check(done >= 1, "the log holds the completed epochs")
            resumed = run(binary, *RUN, "--save", save, "--log", log, "--resume", ckpt)
            check(resumed.returncode == 0, "the resumed run succeeds")
            check(read(save) == read(at("full.safetensors")),
                  "resumed weights are byte-identical to the uninterrupted run's")
            strip = lambda t: [r[:-1] for r in t]  # noqa: E731  (seconds differ)
            check(strip(rows(log)) == strip(rows(at("full.csv"))), "the resumed log equals the uninterrupted one")

        # Bad --resume input: exit 1, the message names the file and the problem; nothing is written.
        p = run(binary, *RUN, "--resume", at("absent.safetensors"))
        check(p.returncode == 1 and "absent.safetensors" in p.stderr, "a missing checkpoint is named")
        p = run(binary, *RUN, "--resume", at("full.safetensors"))
        check(p.returncode == 1 and "not a fusenet training checkpoint" in p.stderr, "a weights file is refused")
        other = [a if a != "9" else "10" for a in RUN]
        p = run(binary, *other, "--resume", at("sigint.checkpoint.safetensors"))
        check(p.returncode == 1 and "seed was 9, now 10" in p.stderr, "resuming with another seed is refused")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
