// SPDX-License-Identifier: MIT
// Central-difference gradient checks of every scalar reference backward loop, in double precision.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <fusenet/kernels/scalar/activations.hpp>
#include <fusenet/kernels/scalar/batch_norm.hpp>
#include <fusenet/kernels/scalar/conv2d.hpp>
#include <fusenet/kernels/scalar/dropout.hpp>
#include <fusenet/kernels/scalar/linear.hpp>
#include <fusenet/kernels/scalar/pool.hpp>

namespace ks = fusenet::kernels::scalar;
using vec = std::vector<double>;

namespace {

/// One tensor the loss is differentiated against, and how the kernel writes its gradient.
struct wrt {
  std::string name;
  vec* value;
  bool accumulated;  // true: kernel adds (+=) into the gradient; false: kernel overwrites it
};

std::mt19937& rng() {
  static std::mt19937 gen{20240611u};
  return gen;
}

vec random_vec(std::size_t n, double lo = -1.0, double hi = 1.0) {
  std::uniform_real_distribution<double> d{lo, hi};
  vec v(n);
  for (auto& e : v) e = d(rng());
  return v;
}

/// The one generic checker: L = Σ y*r with a fixed random r, so dL/dy = r is fed to the backward.
///
/// Each analytic gradient is compared with (L(p + h) - L(p - h)) / 2h, h = 1e-6, element by element,
/// with |analytic - numeric| <= 1e-6 * |numeric| + 1e-8 (the central difference is exact to O(h²) and the
/// round-off of L is ~1e-16*|L|/h ≈ 1e-10). Accumulated gradients start at 0.25 to prove they are added to;
/// overwritten ones start at NaN to prove every element is written.
void gradcheck(const std::string& what, std::vector<wrt> params, const std::function<vec()>& forward,
               const std::function<void(const vec& dy, std::vector<vec>& grads)>& backward) {
  constexpr double h = 1e-6, rel = 1e-6, abs_tol = 1e-8, start = 0.25;
  const vec y0 = forward();
  const vec r = random_vec(y0.size());
  const auto loss = [&] {
    const vec y = forward();
    double s = 0;
    for (std::size_t i = 0; i < y.size(); ++i) s += y[i] * r[i];
    return s;
  };
  std::vector<vec> grads;
  for (const auto& p : params) {
    grads.emplace_back(p.value->size(),
                       p.accumulated ? start : std::numeric_limits<double>::quiet_NaN());
  }
  backward(r, grads);
  for (std::size_t k = 0; k < params.size(); ++k) {
    vec& v = *params[k].value;
    double worst = 0;
    std::size_t failures = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const double saved = v[i];
      v[i] = saved + h;
      const double lp = loss();
      v[i] = saved - h;
      const double lm = loss();
      v[i] = saved;
      const double numeric = (lp - lm) / (2 * h);
      const double analytic = grads[k][i] - (params[k].accumulated ? start : 0.0);
      const double err = std::abs(analytic - numeric);
      worst = std::max(worst, err / (std::abs(numeric) + 1e-2));
      if (!(err <= rel * std::abs(numeric) + abs_tol)) {
        if (failures++ < 5) {
          INFO(what, ": d", params[k].name, "[", i, "] analytic ", analytic, " numeric ", numeric);
          CHECK(err <= rel * std::abs(numeric) + abs_tol);
        }
      }
    }
    INFO(what, ": d", params[k].name, " has ", failures, " mismatches; worst scaled error ", worst);
    CHECK(failures == 0);
  }
}

void check_conv2d(const ks::conv2d_geometry& g, bool bias) {
  vec x = random_vec(g.batch * g.in_channels * g.in_h * g.in_w);
  vec w = random_vec(g.out_channels * (g.in_channels / g.groups) * g.kernel * g.kernel);
  vec b = random_vec(g.out_channels);
  const std::size_t ny = g.batch * g.out_channels * g.out_h() * g.out_w();
  std::vector<wrt> params{{"x", &x, false}, {"w", &w, true}};
  if (bias) params.push_back({"b", &b, true});
  gradcheck(
      "conv2d", params,
      [&] {
        vec y(ny);
        ks::conv2d_forward(g, x.data(), w.data(), bias ? b.data() : nullptr, y.data());
        return y;
      },
      [&](const vec& dy, std::vector<vec>& gr) {
        ks::conv2d_backward(g, x.data(), w.data(), dy.data(), gr[0].data(), gr[1].data(),
                            bias ? gr[2].data() : nullptr);
      });
}

}  // namespace

