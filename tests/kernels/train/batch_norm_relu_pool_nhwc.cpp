// SPDX-License-Identifier: MIT
// The NHWC training epilogue (batch_norm_relu_pool_nhwc.hpp, behind the direct-kernel convolution) against the
// NCHW one (batch_norm_relu_pool.hpp, itself tested against the unfused scalar twins): the forward is the
// same arithmetic element for element, so y, the codes and the picked values must be bit-identical (where
// the target has an FMA instruction); backward sums in another order, so dz, dγ, dβ agree to rounding. Also: the moments of NHWC pixels and dz's border.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <fusenet/kernels/batch_norm_relu_pool.hpp>
#include <fusenet/kernels/batch_norm_relu_pool_nhwc.hpp>
#include <fusenet/kernels/batch_stats.hpp>
#include <limits>
#include <random>
#include <vector>

#include "common.hpp"

namespace fk = fusenet::kernels;
using train_test::mismatches;
using train_test::random_vector;

namespace {

//                                         N   C   H   W  relu  pool
const fk::batch_norm_relu_pool_geometry geometries[] = {
    {8, 32, 28, 28, true, true},  // reference CNN, first stage
    {9, 64, 14, 14, true, true},  // second stage
    {3, 16, 7, 9, true, true},    // odd sizes: last row and column in no window
    {4, 32, 10, 10, false, true}, // pool without ReLU
    {4, 16, 9, 11, true, false},  // ReLU without pool
    {4, 16, 5, 5, false, false},  // BatchNorm alone
};
constexpr float eps = 1e-5f;

/// planes (N×C×P) to pixels (N×P×C), and back
template <class T>
std::vector<T> to_pixels(const std::vector<T>& v, std::size_t n, std::size_t c, std::size_t p) {
  std::vector<T> out(v.size());
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < c; ++k)
      for (std::size_t j = 0; j < p; ++j) out[(i * p + j) * c + k] = v[(i * c + k) * p + j];
  return out;
}

}  // namespace

