// SPDX-License-Identifier: MIT
// Central-difference gradient checks of model<Net, mode::train>: for small networks, one per layer kind and
// chain shape, every parameter gradient and dL/dx from backward_with_input_grad agree with
// (L(v + eps) - L(v - eps)) / 2 eps, where L = sum(y * r) for a fixed random r (so dL/dy = r).

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fusenet/fusenet.hpp>

#include "reference/model/nets.hpp"
#include <random>
#include <string>
#include <vector>

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {

using fusenet::test::random_tensor;

// Tolerance reasoning. The model computes in float32; L sums a few hundred terms of size ~1, so one evaluation
// of L carries a rounding error of ~1e-5 and the difference quotient with eps = 1e-2 an error of ~1e-3 absolute
// plus O(eps^2) curvature (~1e-4 for sigmoid/tanh/BN at unit scale). Hence an element passes when
// |numeric - analytic| <= 1e-2 * |analytic| + 1e-2 * (largest |analytic| of that tensor, at least 0.1).
// ReLU, leaky_relu and max_pool have kinks: a unit within eps of a kink makes the central difference average
// two slopes, and behind batch_norm one weight moves every unit of its channel (measured with eps = 1e-2: up to
// 8% of elements off by more than the bound). Networks with kinks therefore use eps = 1e-3 (10x fewer crossings;
// the float32 noise of L, ~1e-6, becomes ~5e-4 in the quotient, within the 1e-2 * 0.1 floor) and may fail the
// bound on at most 3% of the checked elements; smooth networks must pass on all.
constexpr float smooth_eps = 1e-2f, kinked_eps = 1e-3f;

struct tally {
  std::size_t checked = 0, failed = 0;
};

// Up to 48 positions spread over a tensor of `size` elements.
std::vector<std::size_t> positions(std::size_t size) {
  std::vector<std::size_t> p;
  const std::size_t step = std::max<std::size_t>(1, size / 48);
  for (std::size_t i = 0; i < size; i += step) p.push_back(i);
  return p;
}

template <class Model, class Output>
double loss_of(Model& m, const typename Model::input_tensor& x, const Output& r) {
  const auto y = m.forward(x);  // train mode: batch statistics, as in the analytic pass
  double l = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i) l += static_cast<double>(y.data()[i]) * r.data()[i];
  return l;
}

// Compares analytic[k] with the central difference obtained by perturbing value[k] in place.
template <class Loss>
void check_tensor(const std::string& name, float* value, const float* analytic, std::size_t size, Loss&& loss,
                  float eps, tally& t) {
  float scale = 0.1f;
  for (std::size_t i = 0; i < size; ++i) scale = std::max(scale, std::abs(analytic[i]));
  for (std::size_t i : positions(size)) {
    const float saved = value[i];
    value[i] = saved + eps;
    const double up = loss();
    value[i] = saved - eps;
    const double down = loss();
    value[i] = saved;
    const double numeric = (up - down) / (2.0 * static_cast<double>(eps));
    const double tol = 1e-2 * std::abs(analytic[i]) + 1e-2 * scale;
    ++t.checked;
    if (std::abs(numeric - analytic[i]) > tol) {
      ++t.failed;
      MESSAGE(name << "[" << i << "]: analytic " << analytic[i] << ", numeric " << numeric);
    }
  }
}

template <class Net>
void gradcheck(bool has_kinks, std::size_t batch = 4) {
  using model_t = fn::model<Net, fn::mode::train>;
  model_t m{7};
  std::vector<std::size_t> in_shape{batch}, out_shape{batch};
  for (std::size_t i = 0; i < model_t::input_dims.rank; ++i) in_shape.push_back(model_t::input_dims.d[i]);
  for (std::size_t i = 0; i < model_t::output_dims.rank; ++i) out_shape.push_back(model_t::output_dims.d[i]);
  auto x = random_tensor<typename model_t::input_tensor>(in_shape, 1);
  const auto r = random_tensor<typename model_t::output_tensor>(out_shape, 2);

  m.zero_grad();
  static_cast<void>(m.forward(x));
  const auto dx = m.backward_with_input_grad(r);
  // Copy the analytic gradients: the finite differences below re-run forward.
  std::vector<std::vector<float>> grads;
  const auto params = m.parameters();
  for (const auto& p : params) grads.emplace_back(p.grad, p.grad + p.size);
  REQUIRE((params.size() > 0 || model_t::input_dims.size() > 0));

  tally t;
  auto loss = [&] { return loss_of(m, x, r); };
  for (std::size_t k = 0; k < params.size(); ++k) check_tensor(params[k].name, params[k].value, grads[k].data(), params[k].size, loss,
                                                 has_kinks ? kinked_eps : smooth_eps, t);
  check_tensor("input", x.data(), dx.data(), x.size(), loss, has_kinks ? kinked_eps : smooth_eps, t);
  CAPTURE(t.checked);
  CAPTURE(t.failed);
  if (has_kinks) CHECK(t.failed * 100 <= 3 * t.checked);
  else CHECK(t.failed == 0);
}

}  // namespace

