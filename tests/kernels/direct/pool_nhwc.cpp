// SPDX-License-Identifier: MIT
// The NHWC max / average pool against the NCHW scalar twins, across windows, strides, paddings and channel counts
// that do and do not fill vectors; NaN wins the max; the output border is zero.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <fusenet/kernels/layout.hpp>
#include <fusenet/kernels/pool_nhwc.hpp>
#include <fusenet/kernels/scalar/pool.hpp>
#include <limits>
#include <random>
#include <vector>

namespace fk = fusenet::kernels;

namespace {

template <class Pool, std::size_t C, std::size_t H, std::size_t W, std::size_t K, std::size_t S, std::size_t P,
          std::size_t B>
void check(std::size_t n, unsigned seed, bool with_nan = false) {
  CAPTURE(C);
  CAPTURE(H);
  CAPTURE(K);
  CAPTURE(S);
  CAPTURE(P);
  constexpr std::size_t ho = (H + 2 * P - K) / S + 1, wo = (W + 2 * P - K) / S + 1;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n * C * H * W);
  for (auto& v : x) v = normal(rng);
  if (with_nan) x[(0 * C + C - 1) * H * W + 1] = std::numeric_limits<float>::quiet_NaN();  // image 0, channel C−1
  const fk::scalar::pool2d_geometry g{n, C, H, W, K, S, P};
  std::vector<float> want(n * C * ho * wo);
  std::vector<std::uint32_t> argmax(want.size());
  if constexpr (std::is_same_v<Pool, fk::window_max>) fk::scalar::max_pool2d_forward(g, x.data(), want.data(), argmax.data());
  else fk::scalar::avg_pool2d_forward(g, x.data(), want.data());

  std::vector<float> xin(n * fk::nhwc_image_size<C, H, W, 0>);
  fk::nchw_to_nhwc<C, H, W, 0>(x.data(), xin.data(), n);
  std::vector<float> y(n * fk::nhwc_image_size<C, ho, wo, B>, std::numeric_limits<float>::quiet_NaN());
  fk::pool_nhwc<Pool, C, H, W, K, S, P, B>(xin.data(), y.data(), n);
  std::vector<float> got(want.size());
  fk::nhwc_to_nchw<C, ho, wo, B>(y.data(), got.data(), n);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const bool both_nan = std::isnan(got[i]) && std::isnan(want[i]);
    if (!both_nan && !(std::fabs(got[i] - want[i]) <= 1e-6f * (1.0f + std::fabs(want[i])))) ++bad;
  }
  CHECK(bad == 0);
  // the border: zero everywhere outside the Ho×Wo pixels
  std::vector<float> inner(y.size());
  fk::nchw_to_nhwc<C, ho, wo, B>(got.data(), inner.data(), n);
  std::size_t border = 0;
  for (std::size_t i = 0; i < y.size(); ++i)
    if (inner[i] == 0.0f && y[i] != 0.0f && !std::isnan(y[i])) ++border;
  CHECK(border == 0);
}

}  // namespace

TEST_CASE("pool_nhwc: max pool as nn.MaxPool2d, the ResNet stem's 3x3 stride 2 padding 1 and others") {
  check<fk::window_max, 64, 16, 16, 3, 2, 1, 1>(2, 1);  // ResNet-18 after its stem, smaller map
  check<fk::window_max, 32, 15, 15, 3, 2, 1, 0>(1, 2);  // odd map
  check<fk::window_max, 16, 8, 8, 2, 2, 0, 1>(3, 3);
  check<fk::window_max, 5, 7, 9, 3, 1, 1, 0>(2, 4);      // channels fill no vector: the scalar tail
  check<fk::window_max, 19, 6, 6, 3, 3, 1, 2>(1, 5);     // vectors and a tail
}

TEST_CASE("pool_nhwc: average pool as nn.AvgPool2d (count_include_pad)") {
  check<fk::window_mean, 64, 16, 16, 3, 2, 1, 1>(2, 11);
  check<fk::window_mean, 16, 9, 9, 2, 2, 0, 0>(1, 12);
  check<fk::window_mean, 7, 5, 5, 3, 1, 1, 1>(2, 13);
}

TEST_CASE("pool_nhwc: a NaN wins its windows' max, as PyTorch") {
  check<fk::window_max, 16, 8, 8, 3, 2, 1, 0>(1, 21, true);
  check<fk::window_max, 20, 8, 8, 3, 2, 1, 0>(1, 22, true);
}