TEST_CASE("NHWC epilogue: forward bit-identical to the NCHW epilogue, backward equal to rounding") {
  std::mt19937 rng(31);
  for (const auto& g : geometries) {
    CAPTURE(g.channels);
    CAPTURE(g.height);
    CAPTURE(g.width);
    CAPTURE(g.relu);
    CAPTURE(g.pool);
    const std::size_t plane = g.plane(), out = g.out_plane(), c = g.channels;
    const auto z = random_vector(g.batch * c * plane, rng, 0.3f);
    const auto gamma = random_vector(c, rng, 1.0f), beta = random_vector(c, rng);
    const auto dy = random_vector(g.batch * c * out, rng);
    std::vector<fk::plane_moments> m(g.batch * c);
    for (std::size_t p = 0; p < m.size(); ++p) m[p] = fk::moments_of_plane(z.data() + p * plane, plane);
    std::vector<double> mean(c), var(c);
    fk::merge_plane_moments(m.data(), g.batch, c, plane, mean.data(), var.data());

    // NCHW
    std::vector<float> y(dy.size()), picked(dy.size()), bm(c), bv(c), dz(z.size()), dgamma(c, 0.5f), dbeta(c, 0.5f);
    std::vector<std::uint8_t> code(dy.size());
    fk::batch_norm_relu_pool_forward(g, z.data(), mean.data(), var.data(), gamma.data(), beta.data(), eps, y.data(),
                                     code.data(), picked.data(), bm.data(), bv.data());
    fk::batch_norm_relu_pool_backward(g, z.data(), gamma.data(), bm.data(), bv.data(), eps, dy.data(), code.data(),
                                      picked.data(), dz.data(), dgamma.data(), dbeta.data());

    // NHWC, with a border of 1 around dz
    const auto z_px = to_pixels(z, g.batch, c, plane);
    std::vector<float> y2(dy.size(), std::numeric_limits<float>::quiet_NaN()), picked2(dy.size()), bm2(c), bv2(c);
    std::vector<float> dgamma2(c, 0.5f), dbeta2(c, 0.5f), workspace;
    std::vector<std::uint8_t> code2(dy.size());
    fk::batch_norm_relu_pool_nhwc_forward(g, z_px.data(), mean.data(), var.data(), gamma.data(), beta.data(), eps,
                                          y2.data(), code2.data(), picked2.data(), bm2.data(), bv2.data(), workspace);
#if defined(__FMA__)
    // (z − m)·s + t is one fused multiply-add in both (kernels::fma, std::fma): the same rounding
    CHECK(y2 == y);
    CHECK(code2 == to_pixels(code, g.batch, c, out));
    if (g.pool) CHECK(picked2 == to_pixels(picked, g.batch, c, out));
#else
    // without an FMA instruction the vector path rounds twice and std::fma once: equal to rounding
    CHECK(mismatches(y2, y, 1e-6f, 1e-6f) == 0);
#endif
    CHECK(bm2 == bm);
    CHECK(bv2 == bv);

    const std::size_t b = 1, row = (g.width + 2 * b) * c, image = (g.height + 2 * b) * row;
    std::vector<float> dzb(g.batch * image, std::numeric_limits<float>::quiet_NaN());
    fk::batch_norm_relu_pool_nhwc_backward(g, z_px.data(), gamma.data(), bm2.data(), bv2.data(), eps, dy.data(),
                                           code2.data(), picked2.data(), dzb.data(), b, dgamma2.data(),
                                           dbeta2.data(), workspace);
    std::vector<float> interior(z.size());
    std::size_t border_nonzero = 0;
    for (std::size_t n = 0; n < g.batch; ++n)
      for (std::size_t yy = 0; yy < g.height + 2 * b; ++yy)
        for (std::size_t xx = 0; xx < g.width + 2 * b; ++xx)
          for (std::size_t k = 0; k < c; ++k) {
            const float v = dzb[n * image + yy * row + xx * c + k];
            const bool inside = yy >= b && yy < g.height + b && xx >= b && xx < g.width + b;
            if (inside) interior[((n * plane) + (yy - b) * g.width + (xx - b)) * c + k] = v;
            else if (!(v == 0.0f)) ++border_nonzero;
          }
    CHECK(border_nonzero == 0);
    CHECK(mismatches(interior, to_pixels(dz, g.batch, c, plane), 1e-4f, 1e-6f) == 0);
    CHECK(mismatches(dgamma2, dgamma, 1e-5f, 1e-5f) == 0);
    CHECK(mismatches(dbeta2, dbeta, 1e-5f, 1e-5f) == 0);
  }
}

TEST_CASE("moments of NHWC pixels: those of the NCHW planes, accurate far from zero") {
  std::mt19937 rng(32);
  const std::size_t pixels = 56 * 56, channels = 32;
  for (const float offset : {0.0f, 1000.0f}) {
    CAPTURE(offset);
    const auto px = random_vector(pixels * channels, rng, offset);
    std::vector<fk::plane_moments> m(channels);
    fk::moments_of_pixels(px.data(), pixels, channels, m.data());
    std::size_t bad = 0;
    for (std::size_t k = 0; k < channels; ++k) {
      double sum = 0.0, m2 = 0.0;
      for (std::size_t p = 0; p < pixels; ++p) sum += px[p * channels + k];
      const double mean = sum / pixels;
      for (std::size_t p = 0; p < pixels; ++p) m2 += (px[p * channels + k] - mean) * (px[p * channels + k] - mean);
      // mean within 1e-9 relative (1e-7 absolute near 0, where values of spread 0.6 cancel), variance within
      // 1e-6 relative, as the NCHW moments
      if (!(std::fabs(m[k].sum / pixels - mean) <= 1e-9 * std::fabs(mean) + 1e-7)) ++bad;
      if (!(std::fabs(m[k].m2 - m2) <= 1e-6 * m2)) ++bad;
    }
    CHECK(bad == 0);
  }
}
