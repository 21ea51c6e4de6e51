#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Compile-time benchmark of the network DSL: generated chains of N layers, the seed network, and an example.
#
# Run from anywhere (plain python3, stdlib only; needs /usr/bin/time):
#   python3 bench/compile_time/run.py                     # chains of 32, 128, 512 layers, seed, quickstart
#   python3 bench/compile_time/run.py --layers 8 32 128 --cxx clang++ --keep /tmp/ct
# Each TU is compiled with `<cxx> -O2 -std=c++20 -c -I<repo>/include` under `/usr/bin/time -v`; one JSON
# object per line goes to stdout: {"name": ..., "layers": N, "seconds": wall, "cpu_seconds": user CPU,
# "peak_mb": max RSS, "ok": bool}. On a shared machine cpu_seconds is the steadier figure.
# What is measured:
#   compile/includes      the front-end headers alone (introspection, layers, summary): the floor
#   compile/chain         input<16,32,32>, (conv2d<16,3,padding<1>>, batch_norm, relu) repeated, relu padding to
#                         exactly N layers, then flatten, dense<10>; uses output_shape, param_count, mac_count and
#                         instantiates summary<Net>() (the whole front end, one at_layer step per layer)
#   compile/seed          the seed network of DESIGN.md with the same uses
#   compile/seed_models   the seed network with model<Net, mode::train> and model<Net, mode::infer> instantiated
#   compile/resnet18_models  ResNet-18 (residual blocks) with both model modes instantiated
#   compile/cifar_resnet20_models  He et al.'s CIFAR ResNet-20 (nine basic blocks) with both model modes
#   compile/example/<f>   examples/<f>.cpp as users build it (umbrella header, model, kernels), when it compiles
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

FRONT_END = """#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
#include <fusenet/summary.hpp>
#include <string>
using namespace fusenet::layers;
"""

USES = """static_assert(fusenet::output_shape<Net> == fusenet::shape<10>{{}});
static_assert(fusenet::param_count<Net> == {params}u);
static_assert(fusenet::mac_count<Net> > 0);
std::string describe_net() {{ return fusenet::summary<Net>(); }}
"""


def chain_layers(n):
    """Exactly n layers: conv/bn/relu blocks, relu filler, then flatten and dense<10>."""
    if n < 2:
        raise ValueError("a chain needs at least flatten and dense<10>")
    body = []
    while len(body) + 3 <= n - 2:
        body += ["conv2d<16, 3, padding<1>>", "batch_norm", "relu"]
    body += ["relu"] * (n - 2 - len(body))
    blocks = sum(1 for l in body if l.startswith("conv2d"))
    # Independent count (torch.nn): Conv2d(16,16,3) 16·16·9+16, BatchNorm2d(16) 32; Linear(16·32·32, 10).
    params = blocks * (16 * 16 * 9 + 16 + 32) + 16 * 32 * 32 * 10 + 10
    return body + ["flatten", "dense<10>"], params


def chain_source(n):
    layers, params = chain_layers(n)
    decl = "using Net = fusenet::sequential<input<16, 32, 32>,\n    " + ",\n    ".join(layers) + ">;\n"
    return FRONT_END + decl + USES.format(params=params)


def seed_source():
    decl = """using Net = fusenet::sequential<input<1, 28, 28>,
    conv2d<32, 3, padding<1>>, batch_norm, relu, max_pool<2>,
    conv2d<64, 3, padding<1>>, batch_norm, relu, max_pool<2>,
    flatten, dense<128>, batch_norm, relu, dense<10>>;
"""
    return FRONT_END + decl + USES.format(params=422090)


MODELS = """#include <fusenet/fusenet.hpp>
using namespace fusenet::layers;
"""

MODEL_USES = """float run(const float* x, float* y) {{
  fusenet::model<Net, fusenet::mode::train> m{{1}};
  typename fusenet::model<Net, fusenet::mode::train>::input_tensor in =
      fusenet::model<Net, fusenet::mode::train>::input_tensor::from_shape({shape});
  std::copy(x, x + in.size(), in.begin());
  auto out = m.forward(in);
  m.backward(out);
  fusenet::model<Net, fusenet::mode::infer> deployed{{m}};
  deployed.forward(x, 2, y);
  return out(0, 0) + m.eval_forward(in)(0, 0);
}}
"""


def seed_models_source():
    """The seed network with both model modes instantiated (train forward/backward, eval, infer)."""
    decl = """using Net = fusenet::sequential<input<1, 28, 28>,
    conv2d<32, 3, padding<1>>, batch_norm, relu, max_pool<2>,
    conv2d<64, 3, padding<1>>, batch_norm, relu, max_pool<2>,
    flatten, dense<128>, batch_norm, relu, dense<10>>;
"""
    return MODELS + decl + MODEL_USES.format(shape="{2, 1, 28, 28}")


