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

#include <fusenet/kernels/scalar/batch_norm.hpp>
#include <fusenet/kernels/scalar/conv2d.hpp>
#include <fusenet/kernels/scalar/linear.hpp>

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
