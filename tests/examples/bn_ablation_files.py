#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bn_ablation end to end on a tiny subset with 1 seed: it writes one CSV log and one probe curve per run, the
# summary CSV (one row per run, both networks) and the markdown table; scripts/plot_runs.py turns them into PNG
# and SVG when Debian's matplotlib is installed. Only the files are checked: the scientific outcome of so small
# a study is reported in README, not tested.
"""Usage: bn_ablation_files.py BN_ABLATION_BINARY. Exit 0 pass, 1 fail, 77 skip (no Fashion-MNIST files)."""
import csv
import os
import subprocess
import sys
import tempfile

SETTINGS = ["base", "lr=3e-2"]
SUMMARY = ["setting", "net", "seed", "lr", "init_scale", "epochs", "steps", "final_train_loss", "train_accuracy",
           "test_accuracy", "gap", "diverged", "steps_to_threshold", "seconds_per_epoch"]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def main():
    binary = sys.argv[1]
    data = os.environ.get("FUSENET_DATA") or "/usr/share/datasets/fashion-mnist"
    if not os.path.isdir(data):
        print(f"skipped: {data} is absent (apt-get install dataset-fashion-mnist)")
        return 77
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with tempfile.TemporaryDirectory(prefix="fusenet_ablation_") as out:
        args = ["--quick", "--seeds", "1", "--settings", ",".join(SETTINGS), "--limit", "256", "--test-limit", "200",
                "--epochs", "2", "--every", "2", "--threads", "1", "--out", out]
        p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=600)
        print("$ bn_ablation " + " ".join(args) + f"\n  -> status {p.returncode}\n{p.stdout}{p.stderr}")
        check(p.returncode == 0, "the tiny study succeeds")
        for s in SETTINGS:
            for net in ("bn", "no_bn"):
                base = os.path.join(out, "runs", f"{s.replace('=', '_')}_{net}_s1")
                with open(base + ".csv", newline="") as f:
                    log = list(csv.reader(f))
                check(log[0][:3] == ["epoch", "steps", "lr"] and len(log) >= 2, f"{base}.csv: fit's log with rows")
                with open(base + "_steps.csv", newline="") as f:
                    curve = list(csv.reader(f))
                check(curve[0] == ["step", "epoch", "lr", "train_loss", "probe_accuracy"], f"{base}_steps.csv header")
                # 256 images in batches of 64: 4 steps an epoch, 8 in all, probed every 2 (fewer if a loss went
                # non-finite and stopped the run).
                steps = [int(r[0]) for r in curve[1:]]
                check(len(steps) >= 1 and steps == [2, 4, 6, 8][:len(steps)], f"{base}_steps.csv: probes at 2, 4, 6, 8")
        with open(os.path.join(out, "summary.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        check(list(rows[0].keys()) == SUMMARY if rows else False, "summary.csv has the documented columns")
        check(sorted((r["setting"], r["net"]) for r in rows) == sorted((s, n) for s in SETTINGS for n in ("bn", "no_bn")),
              "summary.csv: one row per setting and network")
        with open(os.path.join(out, "summary.md"), encoding="utf-8") as f:
            md = f.read()
        check("| setting | lr | init scale | net | test accuracy |" in md, "summary.md has the table")
        check(all(f"| {s} |" in md for s in SETTINGS), "summary.md has a row per setting")
        check("Cost of BatchNorm" in md, "summary.md states the cost of BatchNorm")
        plot = os.path.join(root, "scripts", "plot_runs.py")
        has_mpl = subprocess.run(["/usr/bin/python3", "-c", "import matplotlib"], capture_output=True).returncode == 0
        if has_mpl:
            q = subprocess.run(["/usr/bin/python3", plot, "--ablation", out], capture_output=True, text=True,
                               timeout=300)
            print(q.stdout + q.stderr)
            for ext in ("png", "svg"):
                path = os.path.join(out, "bn_ablation." + ext)
                check(q.returncode == 0 and os.path.getsize(path) > 1000, f"plot_runs.py --ablation wrote {path}")
            q = subprocess.run(["/usr/bin/python3", plot, os.path.join(out, "runs", "base_bn_s1.csv"),
                                os.path.join(out, "runs", "base_no_bn_s1.csv"), "--out", out, "--name", "logs"],
                               capture_output=True, text=True, timeout=300)
            check(q.returncode == 0 and os.path.isfile(os.path.join(out, "logs.svg")), "plot_runs.py plots any log")
        else:
            print("note: /usr/bin/python3 has no matplotlib (apt-get install python3-matplotlib); plots not checked")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
