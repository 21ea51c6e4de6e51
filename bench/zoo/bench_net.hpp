// SPDX-License-Identifier: MIT
// bench_net<Net>: the body of every zoo benchmark (instantiated once per network, each in its own bench/zoo/NAME.cpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fusenet/fusenet.hpp>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "zoo/zoo.hpp"

namespace fusenet::zoo {

/// Times model<Net, mode::infer>::forward(x, n, y) as "infer/zoo/NAME" and the trainer's eval_forward as
/// "infer/zoo/NAME/unfused", at each batch size and thread count the context asks for, and one Adam training step
/// (forward in train mode, cross-entropy, zero_grad, backward, step) as "train/zoo/NAME" at `train_batch` (0: none),
/// as bench/torch/train_step.py times PyTorch's. Before timing inference, checks once that its output is finite and
/// prints (to stderr) how far it is from eval_forward's.
template <class Net>
bool bench_net(const bench_context& c, const std::string& net_name, std::initializer_list<std::size_t> batches,
               std::size_t train_batch = 0) {
  const std::string name = "infer/zoo/" + net_name, unfused = name + "/unfused", train = "train/zoo/" + net_name;
  const bool train_wanted = train_batch > 0 && c.wanted(train);
  if (!c.wanted(name) && !c.wanted(unfused) && !train_wanted) return true;
  constexpr std::size_t in_size = Net::input_shape.size(), out_size = Net::output_dims.size();
  constexpr double flops_per_sample = 2.0 * static_cast<double>(mac_count<Net>);
  using train_model = model<Net, mode::train>;
  using infer_model = model<Net, mode::infer>;

  // Standard-normal images, as a data loader's normalised input; the same for every batch size.
  const std::size_t most = std::max(std::max(batches), train_batch);
  std::vector<float> x(most * in_size);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  auto as_tensor = [&](std::size_t n) {
    std::vector<std::size_t> shape{n};
    for (std::size_t i = 0; i < Net::input_shape.rank; ++i) shape.push_back(Net::input_shape.d[i]);
    typename train_model::input_tensor t = train_model::input_tensor::from_shape(shape);
    std::copy_n(x.data(), n * in_size, t.data());
    return t;
  };

  if (train_wanted) {
    const auto xt = as_tensor(train_batch);
    xt::xtensor<std::int64_t, 1> labels = xt::xtensor<std::int64_t, 1>::from_shape({train_batch});
    for (std::size_t i = 0; i < train_batch; ++i) labels(i) = static_cast<std::int64_t>((i * 7) % out_size);
    for (int t : c.threads) {
      c.set_threads(t);
      train_model m{1};
      adam opt{m, {.lr = 1e-3f}};
      // A train step is about three forward passes of work (forward, input and weight gradients).
      c.report(train, train_batch, t, 3.0 * flops_per_sample * static_cast<double>(train_batch), [&] {
        auto logits = m.forward(xt);
        auto [loss, d] = cross_entropy(logits, labels);
        m.zero_grad();
        m.backward(d);
        opt.step();
      });
    }
  }
  if (!c.wanted(name) && !c.wanted(unfused)) return true;
  train_model trained{42};
  {
    // Calibration: train-mode forwards move the BN running statistics towards the data's, as training would.
    // With the initial ones (mean 0, variance 1) the signal of PyTorch's default init shrinks about 6× in
    // variance a layer, so a deep net's output is its last bias and the check below would compare nothing.
    const std::size_t n = std::min<std::size_t>(most, 8);
    const auto xc = as_tensor(n);
    for (int step = 0; step < 20; ++step) (void)trained.forward(xc);
  }
  {
    // The check: a finite output, close to the unfused evaluation (BN folding only changes the rounding).
    const std::size_t n = std::min<std::size_t>(most, 2);
    infer_model m{trained};
    std::vector<float> y(n * out_size);
    m.forward(x.data(), n, y.data());
    const auto ref = trained.eval_forward(as_tensor(n));
    double diff = 0, scale = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
      if (!std::isfinite(y[i])) {
        std::printf("{\"name\": \"%s\", \"error\": \"output %zu of the inference model is %g\"}\n", name.c_str(), i,
                    static_cast<double>(y[i]));
        std::fflush(stdout);
        std::fprintf(stderr, "fusenet_bench: error: %s: output %zu of the inference model is not finite (%g)\n",
                     name.c_str(), i, static_cast<double>(y[i]));
        return false;
      }
      diff = std::max(diff, std::abs(static_cast<double>(y[i]) - static_cast<double>(ref.data()[i])));
      scale = std::max(scale, std::abs(static_cast<double>(ref.data()[i])));
    }
    std::fprintf(stderr,
                 "fusenet_bench: %s: output finite; max |infer - eval_forward| = %.3g, %.2g of max |y| = %.3g\n",
                 name.c_str(), diff, scale > 0 ? diff / scale : 0.0, scale);
  }

  for (int t : c.threads) {
    c.set_threads(t);
    // Built after set_threads, so that its workspace is sized for this thread count.
    infer_model m{trained};
    for (std::size_t batch : batches) {
      const double flops = flops_per_sample * static_cast<double>(batch);
      if (c.wanted(name)) {
        std::vector<float> y(batch * out_size);
        m.reserve(batch);
        c.report(name, batch, t, flops, [&] { m.forward(x.data(), batch, y.data()); });
      }
      if (c.wanted(unfused)) {
        const auto xin = as_tensor(batch);
        c.report(unfused, batch, t, flops, [&] { (void)trained.eval_forward(xin); });
      }
    }
  }
  return true;
}

}  // namespace fusenet::zoo
