// SPDX-License-Identifier: MIT
// The fused training epilogue (batch statistics from plane moments, normalise → ReLU → 2×2 max pool, and
// its one-pass backward) against the unfused scalar twins run in double: batch_norm, relu, max_pool.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <fusenet/kernels/batch_norm_relu_pool.hpp>
#include <fusenet/kernels/batch_stats.hpp>
#include <fusenet/kernels/scalar/activations.hpp>
#include <fusenet/kernels/scalar/batch_norm.hpp>
#include <fusenet/kernels/scalar/pool.hpp>
#include <limits>
#include <random>
#include <vector>

#include "common.hpp"

namespace fk = fusenet::kernels;
using train_test::random_vector;

namespace {

//                                         N   C   H   W  relu  pool
const fk::batch_norm_relu_pool_geometry geometries[] = {
    {64, 32, 28, 28, true, true},  // reference CNN, first stage
    {8, 64, 14, 14, true, true},   // second stage's plane (7 outputs a row)
    {3, 3, 7, 9, true, true},      // odd sizes: last row and column in no window
    {2, 5, 34, 40, true, true},    // rows longer than one vector on every ISA
    {4, 6, 10, 10, false, true},   // pool without ReLU
    {4, 6, 9, 11, true, false},    // ReLU without pool
    {4, 6, 5, 5, false, false},    // BatchNorm alone
};
constexpr float eps = 1e-5f;

std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// Per-channel mean and biased variance of z (N×C×S) from the plane moments, as the conv epilogue does.
void merged_statistics(const fk::batch_norm_relu_pool_geometry& g, const std::vector<float>& z,
                       std::vector<double>& mean, std::vector<double>& var) {
  std::vector<fk::plane_moments> m(g.batch * g.channels);
  for (std::size_t p = 0; p < m.size(); ++p) m[p] = fk::moments_of_plane(z.data() + p * g.plane(), g.plane());
  mean.resize(g.channels);
  var.resize(g.channels);
  fk::merge_plane_moments(m.data(), g.batch, g.channels, g.plane(), mean.data(), var.data());
}

// The unfused chain in double: batch_norm (train) → [relu] → [max_pool 2×2], forward and backward.
struct reference_chain {
  fk::batch_norm_relu_pool_geometry g;
  std::vector<double> mean, var, normalised, activated, y, dz, dgamma, dbeta;
  std::vector<std::uint32_t> argmax;

  fk::scalar::pool2d_geometry pool() const { return {g.batch, g.channels, g.height, g.width, 2, 2, 0}; }

  void forward(const std::vector<float>& z, const std::vector<float>& gamma, const std::vector<float>& beta) {
    const auto zd = widen(z), gd = widen(gamma), bd = widen(beta);
    const std::size_t size = g.batch * g.channels * g.plane();
    mean.resize(g.channels), var.resize(g.channels), normalised.resize(size);
    fk::scalar::batch_norm_train_forward<double>({g.batch, g.channels, g.plane()}, zd.data(), gd.data(), bd.data(),
                                                 eps, normalised.data(), mean.data(), var.data());
    activated = normalised;
    if (g.relu) fk::scalar::relu_forward<double>(size, normalised.data(), activated.data());
    if (g.pool) {
      y.resize(g.batch * g.channels * g.out_plane());
      argmax.resize(y.size());
      fk::scalar::max_pool2d_forward<double>(pool(), activated.data(), y.data(), argmax.data());
    } else {
      y = activated;
    }
  }