TEST_CASE("conv2d: plain, stride+padding, dilation+groups without bias") {
  gradcheck<fn::sequential<input<2, 6, 6>, conv2d<3, 3>>>(false);
  gradcheck<fn::sequential<input<2, 7, 7>, conv2d<4, 3, stride<2>, padding<1>>>>(false);
  gradcheck<fn::sequential<input<4, 7, 7>, conv2d<4, 3, padding<2>, dilation<2>, groups<2>, bias<false>>>>(false);
  gradcheck<fn::sequential<input<3, 5, 5>, conv2d<6, 1, stride<2>, bias<false>>>>(false);
}

TEST_CASE("batch_norm in train mode, 2-d and 1-d") {
  gradcheck<fn::sequential<input<3, 4, 4>, conv2d<3, 1>, batch_norm>>(false);
  gradcheck<fn::sequential<input<6>, dense<5>, batch_norm>>(false, 5);
}

TEST_CASE("activations") {
  gradcheck<fn::sequential<input<5>, dense<6>, relu>>(true);
  gradcheck<fn::sequential<input<5>, dense<6>, leaky_relu>>(true);
  gradcheck<fn::sequential<input<5>, dense<6>, sigmoid>>(false);
  gradcheck<fn::sequential<input<5>, dense<6>, tanh_>>(false);
  gradcheck<fn::sequential<input<2, 3, 3>, conv2d<2, 1>, identity, flatten>>(false);
}

TEST_CASE("pools") {
  gradcheck<fn::sequential<input<2, 6, 6>, conv2d<2, 1>, max_pool<2>>>(true);
  gradcheck<fn::sequential<input<2, 5, 5>, conv2d<2, 1>, max_pool<3, stride<1>, padding<1>>>>(true);
  gradcheck<fn::sequential<input<2, 6, 6>, conv2d<2, 1>, avg_pool<2>>>(false);
  gradcheck<fn::sequential<input<2, 5, 5>, conv2d<2, 1>, avg_pool<3, stride<2>, padding<1>>>>(false);
  gradcheck<fn::sequential<input<2, 4, 4>, conv2d<3, 1>, global_avg_pool>>(false);
}

TEST_CASE("dense and linear on flattened input") {
  gradcheck<fn::sequential<input<2, 3, 3>, flatten, linear<18, 4>>>(false);
  gradcheck<fn::sequential<input<7>, dense<3, bias<false>>, dense<2>>>(false);
}

TEST_CASE("fused chains and residual blocks with and without projection") {
  gradcheck<fn::sequential<input<2, 6, 6>, conv2d<4, 3, padding<1>>, batch_norm, relu, max_pool<2>, flatten,
                           dense<5>, batch_norm, sigmoid, dense<3>>>(true);
  gradcheck<fn::sequential<input<4, 5, 5>, residual<conv2d<4, 3, padding<1>>, batch_norm, relu,
                                                    conv2d<4, 3, padding<1>, bias<false>>>>>(true);
  gradcheck<fn::sequential<input<4, 5, 5>,
                           residual<conv2d<6, 3, stride<2>, padding<1>, bias<false>>, batch_norm, tanh_,
                                    shortcut<conv2d<6, 1, stride<2>, bias<false>>, batch_norm>>>>(false);
}

TEST_CASE("depthwise convolutions, stride 1 and 2, on the depthwise training kernel") {
  // 16 channels fill whole vectors on every target, so the plan trains both convs with the channels in the lanes
  using net = fn::sequential<input<16, 5, 5>, conv2d<16, 3, padding<1>, groups<16>>, batch_norm,
                             conv2d<16, 3, stride<2>, padding<1>, groups<16>, bias<false>>, batch_norm>;
  constexpr auto plan = fn::execution_plan<net, fn::mode::train, fn::build_target>;
  static_assert(plan[0].exec == fn::executor::train_depthwise_conv && plan[1].exec == fn::executor::train_depthwise_conv);
  gradcheck<net>(false);
}