TEST_CASE("conv2d backward matches central differences") {
  // {batch, cin, h, w, cout, k, stride, padding, dilation, groups}
  SUBCASE("3x3 padding 1") { check_conv2d({2, 3, 5, 6, 4, 3, 1, 1, 1, 1}, true); }
  SUBCASE("stride 2, no padding, odd size") { check_conv2d({2, 2, 7, 7, 3, 3, 2, 0, 1, 1}, true); }
  SUBCASE("stride 2 with padding 1, even size") { check_conv2d({1, 2, 6, 8, 3, 3, 2, 1, 1, 1}, true); }
  SUBCASE("dilation 2 with padding 2") { check_conv2d({2, 2, 7, 6, 3, 3, 1, 2, 2, 1}, true); }
  SUBCASE("groups 2") { check_conv2d({2, 4, 5, 5, 6, 3, 1, 1, 1, 2}, true); }
  SUBCASE("no bias") { check_conv2d({2, 3, 5, 5, 2, 3, 1, 1, 1, 1}, false); }
  SUBCASE("5x5 kernel, odd input, stride 3") { check_conv2d({1, 2, 9, 11, 2, 5, 3, 2, 1, 1}, true); }
  SUBCASE("1x1 kernel") { check_conv2d({2, 3, 4, 3, 2, 1, 1, 0, 1, 1}, true); }
}

TEST_CASE("batch_norm backward matches central differences") {
  for (const ks::batch_norm_geometry g : {ks::batch_norm_geometry{5, 3, 1}, ks::batch_norm_geometry{3, 2, 6}}) {
    CAPTURE(g.spatial);
    const std::size_t n = g.batch * g.channels * g.spatial;
    vec x = random_vec(n, -2.0, 3.0);
    vec gamma = random_vec(g.channels, 0.5, 1.5);
    vec beta = random_vec(g.channels);
    vec rmean = random_vec(g.channels);
    vec rvar = random_vec(g.channels, 0.5, 2.0);
    const double eps = 1e-5;
    SUBCASE("train mode (batch statistics)") {
      gradcheck(
          "batch_norm train", {{"x", &x, false}, {"gamma", &gamma, true}, {"beta", &beta, true}},
          [&] {
            vec y(n), m(g.channels), v(g.channels);
            ks::batch_norm_train_forward(g, x.data(), gamma.data(), beta.data(), eps, y.data(), m.data(), v.data());
            return y;
          },
          [&](const vec& dy, std::vector<vec>& gr) {
            vec y(n), m(g.channels), v(g.channels);
            ks::batch_norm_train_forward(g, x.data(), gamma.data(), beta.data(), eps, y.data(), m.data(), v.data());
            ks::batch_norm_backward(g, x.data(), gamma.data(), m.data(), v.data(), eps, dy.data(),
                                    gr[0].data(), gr[1].data(), gr[2].data());
          });
    }
    SUBCASE("eval mode (running statistics)") {
      gradcheck(
          "batch_norm eval", {{"x", &x, false}, {"gamma", &gamma, true}, {"beta", &beta, true}},
          [&] {
            vec y(n);
            ks::batch_norm_eval_forward(g, x.data(), gamma.data(), beta.data(), rmean.data(), rvar.data(), eps, y.data());
            return y;
          },
          [&](const vec& dy, std::vector<vec>& gr) {
            ks::batch_norm_eval_backward(g, x.data(), gamma.data(), rmean.data(), rvar.data(), eps, dy.data(),
                                         gr[0].data(), gr[1].data(), gr[2].data());
          });
    }
  }
}

TEST_CASE("linear backward matches central differences") {
  const std::size_t batch = 3, in = 5, out = 4;
  vec x = random_vec(batch * in), w = random_vec(out * in), b = random_vec(out);
  for (const bool bias : {true, false}) {
    CAPTURE(bias);
    std::vector<wrt> params{{"x", &x, false}, {"w", &w, true}};
    if (bias) params.push_back({"b", &b, true});
    gradcheck(
        "linear", params,
        [&] {
          vec y(batch * out);
          ks::linear_forward(batch, in, out, x.data(), w.data(), bias ? b.data() : nullptr, y.data());
          return y;
        },
        [&](const vec& dy, std::vector<vec>& gr) {
          ks::linear_backward(batch, in, out, x.data(), w.data(), dy.data(), gr[0].data(), gr[1].data(),
                              bias ? gr[2].data() : nullptr);
        });
  }
}