  void backward(const std::vector<float>& z, const std::vector<float>& gamma, const std::vector<float>& dy) {
    const auto zd = widen(z), gd = widen(gamma), dyd = widen(dy);
    const std::size_t size = g.batch * g.channels * g.plane();
    std::vector<double> d_act(size), d_norm(size);
    if (g.pool) fk::scalar::max_pool2d_backward<double>(pool(), dyd.data(), argmax.data(), d_act.data());
    else d_act = dyd;
    if (g.relu) fk::scalar::relu_backward<double>(size, normalised.data(), d_act.data(), d_norm.data());
    else d_norm = d_act;
    dz.resize(size), dgamma.assign(g.channels, 0.0), dbeta.assign(g.channels, 0.0);
    fk::scalar::batch_norm_backward<double>({g.batch, g.channels, g.plane()}, zd.data(), gd.data(), mean.data(),
                                            var.data(), eps, d_norm.data(), dz.data(), dgamma.data(), dbeta.data());
  }
};

// Elements outside |got - want| <= rel·|want| + abs·max|want| (NaN counts as a mismatch).
template <class Got>
std::size_t mismatches(const std::vector<Got>& got, const std::vector<double>& want, double rel, double abs) {
  double largest = 0.0;
  for (double w : want) largest = std::max(largest, std::fabs(w));
  std::size_t bad = got.size() == want.size() ? 0 : want.size() + 1;
  for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    if (!(std::fabs(static_cast<double>(got[i]) - want[i]) <= rel * std::fabs(want[i]) + abs * largest)) ++bad;
  }
  return bad;
}

struct fused_run {
  std::vector<float> y, picked, batch_mean, batch_var, dz, dgamma, dbeta;
  std::vector<std::uint8_t> code;
};

fused_run run_fused(const fk::batch_norm_relu_pool_geometry& g, const std::vector<float>& z,
                    const std::vector<float>& gamma, const std::vector<float>& beta, const std::vector<float>& dy) {
  fused_run r;
  std::vector<double> mean, var;
  merged_statistics(g, z, mean, var);
  r.y.resize(g.batch * g.channels * g.out_plane());
  r.code.resize(r.y.size());
  r.picked.resize(r.y.size());
  r.batch_mean.resize(g.channels), r.batch_var.resize(g.channels);
  fk::batch_norm_relu_pool_forward(g, z.data(), mean.data(), var.data(), gamma.data(), beta.data(), eps, r.y.data(),
                                   r.code.data(), r.picked.data(), r.batch_mean.data(), r.batch_var.data());
  r.dz.resize(z.size());
  r.dgamma.assign(g.channels, 0.0f), r.dbeta.assign(g.channels, 0.0f);
  fk::batch_norm_relu_pool_backward(g, z.data(), gamma.data(), r.batch_mean.data(), r.batch_var.data(), eps,
                                    dy.data(), r.code.data(), r.picked.data(), r.dz.data(), r.dgamma.data(),
                                    r.dbeta.data());
  return r;
}

}  // namespace

TEST_CASE("batch_norm_relu_pool matches batch_norm → relu → max_pool run unfused in double") {
  std::mt19937 rng(11);
  for (const auto& g : geometries) {
    CAPTURE(g.batch);
    CAPTURE(g.channels);
    CAPTURE(g.height);
    CAPTURE(g.width);
    CAPTURE(g.relu);
    CAPTURE(g.pool);
    const auto z = random_vector(g.batch * g.channels * g.plane(), rng, 0.3f);
    const auto gamma = random_vector(g.channels, rng, 1.0f), beta = random_vector(g.channels, rng);
    const auto dy = random_vector(g.batch * g.channels * g.out_plane(), rng);
    const fused_run got = run_fused(g, z, gamma, beta, dy);
    reference_chain want{g, {}, {}, {}, {}, {}, {}, {}, {}, {}};
    want.forward(z, gamma, beta);
    want.backward(z, gamma, dy);

    CHECK(mismatches(got.batch_mean, want.mean, 1e-5, 1e-6) == 0);
    CHECK(mismatches(got.batch_var, want.var, 1e-5, 0.0) == 0);
    CHECK(mismatches(got.y, want.y, 1e-5, 1e-6) == 0);
    // The chosen cell is the twin's wherever a gradient flows (continuous data: no ties).
    std::size_t wrong_cell = 0;
    for (std::size_t o = 0; o < got.code.size(); ++o) {
      const bool flows = !g.relu || want.y[o] > 0.0;
      if (!flows) {
        wrong_cell += got.code[o] != fk::no_gradient;
      } else if (g.pool) {
        const std::size_t wo = g.out_w(), ox = o % wo, oy = (o / wo) % g.out_h();
        const std::size_t cell = (2 * oy + (got.code[o] >> 1u)) * g.width + 2 * ox + (got.code[o] & 1u);
        wrong_cell += got.code[o] > 3 || cell != want.argmax[o] ||
                      got.picked[o] != z[(o / g.out_plane()) * g.plane() + cell];
      }
    }
    CHECK(wrong_cell == 0);
    CHECK(mismatches(got.dz, want.dz, 1e-4, 1e-5) == 0);
    CHECK(mismatches(got.dgamma, want.dgamma, 1e-4, 1e-5) == 0);
    CHECK(mismatches(got.dbeta, want.dbeta, 1e-4, 1e-5) == 0);
  }
}

