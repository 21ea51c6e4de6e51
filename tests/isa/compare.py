# SPDX-License-Identifier: MIT
# Compares two directories written by dump_outputs (builds for different ISAs): every .npy must exist in both,
# with the same shape, and agree elementwise within |a - b| <= 1e-5 * |b| + floor (the floor is explained below).
# Prints the worst tensors and exits 1 on any disagreement. Stdlib only: CI's python3 may lack numpy.
# Usage: compare.py REFERENCE_DIR OTHER_DIR [LABEL]
import array
import ast
import os
import struct
import sys

RELATIVE = 1e-5
# The floor, 5e-6 of the tensor's largest magnitude, is for elements near zero. The kernels of each ISA sum in
# a different order (vector width 4, 8 or 16, FMA or not), so an element that is a difference of terms of the
# tensor's scale (a logit or a gradient near zero) keeps an absolute error of a few float32 ulps of that scale
# (2^-23 ~ 1.2e-7), grown over the 3136-term dot products and the batch statistics, whatever its own size.
# Measured: at most 1.1e-6 of the scale (native AVX-512 against AVX2 and against SSE2), so 5e-6 leaves a
# margin of 4; a wrong or dropped term in a kernel moves elements by ~1e-2 of the scale, 2000 times the floor.
FLOOR_OF_SCALE = 5e-6
# A gradient whose true value is exactly zero (the bias of a conv or dense followed by batch_norm) is nothing
# but rounding noise, so its own scale means nothing; it is held to the floor of the largest gradient of the
# same network instead.


def read_npy_f32(path):
    """Reads a C-order little-endian float32 .npy (format 1.x-3.x) into (shape, array('f'))."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:6] != b"\x93NUMPY":
        raise ValueError(f"{path}: not a .npy file")
    if raw[6] == 1:
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
    values = array.array("f")
    values.frombytes(raw[start + hlen:start + hlen + 4 * count])
    if sys.byteorder != "little":
        values.byteswap()
    if len(values) != count:
        raise ValueError(f"{path}: truncated data ({len(values)} of {count} values)")
    return shape, values


def main():
    if len(sys.argv) not in (3, 4):
        print("usage: compare.py REFERENCE_DIR OTHER_DIR [LABEL]", file=sys.stderr)
        return 2
    ref_dir, other_dir = sys.argv[1], sys.argv[2]
    label = sys.argv[3] if len(sys.argv) == 4 else other_dir
    ref_files = sorted(f for f in os.listdir(ref_dir) if f.endswith(".npy"))
    other_files = sorted(f for f in os.listdir(other_dir) if f.endswith(".npy"))
    if not ref_files or ref_files != other_files:
        print(f"compare: {label}: file sets differ: only in {ref_dir}: {sorted(set(ref_files) - set(other_files))}, "
              f"only in {other_dir}: {sorted(set(other_files) - set(ref_files))}")
        return 1

    tensors = {}
    for name in ref_files:
        tensors[name] = (read_npy_f32(os.path.join(ref_dir, name)), read_npy_f32(os.path.join(other_dir, name)))
    # The largest gradient magnitude of each network: the scale of rounding noise in its zero gradients.
    grad_scale = {}
    for name, ((_, b), _) in tensors.items():
        net, what = name.split(".", 1)
        if what.startswith("grad."):
            grad_scale[net] = max(grad_scale.get(net, 0.0), max((abs(v) for v in b), default=0.0))

    failed = 0
    rows = []
    for name, ((shape_b, b), (shape_a, a)) in tensors.items():
        if shape_a != shape_b:
            print(f"compare: {label}: {name}: shape {shape_a} differs from {shape_b}")
            failed += 1
            continue
        net, what = name.split(".", 1)
        scale = max((abs(v) for v in b), default=0.0)
        floor = FLOOR_OF_SCALE * scale
        if what.startswith("grad."):
            floor = max(floor, FLOOR_OF_SCALE * grad_scale[net])
        worst = 0.0  # largest |a - b| / (1e-5 |b| + floor): <= 1 passes
        worst_rel = 0.0  # largest |a - b| / max(|b|, floor), for the report
        bad = 0
        for x, y in zip(a, b):
            err = abs(x - y)
            if err != err:  # NaN
                bad += 1
                worst = float("inf")
                continue
            limit = RELATIVE * abs(y) + floor
            if err > limit:
                bad += 1
            if limit > 0.0:
                worst = max(worst, err / limit)
            elif err > 0.0:
                worst = float("inf")
            worst_rel = max(worst_rel, err / max(abs(y), floor, 1e-38))
        max_diff = max((abs(x - y) for x, y in zip(a, b)), default=0.0)
        rows.append((worst, name, worst_rel, max_diff / scale if scale > 0.0 else 0.0, bad, len(b)))
        if bad:
            failed += 1

    rows.sort(reverse=True)
    print(f"compare: {label}: {len(rows)} tensors; worst first (ratio to the tolerance; elementwise relative "
          f"error with the floor; max|a-b| / max|b|)")
    for worst, name, worst_rel, scaled, bad, count in rows[:8]:
        status = f"FAIL {bad}/{count} elements" if bad else "ok"
        print(f"  {name:44s} {worst:8.3f}  rel {worst_rel:.2e}  scaled {scaled:.2e}  {status}")
    print(f"compare: {label}: {'FAILED' if failed else 'agree'} ({failed} of {len(rows)} tensors outside "
          f"{RELATIVE:g} relative + {FLOOR_OF_SCALE:g} x max|tensor|)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
