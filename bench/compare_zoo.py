# SPDX-License-Identifier: MIT
"""Runs the zoo inference benchmarks of fusenet and of its PyTorch twin in one go, and tabulates the ratios.

    python3 bench/compare_zoo.py [--threads 1,2] [--reps 20] [--filter REGEX] [--bench PATH] [--no-openblas]
                                 [--omp-wait-policy inherit|passive|active] [--no-interleave] [--train]

With --train it compares one Adam training step at batch 64 instead (fusenet_bench's train/zoo/NAME against
bench/torch/train_step.py), for every zoo network but ResNet-18 (224×224 at batch 64 is minutes of steps).

It runs build/bench/fusenet_bench --filter ... and bench/torch/zoo.py (as /usr/bin/python3) one after the other,
network by network (--no-interleave: all fusenet, then all torch), so that neither steals the other's cores and
both see about the same load from the rest of the machine. Prints every JSON line of both, then a markdown table of
network, batch, threads, fusenet ms, torch ms (fastest variant) and torch_ms / fusenet_ms (above 1: fusenet is
faster).

Debian's python3-torch links the reference BLAS, which would make PyTorch's dense layers and non-oneDNN
convolutions needlessly slow. So, for the torch process only, this script unpacks Debian's libopenblas0-pthread
(apt-get download + dpkg -x, cached in build/openblas) and puts its openblas-pthread folder first on
LD_LIBRARY_PATH; when that fails, torch runs with whatever BLAS it has, and the output says so. Both processes run
with the same OMP_WAIT_POLICY (libgomp's default unless told otherwise; see --help).
Python standard library only; bench-only, never a build or test dependency.
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPENBLAS_SUBDIR = os.path.join("usr", "lib", "x86_64-linux-gnu", "openblas-pthread")
# The zoo, in fusenet_bench's order (bench/zoo/zoo.hpp's registry and bench/torch/zoo.py's NETS).
NETS = ("reference", "lenet5", "cifar_resnet20", "mobilenet", "vgg", "resnet18")
TRAIN_NETS = NETS[:-1]  # train/zoo/NAME: batch 64, no ResNet-18
TRAIN_BATCH = 64


def openblas_dir(cache):
    """The unpacked openblas-pthread folder (downloading and unpacking it on first use), or (None, reason)."""
    lib_dir = os.path.join(cache, "root", OPENBLAS_SUBDIR)
    if os.path.exists(os.path.join(lib_dir, "libblas.so.3")):
        return lib_dir, None
    try:
        os.makedirs(cache, exist_ok=True)
        debs = glob.glob(os.path.join(cache, "libopenblas0-pthread_*.deb"))
        if not debs:
            r = subprocess.run(["apt-get", "download", "libopenblas0-pthread"], cwd=cache, capture_output=True,
                               text=True, timeout=300)
            debs = glob.glob(os.path.join(cache, "libopenblas0-pthread_*.deb"))
            if not debs:
                return None, "apt-get download libopenblas0-pthread failed: " + (r.stderr.strip() or r.stdout.strip())
        r = subprocess.run(["dpkg", "-x", sorted(debs)[-1], os.path.join(cache, "root")], capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            return None, "dpkg -x failed: " + r.stderr.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"{type(e).__name__}: {e}"
    if not os.path.exists(os.path.join(lib_dir, "libblas.so.3")):
        return None, f"{lib_dir}/libblas.so.3 missing after unpacking"
    return lib_dir, None


def run(label, cmd, env=None):
    """Runs cmd, echoing its JSON lines as they come; returns (parsed lines, stderr text, exit code)."""
    print(f"# {label}: {' '.join(cmd)}", flush=True)
    rows = []
    with tempfile.TemporaryFile(mode="w+") as err:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=ROOT)
        for line in p.stdout:
            line = line.strip()
            if not line.startswith("{"):
                continue
            print(line, flush=True)
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                print(f"# {label}: unparsable line: {line}", flush=True)
        code = p.wait()
        err.seek(0)
        stderr = err.read()
    for line in stderr.splitlines():
        print(f"# {label} stderr: {line}", flush=True)
    if code != 0:
        print(f"# {label}: exit code {code}", flush=True)
    return rows, stderr, code


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts, for both")
    p.add_argument("--reps", type=int, default=20, help="timed calls per point (median reported)")
    p.add_argument("--filter", default=None, help="regex over the benchmark names, for both (default: infer/zoo, "
                                                  "or train/zoo with --train)")
    p.add_argument("--train", action="store_true", help="compare the training step (train/zoo/NAME) instead")
    p.add_argument("--bench", default=os.path.join(ROOT, "build", "bench", "fusenet_bench"),
                   help="the fusenet_bench to run (default: build/bench/fusenet_bench, built first if needed)")
    p.add_argument("--python", default="/usr/bin/python3", help="the Python that has torch")
    p.add_argument("--cache", default=os.path.join(ROOT, "build", "openblas"), help="where OpenBLAS is unpacked")
    p.add_argument("--no-openblas", action="store_true", help="run torch with its own BLAS")
    p.add_argument("--omp-wait-policy", default="inherit", choices=("passive", "active", "inherit"),
                   help="OMP_WAIT_POLICY for both processes (both use libgomp). Default inherit: libgomp's own "
                        "(spin, then sleep), what a user gets. On a shared, loaded machine a spinning thread can "
                        "hold a core its partner needs (a 2-thread call of 0.1 ms measured 24 ms); passive avoids "
                        "that but pays a wake-up per parallel region (0.05 ms at batch 1)")
    p.add_argument("--no-interleave", action="store_true",
                   help="run all of fusenet, then all of torch (default: alternate network by network, so that "
                        "both see the same load on a shared machine)")
    a = p.parse_args()
    default_bench = os.path.join(ROOT, "build", "bench", "fusenet_bench")
    if os.path.abspath(a.bench) == default_bench:
        # benchmarks are not part of the default build (bench/meson.build): build it, or bring it up to date
        subprocess.run(["ninja", "-C", os.path.join(ROOT, "build"), "bench/fusenet_bench"], check=True,
                       stdout=subprocess.DEVNULL)
    if a.filter is None:
        a.filter = "train/zoo" if a.train else "infer/zoo"
    common = ["--threads", a.threads, "--reps", str(a.reps)]
    pattern = re.compile(a.filter)
    # One fusenet and one torch run per network when interleaving; the anchored filters keep the user's.
    # Training always runs network by network: train_step.py times one network per run.
    if a.train:
        groups = [f"^train/zoo/{n}$" for n in TRAIN_NETS if pattern.search(f"train/zoo/{n}")]
    elif a.no_interleave:
        groups = [a.filter]
    else:
        groups = [f"^infer/zoo/{n}(/|$)" for n in NETS if pattern.search(f"infer/zoo/{n}")
                  or pattern.search(f"infer/zoo/{n}/unfused")]

    env = dict(os.environ)
    if a.omp_wait_policy != "inherit":
        env["OMP_WAIT_POLICY"] = a.omp_wait_policy
    omp_note = f"OMP_WAIT_POLICY={env.get('OMP_WAIT_POLICY', '(unset)')} for fusenet and torch"
    print(f"# {omp_note}", flush=True)
    torch_env = dict(env)  # LD_LIBRARY_PATH for the torch process only
    blas_note = "torch BLAS: as installed (--no-openblas)"
    if not a.no_openblas:
        lib_dir, why = openblas_dir(a.cache)
        if lib_dir:
            old_path = torch_env.get("LD_LIBRARY_PATH")
            torch_env["LD_LIBRARY_PATH"] = lib_dir + (":" + old_path if old_path else "")
            blas_note = f"torch BLAS: OpenBLAS (pthread) from {lib_dir}"
        else:
            blas_note = f"torch BLAS: as installed; OpenBLAS unavailable ({why})"
    print(f"# {blas_note}", flush=True)
    fusenet_rows, torch_rows, torch_err, fusenet_code, torch_code = [], [], "", 0, 0
    for group in groups:
        # fusenet sees the user's filter and the group's; torch only the group's (it has no /unfused names)
        f = group if a.no_interleave and not a.train else f"(?=.*(?:{a.filter}))(?={group})"
        rows, _, code = run("fusenet", [a.bench, "--filter", f] + common, env)
        fusenet_rows += rows
        fusenet_code = fusenet_code or code
        if a.train:
            torch_cmd = [a.python, os.path.join(ROOT, "bench", "torch", "train_step.py"), "--net",
                         group.split("/")[2].rstrip("$"), "--batch", str(TRAIN_BATCH)]
        else:
            torch_cmd = [a.python, os.path.join(ROOT, "bench", "torch", "zoo.py"), "--filter", group]
        rows, err, code = run("torch", torch_cmd + common, torch_env)
        torch_rows += rows
        torch_err += err
        torch_code = torch_code or code
    for line in torch_err.splitlines():
        if line.startswith('{"name": "torch/config"'):
            mapped = json.loads(line).get("blas", [])
            blas_note += f"; mapped in the torch process: {', '.join(os.path.basename(m) for m in mapped) or 'none'}"
            break

    # (b) the table: one row per fusenet point, torch beside it
    key = lambda r: (r["name"], r["batch"], r["threads"])  # noqa: E731
    torch_at = {key(r): r for r in torch_rows if "ms" in r}
    unfused_at = {(r["name"][: -len("/unfused")], r["batch"], r["threads"]): r for r in fusenet_rows
                  if r.get("name", "").endswith("/unfused") and "ms" in r}
    print()
    print(f"{blas_note}")
    print(f"{omp_note}")
    print()
    print("Median of the timed calls (min in brackets); ratio = torch ms / fusenet ms, above 1 when fusenet is faster.")
    print()
    print("| network | batch | threads | fusenet ms | fusenet unfused ms | torch ms (variant) | ratio | ratio of mins |")
    print("|---|---:|---:|---:|---:|---|---:|---:|")
    dash = "–"
    for r in fusenet_rows:
        if "ms" not in r or r["name"].endswith("/unfused"):
            continue
        t = torch_at.get(key(r))
        u = unfused_at.get(key(r))
        net = r["name"].split("/")[2]
        unfused = f"{u['ms']:.3f}" if u else dash
        if t:
            print(f"| {net} | {r['batch']} | {r['threads']} | {r['ms']:.3f} ({r['ms_min']:.3f}) | {unfused} | "
                  f"{t['ms']:.3f} ({t['ms_min']:.3f}) {t.get('variant', 'train')} | {t['ms'] / r['ms']:.2f} | "
                  f"{t['ms_min'] / r['ms_min']:.2f} |")
        else:
            print(f"| {net} | {r['batch']} | {r['threads']} | {r['ms']:.3f} ({r['ms_min']:.3f}) | {unfused} | "
                  f"{dash} | {dash} | {dash} |")
    for r in torch_rows:
        if "ms" in r and not any(key(f) == key(r) for f in fusenet_rows):
            print(f"| {r['name'].split('/')[2]} | {r['batch']} | {r['threads']} | {dash} | {dash} | "
                  f"{r['ms']:.3f} ({r['ms_min']:.3f}) {r.get('variant', 'train')} | {dash} | {dash} |")
    for r in fusenet_rows:
        if "error" in r:
            print(f"\nfusenet error: {r['name']}: {r['error']}")
    sys.exit(1 if fusenet_code or torch_code else 0)


if __name__ == "__main__":
    main()