TEST_CASE("batch_norm_relu_pool gives bit-identical results on 1 and 2 threads") {
  std::mt19937 rng(5);
  const fk::batch_norm_relu_pool_geometry g = geometries[0];
  const auto z = random_vector(g.batch * g.channels * g.plane(), rng);
  const auto gamma = random_vector(g.channels, rng, 1.0f), beta = random_vector(g.channels, rng);
  const auto dy = random_vector(g.batch * g.channels * g.out_plane(), rng);
  fused_run one, two;
  train_test::with_threads(1, [&] { one = run_fused(g, z, gamma, beta, dy); });
  train_test::with_threads(2, [&] { two = run_fused(g, z, gamma, beta, dy); });
  CHECK(one.y == two.y);
  CHECK(one.code == two.code);
  CHECK(one.dz == two.dz);
  CHECK(one.dgamma == two.dgamma);
  CHECK(one.dbeta == two.dbeta);
}

TEST_CASE("plane moments keep the variance accurate far from zero") {
  // Values 1000 ± 1 over a batch-256 56×56 channel: E[x²] − E[x]² in float would lose every digit.
  std::mt19937 rng(2);
  const std::size_t batch = 256, plane = 56 * 56;
  const auto z = random_vector(batch * plane, rng, 1000.0f);
  std::vector<fk::plane_moments> m(batch);
  for (std::size_t n = 0; n < batch; ++n) m[n] = fk::moments_of_plane(z.data() + n * plane, plane);
  double mean = 0.0, var = 0.0;
  fk::merge_plane_moments(m.data(), batch, 1, plane, &mean, &var);
  double want_mean = 0.0, want_var = 0.0;  // two passes in double: the oracle
  for (float v : z) want_mean += v;
  want_mean /= static_cast<double>(z.size());
  for (float v : z) want_var += (v - want_mean) * (v - want_mean);
  want_var /= static_cast<double>(z.size());
  CHECK(std::fabs(mean - want_mean) <= 1e-9 * want_mean);
  CHECK(std::fabs(var - want_var) <= 1e-6 * want_var);
}

TEST_CASE("batch_norm_relu_pool keeps NaN and passes it no gradient, as PyTorch") {
  const fk::batch_norm_relu_pool_geometry g{2, 1, 4, 4, true, true};
  std::vector<float> z(g.batch * g.plane());
  for (std::size_t i = 0; i < z.size(); ++i) z[i] = static_cast<float>(i % 7) - 3.0f;
  const double mean[] = {0.0}, var[] = {1.0};
  const float gamma[] = {1.0f}, beta[] = {0.0f};
  z[5] = std::numeric_limits<float>::quiet_NaN();  // window (0, 0) of image 0
  std::vector<float> y(g.batch * g.out_plane()), picked(y.size()), batch_mean(1), batch_var(1);
  std::vector<std::uint8_t> code(y.size());
  fk::batch_norm_relu_pool_forward(g, z.data(), mean, var, gamma, beta, eps, y.data(), code.data(), picked.data(),
                                   batch_mean.data(), batch_var.data());
  CHECK(std::isnan(y[0]));
  CHECK(code[0] == fk::no_gradient);
  for (std::size_t o = 1; o < y.size(); ++o) CHECK(!std::isnan(y[o]));
}