def resnet18_models_source():
    """ResNet-18 declared with residual blocks, both model modes instantiated."""
    decl = """template <std::size_t C> using basic = residual<conv2d<C, 3, padding<1>, bias<false>>, batch_norm, relu,
    conv2d<C, 3, padding<1>, bias<false>>, batch_norm>;
template <std::size_t C> using down = residual<conv2d<C, 3, stride<2>, padding<1>, bias<false>>, batch_norm, relu,
    conv2d<C, 3, padding<1>, bias<false>>, batch_norm, shortcut<conv2d<C, 1, stride<2>, bias<false>>, batch_norm>>;
using Net = fusenet::sequential<input<3, 224, 224>, conv2d<64, 7, stride<2>, padding<3>, bias<false>>, batch_norm,
    relu, max_pool<3, stride<2>, padding<1>>, basic<64>, relu, basic<64>, relu, down<128>, relu, basic<128>, relu,
    down<256>, relu, basic<256>, relu, down<512>, relu, basic<512>, relu, global_avg_pool, flatten, dense<1000>>;
static_assert(fusenet::param_count<Net> == 11689512);
"""
    return MODELS + decl + MODEL_USES.format(shape="{2, 3, 224, 224}")


def cifar_resnet20_models_source():
    """The CIFAR ResNet-20 of bench/zoo/nets.hpp, both model modes instantiated (issue 12's compile target)."""
    decl = """template <std::size_t C> using basic = residual<conv2d<C, 3, padding<1>, bias<false>>, batch_norm, relu,
    conv2d<C, 3, padding<1>, bias<false>>, batch_norm>;
template <std::size_t C> using down = residual<conv2d<C, 3, stride<2>, padding<1>, bias<false>>, batch_norm, relu,
    conv2d<C, 3, padding<1>, bias<false>>, batch_norm, shortcut<conv2d<C, 1, stride<2>, bias<false>>, batch_norm>>;
using Net = fusenet::sequential<input<3, 32, 32>, conv2d<16, 3, padding<1>, bias<false>>, batch_norm, relu,
    basic<16>, relu, basic<16>, relu, basic<16>, relu, down<32>, relu, basic<32>, relu, basic<32>, relu,
    down<64>, relu, basic<64>, relu, basic<64>, relu, global_avg_pool, flatten, dense<10>>;
"""
    return MODELS + decl + MODEL_USES.format(shape="{2, 3, 32, 32}")


def includes_source():
    return FRONT_END + "std::string describe_net() { return {}; }\n"


def measure(cxx, source_path, extra=()):
    cmd = ["/usr/bin/time", "-v", cxx, "-O2", "-std=c++20", "-c", "-I" + os.path.join(REPO, "include"),
           *extra, source_path, "-o", os.devnull]
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", r.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    user = re.search(r"User time \(seconds\): ([\d.]+)", r.stderr)
    seconds = None
    if wall:
        h = int(wall.group(1) or 0)
        seconds = h * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    first_error = next((l for l in r.stderr.splitlines() if "error:" in l), None)
    return {"seconds": round(seconds, 2) if seconds is not None else None,
            "cpu_seconds": float(user.group(1)) if user else None,
            "peak_mb": round(int(rss.group(1)) / 1024, 1) if rss else None,
            "ok": r.returncode == 0, **({"error": first_error[:300]} if first_error else {})}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1] if __doc__ else None)
    ap.add_argument("--layers", type=int, nargs="+", default=[32, 128, 512])
    ap.add_argument("--cxx", default="g++")
    ap.add_argument("--examples", nargs="*", default=["quickstart"], help="examples/<name>.cpp to time")
    ap.add_argument("--keep", help="directory to keep the generated sources in")
    ap.add_argument("--only", help="regex: time only the TUs whose name matches (e.g. _models)")
    args = ap.parse_args()

    workdir = args.keep or tempfile.mkdtemp(prefix="fusenet_ct_")
    os.makedirs(workdir, exist_ok=True)

    def run(name, source, extra=(), **fields):
        if args.only and not re.search(args.only, name):
            return
        path = os.path.join(workdir, name.replace("/", "_") + ".cpp")
        with open(path, "w") as f:
            f.write(source)
        print(json.dumps({"name": name, **fields, "cxx": args.cxx, **measure(args.cxx, path, extra)}), flush=True)

    run("compile/includes", includes_source(), layers=0)
    for n in args.layers:
        run("compile/chain", chain_source(n), layers=n)
    run("compile/seed", seed_source(), layers=13)
    # Whole-library TUs, as the project builds them (-march=native picks the kernels' ISA).
    run("compile/seed_models", seed_models_source(), extra=("-march=native",), layers=13)
    run("compile/resnet18_models", resnet18_models_source(), extra=("-march=native",), layers=28)
    run("compile/cifar_resnet20_models", cifar_resnet20_models_source(), extra=("-march=native",), layers=24)
    for ex in args.examples:
        path = os.path.join(REPO, "examples", ex + ".cpp")
        if os.path.exists(path) and (not args.only or re.search(args.only, "compile/example/" + ex)):
            print(json.dumps({"name": "compile/example/" + ex, "cxx": args.cxx, **measure(args.cxx, path)}),
                  flush=True)
    if not args.keep:
        for f in os.listdir(workdir):
            os.remove(os.path.join(workdir, f))
        os.rmdir(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
