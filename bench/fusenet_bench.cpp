// SPDX-License-Identifier: MIT
// Whole-network benchmarks, one JSON object per line, so runs compare side by side as ratios:
//   fusenet_bench [--filter REGEX] [--threads T[,T...]] [--reps N]
// Names: train/reference (one Adam step: forward + loss + backward + update), train/conv/32-64-14x14/...
// (the training convolution alone: forward, forward+stats, backward_data, backward_weights on im2col + GEMM, and
// direct/{forward,forward+stats,backward_data,backward_weights} on the direct kernel), infer/reference (fused
// inference model), infer/reference/unfused (the trainer's eval_forward, layer by layer), and
// infer/conv_block/CIN-COUT-HxW (conv3x3 + BN + ReLU through the inference model, NCHW in and out) with its
// /unfused twin, and infer/zoo/NAME (+ /unfused) for the networks of bench/zoo/nets.hpp (twinned in
// bench/torch/zoo.py; bench/compare_zoo.py runs both). --threads takes one count or a list, e.g. 1,2.
// bench/conv_bench measures the fused kernel alone, as % of the FMA peak.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fusenet/fusenet.hpp>
#include <fusenet/train/losses.hpp>
#include <fusenet/train/optimizers.hpp>
#include <functional>
#include <iostream>
#include <regex>
#include <string>
#include <utility>
#include <vector>
#include <xtensor/xrandom.hpp>

#include "zoo/zoo.hpp"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {

using reference_net = fn::sequential<input<1, 28, 28>,                                      //
                                     conv2d<32, 3, padding<1>>, batch_norm, relu, max_pool<2>,  //
                                     conv2d<64, 3, padding<1>>, batch_norm, relu, max_pool<2>,  //
                                     flatten, dense<128>, batch_norm, relu, dense<10>>;

struct options {
  std::regex filter{".*"};
  std::vector<int> threads{1, 2};
  int reps = 20;
};

// Median, min and max of `reps` timed calls after one warm-up call.
void report(const std::string& name, std::size_t batch, int threads, double flops_per_call, int reps,
            const std::function<void()>& call) {
  call();
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    call();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  std::printf(
      "{\"name\": \"%s\", \"batch\": %zu, \"threads\": %d, \"ms\": %.4f, \"ms_min\": %.4f, \"ms_max\": %.4f, "
      "\"gflops\": %.2f}\n",
      name.c_str(), batch, threads, median, ms.front(), ms.back(), flops_per_call / median / 1e6);
  std::fflush(stdout);
}

void set_threads(int t) {
#ifdef _OPENMP
  omp_set_num_threads(t);
#else
  (void)t;
#endif
}

void bench_reference(const options& o) {
  constexpr double forward_flops = 2.0 * static_cast<double>(fn::mac_count<reference_net>);
  for (int t : o.threads) {
    set_threads(t);
    for (std::size_t batch : {64, 256}) {
      const std::string name = "train/reference";
      if (!std::regex_search(name, o.filter)) continue;
      fn::model<reference_net, fn::mode::train> m{1};
      fn::adam opt{m, {.lr = 1e-3f}};
      xt::xtensor<float, 4> x = xt::random::rand<float>({batch, std::size_t{1}, std::size_t{28}, std::size_t{28}});
      xt::xtensor<std::int64_t, 1> labels = xt::random::randint<std::int64_t>({batch}, 0, 10);
      // A train step is about three forward passes of work (forward, input and weight gradients).
      report(name, batch, t, 3.0 * forward_flops * static_cast<double>(batch), o.reps, [&] {
        auto logits = m.forward(x);
        auto [loss, d] = fn::cross_entropy(logits, labels);
        m.zero_grad();
        m.backward(d);
        opt.step();
      });
    }
    for (std::size_t batch : {1, 64, 256}) {
      const std::string name = "infer/reference";
      if (!std::regex_search(name, o.filter)) continue;
      fn::model<reference_net, fn::mode::train> trained{1};
      fn::model<reference_net, fn::mode::infer> m{trained};
      std::vector<float> x(batch * 28 * 28, 0.5f), y(batch * 10);
      report(name, batch, t, forward_flops * static_cast<double>(batch), o.reps,
             [&] { m.forward(x.data(), batch, y.data()); });
    }
    for (std::size_t batch : {1, 64, 256}) {
      const std::string name = "infer/reference/unfused";
      if (!std::regex_search(name, o.filter)) continue;
      fn::model<reference_net, fn::mode::train> m{1};
      xt::xtensor<float, 4> x = xt::random::rand<float>({batch, std::size_t{1}, std::size_t{28}, std::size_t{28}});
      report(name, batch, t, forward_flops * static_cast<double>(batch), o.reps, [&] { (void)m.eval_forward(x); });
    }
  }
}