namespace {

/// Values in [-1, 1] kept at least 0.05 from 0, where ReLU-like functions have their kink.
vec away_from_zero(std::size_t n) {
  vec v = random_vec(n);
  for (auto& e : v) e = e < 0 ? e - 0.05 : e + 0.05;
  return v;
}

/// An elementwise activation: forward(n, x, y), backward(n, x, dy, dx).
template <class Forward, class Backward>
void check_activation(const std::string& what, Forward fwd, Backward bwd) {
  vec x = away_from_zero(23);
  gradcheck(
      what, {{"x", &x, false}},
      [&] {
        vec y(x.size());
        fwd(x.size(), x.data(), y.data());
        return y;
      },
      [&](const vec& dy, std::vector<vec>& gr) { bwd(x.size(), x.data(), dy.data(), gr[0].data()); });
}

/// Pairwise distinct values spaced 0.01 apart in random order, so no max-pool window has a near tie.
vec distinct_values(std::size_t n) {
  vec v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = 0.01 * static_cast<double>(i) - 0.005 * static_cast<double>(n);
  std::shuffle(v.begin(), v.end(), rng());
  return v;
}

}  // namespace

TEST_CASE("activation backwards match central differences") {
  check_activation("relu", [](auto... a) { ks::relu_forward<double>(a...); },
                   [](auto... a) { ks::relu_backward<double>(a...); });
  check_activation("leaky_relu", [](auto... a) { ks::leaky_relu_forward<double>(a..., 0.2); },
                   [](auto... a) { ks::leaky_relu_backward<double>(a..., 0.2); });
  check_activation("sigmoid", [](auto... a) { ks::sigmoid_forward<double>(a...); },
                   [](auto... a) { ks::sigmoid_backward<double>(a...); });
  check_activation("tanh", [](auto... a) { ks::tanh_forward<double>(a...); },
                   [](auto... a) { ks::tanh_backward<double>(a...); });
}

TEST_CASE("pooling backwards match central differences") {
  // {batch, channels, h, w, kernel, stride, padding}
  for (const ks::pool2d_geometry g : {ks::pool2d_geometry{2, 2, 6, 6, 2, 2, 0},   // k2
                                      ks::pool2d_geometry{1, 2, 7, 6, 3, 2, 1},   // k3 s2 p1, odd
                                      ks::pool2d_geometry{2, 1, 5, 7, 3, 1, 1},   // overlapping, s1
                                      ks::pool2d_geometry{1, 1, 8, 8, 4, 3, 2}}) {  // stride != kernel
    CAPTURE(g.kernel);
    CAPTURE(g.stride);
    CAPTURE(g.padding);
    const std::size_t nx = g.batch * g.channels * g.in_h * g.in_w;
    const std::size_t ny = g.batch * g.channels * g.out_h() * g.out_w();
    vec x = distinct_values(nx);
    gradcheck(
        "max_pool2d", {{"x", &x, false}},
        [&] {
          vec y(ny);
          std::vector<std::uint32_t> am(ny);
          ks::max_pool2d_forward(g, x.data(), y.data(), am.data());
          return y;
        },
        [&](const vec& dy, std::vector<vec>& gr) {
          vec y(ny);
          std::vector<std::uint32_t> am(ny);
          ks::max_pool2d_forward(g, x.data(), y.data(), am.data());
          ks::max_pool2d_backward(g, dy.data(), am.data(), gr[0].data());
        });
    gradcheck(
        "avg_pool2d", {{"x", &x, false}},
        [&] {
          vec y(ny);
          ks::avg_pool2d_forward(g, x.data(), y.data());
          return y;
        },
        [&](const vec& dy, std::vector<vec>& gr) { ks::avg_pool2d_backward(g, dy.data(), gr[0].data()); });
  }
  SUBCASE("global average pool") {
    const std::size_t batch = 2, channels = 3, spatial = 10;
    vec x = random_vec(batch * channels * spatial);
    gradcheck(
        "global_avg_pool", {{"x", &x, false}},
        [&] {
          vec y(batch * channels);
          ks::global_avg_pool_forward(batch, channels, spatial, x.data(), y.data());
          return y;
        },
        [&](const vec& dy, std::vector<vec>& gr) {
          ks::global_avg_pool_backward(batch, channels, spatial, dy.data(), gr[0].data());
        });
  }
}

TEST_CASE("dropout backward matches central differences") {
  const std::size_t n = 40;
  const double rate = 0.3;
  vec x = random_vec(n);
  std::vector<std::uint8_t> mask(n);
  std::bernoulli_distribution keep{1.0 - rate};
  for (auto& m : mask) m = keep(rng()) ? 1 : 0;
  gradcheck(
      "dropout", {{"x", &x, false}},
      [&] {
        vec y(n);
        ks::dropout_forward(n, x.data(), mask.data(), rate, y.data());
        return y;
      },
      [&](const vec& dy, std::vector<vec>& gr) {
        ks::dropout_backward(n, dy.data(), mask.data(), rate, gr[0].data());
      });
}
