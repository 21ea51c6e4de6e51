// SPDX-License-Identifier: MIT
// The registry of the zoo benchmarks: one function per network, each compiled in its own translation unit.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace fusenet::zoo {

/// What fusenet_bench hands each zoo benchmark: which names to run, the thread counts, and its report().
struct bench_context {
  /// Whether a benchmark name passes --filter.
  std::function<bool(const std::string&)> wanted;
  /// The --threads values, each run in turn.
  std::vector<int> threads;
  /// Sets the kernels' thread count (OpenMP) before a model is built and timed.
  std::function<void(int)> set_threads;
  /// Times `call` (warm-up, then --reps calls) and prints one JSON line of median, min, max and GFLOP/s.
  std::function<void(const std::string& name, std::size_t batch, int threads, double flops_per_call,
                     const std::function<void()>& call)>
      report;
};

/// A zoo benchmark: runs infer/zoo/NAME (and /unfused) for every wanted point; returns false, after printing
/// an error line, when the network's inference output is not finite.
using bench_fn = bool (*)(const bench_context&);

/// One registry entry: the network's name in "infer/zoo/NAME" and its benchmark.
struct bench_entry {
  const char* name;
  bench_fn run;
};

bool bench_reference(const bench_context& c);
bool bench_resnet18(const bench_context& c);
bool bench_cifar_resnet20(const bench_context& c);
bool bench_mobilenet(const bench_context& c);
bool bench_vgg(const bench_context& c);
bool bench_lenet5(const bench_context& c);

/// Every zoo benchmark, in the order fusenet_bench runs them (small networks first).
inline constexpr bench_entry registry[] = {
    {"reference", &bench_reference},
    {"lenet5", &bench_lenet5},
    {"cifar_resnet20", &bench_cifar_resnet20},
    {"mobilenet", &bench_mobilenet},
    {"vgg", &bench_vgg},
    {"resnet18", &bench_resnet18},
};

}  // namespace fusenet::zoo