// One conv3x3 + BatchNorm + ReLU block as a network: the inference model runs it as one fused stage
// (plus the NCHW↔NHWC conversion at its ends); the unfused comparison is the trainer's eval_forward.
template <std::size_t Cin, std::size_t Cout, std::size_t HW>
void bench_conv_block(const options& o, std::size_t batch) {
  using block = fn::sequential<input<Cin, HW, HW>, conv2d<Cout, 3, padding<1>>, batch_norm, relu>;
  const std::string name = "infer/conv_block/" + std::to_string(Cin) + "-" + std::to_string(Cout) + "-" +
                           std::to_string(HW) + "x" + std::to_string(HW);
  const double flops = 2.0 * static_cast<double>(fn::mac_count<block>) * static_cast<double>(batch);
  // Skipped before any set-up, so that a filtered run (e.g. --filter infer/zoo) does not pay for it.
  if (!std::regex_search(name, o.filter) && !std::regex_search(name + "/unfused", o.filter)) return;
  for (int t : o.threads) {
    set_threads(t);
    fn::model<block, fn::mode::train> trained{1};
    xt::xtensor<float, 4> x = xt::random::rand<float>({batch, Cin, HW, HW});
    if (std::regex_search(name, o.filter)) {
      fn::model<block, fn::mode::infer> m{trained};
      std::vector<float> y(batch * Cout * HW * HW);
      report(name, batch, t, flops, o.reps, [&] { m.forward(x.data(), batch, y.data()); });
    }
    if (std::regex_search(name + "/unfused", o.filter))
      report(name + "/unfused", batch, t, flops, o.reps, [&] { (void)trained.eval_forward(x); });
  }
}

