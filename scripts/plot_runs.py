#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Plots fusenet CSV logs with matplotlib (Debian's python3-matplotlib), as PNG and SVG.

  /usr/bin/python3 scripts/plot_runs.py LOG.csv [LOG.csv ...] [--out DIR] [--name NAME] [--x COLUMN]
      Any CSV log (fashion_mnist train --log, fusenet::fit's log, bn_ablation's runs/*.csv and *_steps.csv): one
      panel per numeric column against --x (default: the first column), one line per file. Writes
      DIR/NAME.png and DIR/NAME.svg (default DIR: the first file's folder; NAME: its name without .csv).
  /usr/bin/python3 scripts/plot_runs.py --ablation DIR
      bn_ablation's output folder: DIR/bn_ablation.png and .svg with the probe accuracy and loss curves of the
      base setting (mean and ± std band over seeds), the learning-rate sweep, the init-scale sweep, the
      train-test gap and the seconds per epoch, BN against no BN.

Use Debian's interpreter (/usr/bin/python3): the first python3 on PATH may be another one without matplotlib.
"""
import argparse
import csv
import math
import os
import sys
from collections import defaultdict

try:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover - depends on the machine
    sys.exit("plot_runs.py: matplotlib is missing; apt-get install python3-matplotlib and run /usr/bin/python3")

COLORS = {"bn": "tab:blue", "no_bn": "tab:orange"}
LABELS = {"bn": "with BatchNorm", "no_bn": "without (without_t)"}


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def read_csv(path):
    """(header, columns) with every column as a list of floats (NaN where a field is empty or not a number)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise SystemExit(f"plot_runs.py: {path} is empty")
    header, body = rows[0], rows[1:]
    columns = {h: [number(r[i]) if i < len(r) else math.nan for r in body] for i, h in enumerate(header)}
    return header, columns


def save(fig, out_dir, name):
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        p = os.path.join(out_dir, f"{name}.{ext}")
        fig.savefig(p, dpi=130 if ext == "png" else None, bbox_inches="tight")
        paths.append(p)
    plt.close(fig)
    print("wrote " + " and ".join(paths))
    return paths


def plot_logs(paths, out_dir=None, name=None, x=None):
    logs = [(p, *read_csv(p)) for p in paths]
    x = x or logs[0][1][0]
    for p, header, _ in logs:
        if x not in header:
            raise SystemExit(f"plot_runs.py: {p} has no column '{x}' (columns: {', '.join(header)})")
    ys = []
    for _, header, cols in logs:
        for h in header:
            if h != x and h not in ys and any(not math.isnan(v) for v in cols[h]):
                ys.append(h)
    if not ys:
        raise SystemExit(f"plot_runs.py: {paths[0]} has no numeric column to plot against '{x}'")
    ncols = min(3, len(ys))
    nrows = math.ceil(len(ys) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    for ax, y in zip(axes.flat, ys):
        for p, header, cols in logs:
            if y in header:
                ax.plot(cols[x], cols[y], marker="o" if len(cols[x]) < 30 else None, ms=3,
                        label=os.path.splitext(os.path.basename(p))[0])
        ax.set_xlabel(x)
        ax.set_title(y)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(ys):]:
        ax.axis("off")
    if len(logs) > 1:
        axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    first = paths[0]
    return save(fig, out_dir or os.path.dirname(os.path.abspath(first)),
                name or os.path.splitext(os.path.basename(first))[0])


def mean_std(values):
    v = [x for x in values if not math.isnan(x)]
    if not v:
        return math.nan, math.nan
    m = sum(v) / len(v)
    s = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    return m, s


def run_file(directory, setting, net, seed, suffix):
    return os.path.join(directory, "runs", f"{setting.replace('=', '_')}_{net}_s{seed}{suffix}.csv")


def curves(ax, directory, runs, setting, column, ylabel, threshold=None):
    """Mean ± std over seeds of a column of the runs' *_steps.csv, against the step."""
    for net in ("bn", "no_bn"):
        series = []
        for r in runs:
            if r["setting"] == setting and r["net"] == net:
                path = run_file(directory, setting, net, r["seed"], "_steps")
                if os.path.isfile(path):
                    series.append(read_csv(path)[1])
        if not series:
            continue
        n = min(len(s["step"]) for s in series)
        steps = series[0]["step"][:n]
        stats = [mean_std([s[column][i] for s in series]) for i in range(n)]
        m = [a for a, _ in stats]
        sd = [b for _, b in stats]
        ax.plot(steps, m, color=COLORS[net], label=f"{LABELS[net]} ({len(series)} seeds)")
        ax.fill_between(steps, [a - b for a, b in zip(m, sd)], [a + b for a, b in zip(m, sd)], color=COLORS[net],
                        alpha=0.2)
    if threshold is not None:
        ax.axhline(threshold, color="gray", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def sweep(ax, runs, prefix, key, xlabel):
    """Final test accuracy against the swept value; diverged runs are drawn as x at the bottom."""
    for net in ("bn", "no_bn"):
        by = defaultdict(list)
        bad = defaultdict(int)
        for r in runs:
            if r["net"] != net or not (r["setting"].startswith(prefix) or r["setting"] == "base"):
                continue
            v = float(r[key])
            if r["diverged"] == "1":
                bad[v] += 1
            else:
                by[v].append(float(r["test_accuracy"]))
        xs = sorted(set(by) | set(bad))
        if not xs:
            continue
        ms = [mean_std(by[v])[0] if by[v] else math.nan for v in xs]
        ss = [mean_std(by[v])[1] if by[v] else math.nan for v in xs]
        ax.errorbar(xs, ms, yerr=ss, color=COLORS[net], marker="o", capsize=3, label=LABELS[net])
        for v in xs:
            if bad[v]:
                ax.plot([v], [0.1], marker="x", color=COLORS[net], ms=9, mew=2)
                ax.annotate(f"{bad[v]} diverged", (v, 0.1), textcoords="offset points", xytext=(4, 4 if net == "bn" else -10),
                            fontsize=7, color=COLORS[net])
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("final test accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def bars(ax, runs, column, ylabel):
    settings = []
    for r in runs:
        if r["setting"] not in settings:
            settings.append(r["setting"])
    width = 0.38
    for k, net in enumerate(("bn", "no_bn")):
        stats = [mean_std([number(r[column]) for r in runs if r["setting"] == s and r["net"] == net]) for s in settings]
        ax.bar([i + (k - 0.5) * width for i in range(len(settings))], [m for m, _ in stats], width,
               yerr=[0 if math.isnan(s) else s for _, s in stats], color=COLORS[net], capsize=2, label=LABELS[net])
    ax.set_xticks(range(len(settings)))
    ax.set_xticklabels(settings, rotation=30, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7)


def plot_ablation(directory):
    summary = os.path.join(directory, "summary.csv")
    if not os.path.isfile(summary):
        raise SystemExit(f"plot_runs.py: {summary} does not exist; run bn_ablation --out {directory} first")
    with open(summary, newline="") as f:
        runs = list(csv.DictReader(f))
    if not runs:
        raise SystemExit(f"plot_runs.py: {summary} has no run")
    threshold = None
    md = os.path.join(directory, "summary.md")
    if os.path.isfile(md):
        for line in open(md, encoding="utf-8"):
            if "| steps to " in line:
                threshold = float(line.split("| steps to ")[1].split()[0])
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    curves(axes[0][0], directory, runs, "base", "probe_accuracy", "test accuracy (probe subset)", threshold)
    axes[0][0].set_title("convergence (base setting)")
    curves(axes[0][1], directory, runs, "base", "train_loss", "training loss (batch)")
    axes[0][1].set_title("training loss (base setting)")
    sweep(axes[0][2], runs, "lr=", "lr", "Adam learning rate")
    axes[0][2].set_title("learning-rate sweep")
    sweep(axes[1][0], runs, "init=", "init_scale", "initial weights × scale")
    axes[1][0].set_title("initialisation scale")
    bars(axes[1][1], runs, "gap", "train − test accuracy")
    axes[1][1].set_title("regularisation: generalisation gap")
    bars(axes[1][2], runs, "seconds_per_epoch", "seconds per epoch")
    axes[1][2].set_title("cost per epoch (same process, alternating)")
    fig.suptitle(f"What BatchNorm buys: reference network vs without_t<Net, batch_norm> ({os.path.basename(os.path.abspath(directory))})")
    fig.tight_layout()
    return save(fig, directory, "bn_ablation")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("logs", nargs="*", help="CSV logs to plot")
    ap.add_argument("--ablation", metavar="DIR", help="bn_ablation's output folder")
    ap.add_argument("--out", metavar="DIR", help="output folder (default: the first log's)")
    ap.add_argument("--name", help="output file name without extension")
    ap.add_argument("--x", help="column for the x axis (default: the first)")
    a = ap.parse_args(argv)
    if a.ablation:
        plot_ablation(a.ablation)
    if a.logs:
        for p in a.logs:
            if not os.path.isfile(p):
                raise SystemExit(f"plot_runs.py: {p} does not exist")
        plot_logs(a.logs, a.out, a.name, a.x)
    if not a.ablation and not a.logs:
        ap.error("give CSV logs or --ablation DIR")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
