# SPDX-License-Identifier: MIT
# Test: `fashion_mnist eval` on the PyTorch-trained checkpoint must reproduce PyTorch's test accuracy
# (within 0.001) and its first 16 logits (within 1e-4 absolute). Stdlib only: CI's python3 may lack numpy.
# Usage: compare.py FASHION_MNIST_BINARY
import ast
import json
import math
import os
import re
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKPOINT = os.path.join(HERE, "torch_1epoch.safetensors")
EXPECTED = os.path.join(HERE, "expected.json")
ACCURACY_TOLERANCE = 0.001
LOGIT_TOLERANCE = 1e-4


def read_npy_f32(path):
    """Reads a C-order little-endian float32 .npy (format 1.x/2.x/3.x) into (shape, flat list)."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:6] != b"\x93NUMPY":
        raise ValueError(f"{path}: not a .npy file")
    major = raw[6]
    if major == 1:
        (hlen,), start = struct.unpack("<H", raw[8:10]), 10
    else:
        (hlen,), start = struct.unpack("<I", raw[8:12]), 12
    header = ast.literal_eval(raw[start:start + hlen].decode("latin1"))
    if header["descr"] != "<f4" or header["fortran_order"]:
        raise ValueError(f"{path}: expected C-order <f4, got {header}")
    shape = tuple(header["shape"])
    count = 1
    for d in shape:
        count *= d
    data = raw[start + hlen:]
    if len(data) != 4 * count:
        raise ValueError(f"{path}: {len(data)} data bytes for shape {shape}")
    return shape, list(struct.unpack(f"<{count}f", data))


def main():
    if len(sys.argv) != 2:
        print("usage: compare.py FASHION_MNIST_BINARY", file=sys.stderr)
        return 2
    binary = sys.argv[1]
    data_dir = os.environ.get("FUSENET_DATA") or "/usr/share/datasets/fashion-mnist"
    if not os.path.isdir(data_dir):
        print(f"FAIL: Fashion-MNIST directory {data_dir} does not exist; this test needs the dataset "
              "(install it there, or point FUSENET_DATA at it)", file=sys.stderr)
        return 1
    with open(EXPECTED) as f:
        expected = json.load(f)
    rows = len(expected["logits"])

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "logits.npy")
        run = subprocess.run([binary, "eval", "--weights", CHECKPOINT, "--data", data_dir,
                              "--dump-logits", str(rows), out], capture_output=True, text=True)
        sys.stdout.write(run.stdout)
        sys.stderr.write(run.stderr)
        if run.returncode != 0:
            print(f"FAIL: fashion_mnist eval exited with {run.returncode}", file=sys.stderr)
            return 1
        match = re.search(r"test accuracy: ([0-9.]+)", run.stdout)
        if match is None:
            print("FAIL: no 'test accuracy: X' line in the output", file=sys.stderr)
            return 1
        accuracy = float(match.group(1))
        shape, logits = read_npy_f32(out)

    ok = True
    print(f"pytorch accuracy: {expected['accuracy']:.4f}  fusenet accuracy: {accuracy:.4f}")
    if abs(accuracy - expected["accuracy"]) > ACCURACY_TOLERANCE:
        print(f"FAIL: accuracies differ by more than {ACCURACY_TOLERANCE}", file=sys.stderr)
        ok = False
    if shape != (rows, 10):
        print(f"FAIL: dumped logits have shape {shape}, expected ({rows}, 10)", file=sys.stderr)
        return 1
    max_diff, where = 0.0, (0, 0)
    for i, row in enumerate(expected["logits"]):
        for c, want in enumerate(row):
            diff = abs(logits[i * 10 + c] - want)
            if diff > max_diff or math.isnan(diff):  # NaN must not hide behind a comparison
                max_diff, where = diff, (i, c)
    print(f"max |logit difference| over {rows}x10: {max_diff:.3e} at image {where[0]} class {where[1]}")
    if not max_diff <= LOGIT_TOLERANCE:
        print(f"FAIL: a logit differs by more than {LOGIT_TOLERANCE}", file=sys.stderr)
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