// The training convolution of the reference net's second stage (32→64, 3×3, 14×14) alone, side by side:
// forward, forward that also takes the batch-statistics moments (the fused stage's conv pass), and the
// two halves of backward (input gradient; weight and bias gradient), each 2·MACs FLOPs.
void bench_train_conv(const options& o, std::size_t batch) {
  namespace fk = fusenet::kernels;
  const fk::conv2d_geometry g{batch, 32, 14, 14, 64, 3, 1, 1, 1, 1};
  const double flops = 2.0 * static_cast<double>(batch * 64 * 14 * 14 * 32 * 9);
  const std::string base = "train/conv/32-64-14x14";
  // Skipped before the set-up (random tensors, a direct forward) when no name below can match.
  bool any = false;
  for (const char* tail : {"/forward", "/forward+stats", "/backward_data", "/backward_weights", "/direct/forward",
                           "/direct/forward+stats", "/direct/backward_data", "/direct/backward_weights"})
    any = any || std::regex_search(base + tail, o.filter);
  if (!any) return;
  auto values = [](std::size_t n) {
    xt::xtensor<float, 1> v = xt::random::rand<float>({n});
    return std::vector<float>(v.begin(), v.end());
  };
  const auto x = values(batch * 32 * 14 * 14), w = values(64 * 32 * 9), b = values(64), dy = values(batch * 64 * 14 * 14);
  std::vector<float> y(dy.size()), dx(x.size()), dw(w.size()), db(b.size()), workspace;
  std::vector<fk::plane_moments> moments(batch * 64);
  using direct = fk::conv2d_direct<32, 64, 14, 14, 3, 1, true>;
  direct::state state;
  direct::forward(x.data(), w.data(), b.data(), y.data(), batch, state);  // backward needs a forward
  std::vector<float> dz_nhwc(batch * direct::dz_image);
  fk::nchw_to_nhwc<64, 14, 14, direct::dz_border>(dy.data(), dz_nhwc.data(), batch);
  for (int t : o.threads) {
    set_threads(t);
    const std::pair<std::string, std::function<void()>> runs[] = {
        {base + "/forward", [&] { fk::conv2d_forward(g, x.data(), w.data(), b.data(), y.data(), workspace); }},
        {base + "/forward+stats",
         [&] { fk::conv2d_forward(g, x.data(), w.data(), b.data(), y.data(), workspace, moments.data()); }},
        {base + "/backward_data",
         [&] { fk::conv2d_backward(g, x.data(), w.data(), dy.data(), dx.data(), nullptr, nullptr, workspace); }},
        {base + "/backward_weights",
         [&] { fk::conv2d_backward(g, x.data(), w.data(), dy.data(), nullptr, dw.data(), db.data(), workspace); }},
        // the same products on the direct kernel (conv2d_direct.hpp), which the training stages use; it
        // writes z and reads dz in its own NHWC (the stage epilogue's layout), and the data is random anyway
        {base + "/direct/forward",
         [&] { direct::forward(x.data(), w.data(), b.data(), y.data(), batch, state); }},
        {base + "/direct/forward+stats",
         [&] { direct::forward(x.data(), w.data(), b.data(), y.data(), batch, state, moments.data()); }},
        {base + "/direct/backward_data",
         [&] { direct::backward(dz_nhwc.data(), dx.data(), nullptr, nullptr, batch, state, workspace); }},
        {base + "/direct/backward_weights",
         [&] { direct::backward(dz_nhwc.data(), nullptr, dw.data(), db.data(), batch, state, workspace); }},
    };
    for (const auto& [name, call] : runs) {
      if (std::regex_search(name, o.filter)) report(name, batch, t, flops, o.reps, call);
    }
  }
}

// "1,2" → {1, 2}; each count at least 1.
std::vector<int> parse_threads(const std::string& v) {
  std::vector<int> out;
  std::size_t begin = 0;
  while (begin <= v.size()) {
    const std::size_t end = std::min(v.find(',', begin), v.size());
    out.push_back(std::max(1, std::stoi(v.substr(begin, end - begin))));
    begin = end + 1;
  }
  return out;
}

// The zoo networks, each instantiated in its own bench/zoo/NAME.cpp; false when one's output is not finite.
bool bench_zoo(const options& o) {
  const fn::zoo::bench_context c{
      [&](const std::string& name) { return std::regex_search(name, o.filter); },
      o.threads,
      &set_threads,
      [&](const std::string& name, std::size_t batch, int threads, double flops, const std::function<void()>& call) {
        report(name, batch, threads, flops, o.reps, call);
      },
  };
  bool ok = true;
  for (const auto& entry : fn::zoo::registry) ok = entry.run(c) && ok;
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::cerr << "fusenet_bench: " << a << " needs a value\nusage: fusenet_bench [--filter REGEX] [--threads T[,T...]] [--reps N]\n";
      return 2;
    }
    const std::string v = argv[++i];
    try {
      if (a == "--filter") o.filter = std::regex(v);
      else if (a == "--threads") o.threads = parse_threads(v);
      else if (a == "--reps") o.reps = std::max(1, std::stoi(v));
      else throw std::invalid_argument("unknown option " + a);
    } catch (const std::exception& e) {
      std::cerr << "fusenet_bench: bad argument '" << a << " " << v << "': " << e.what()
                << "\nusage: fusenet_bench [--filter REGEX] [--threads T[,T...]] [--reps N]\n";
      return 2;
    }
  }
  bench_reference(o);
  bench_train_conv(o, 64);
  bench_conv_block<32, 64, 14>(o, 1);
  bench_conv_block<32, 64, 14>(o, 64);
  bench_conv_block<64, 64, 56>(o, 1);
  bench_conv_block<64, 64, 56>(o, 32);
  return bench_zoo(o) ? 0 : 1;
}
