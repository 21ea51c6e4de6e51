// SPDX-License-Identifier: MIT
// Parity of model<Net, mode::infer> with the trainer's unfused eval_forward (the oracle), shared by the model tests.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fusenet/fusenet.hpp>
#include <fusenet/train/losses.hpp>
#include <fusenet/train/optimizers.hpp>
#include <initializer_list>
#include <random>
#include <vector>

#include "reference/model/nets.hpp"

namespace fusenet::test {

namespace fn = fusenet;

template <class Net>
std::vector<std::size_t> batch_shape(std::size_t n) {
  std::vector<std::size_t> s{n};
  for (std::size_t i = 0; i < Net::input_shape.rank; ++i) s.push_back(Net::input_shape.d[i]);
  return s;
}

/// A few Adam steps in train mode, so that weights, biases and BN running statistics are all non-trivial.
template <class Net>
void train_a_little(fn::model<Net, fn::mode::train>& m, std::uint32_t seed) {
  using input_tensor = typename fn::model<Net, fn::mode::train>::input_tensor;
  fn::adam opt{m, {.lr = 1e-2f}};
  std::mt19937 rng(seed);
  for (std::uint32_t step = 0; step < 4; ++step) {
    const auto x = random_tensor<input_tensor>(batch_shape<Net>(16), seed + 100 + step);
    xt::xtensor<std::int64_t, 1> labels = xt::xtensor<std::int64_t, 1>::from_shape({16});
    for (auto& l : labels) l = static_cast<std::int64_t>(rng() % Net::output_dims.size());
    auto logits = m.forward(x);
    auto [loss, dlogits] = fn::cross_entropy(logits, labels);
    m.zero_grad();
    m.backward(dlogits);
    opt.step();
  }
}

// Tolerance: |infer − eval| ≤ 1e-5·|eval| + 2e-5·max|eval| over the batch. Folding BN changes the rounding of
// every product and the kernels sum in a different order than the trainer's GEMM, so a logit near zero
// (cancellation) can only be held to an error relative to the batch's scale.
constexpr float relative_tolerance = 1e-5f, absolute_floor = 2e-5f;

template <class A, class B>
void check_close(const A& got, const B& want) {
  REQUIRE(got.shape() == want.shape());
  float scale = 0.0f;
  for (float v : want) scale = std::max(scale, std::fabs(v));
  float worst = 0.0f;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const float err = std::fabs(got.data()[i] - want.data()[i]);
    worst = std::max(worst, err / (std::fabs(want.data()[i]) + 1e-30f));
    if (err > relative_tolerance * std::fabs(want.data()[i]) + absolute_floor * scale) ++bad;
  }
  INFO("worst relative error " << worst << ", scale " << scale);
  CHECK(bad == 0);
}

/// Trains Net a little from `seed`, freezes it and compares inference with eval_forward at each batch size.
template <class Net>
void check_parity(std::uint32_t seed, std::initializer_list<std::size_t> batches = {1, 3, 64}) {
  using train_model = fn::model<Net, fn::mode::train>;
  train_model m{seed};
  train_a_little(m, seed);
  fn::model<Net, fn::mode::infer> deployed{m};
  for (std::size_t n : batches) {
    CAPTURE(n);
    const auto x = random_tensor<typename train_model::input_tensor>(batch_shape<Net>(n), seed + static_cast<std::uint32_t>(n));
    const auto want = m.eval_forward(x);
    check_close(deployed.forward(x), want);
  }
}


}  // namespace fusenet::test
