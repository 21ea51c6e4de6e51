// SPDX-License-Identifier: MIT
// The fused xsimd depthwise convolution against the scalar grouped convolution (groups = channels), per architecture.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include <fusenet/kernels/depthwise_conv.hpp>
#include "compare.hpp"
#include <fusenet/kernels/layout.hpp>
#include <fusenet/kernels/scalar/activations.hpp>
#include <fusenet/kernels/scalar/conv2d.hpp>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace fk = fusenet::kernels;

namespace {

using fusenet::test::check_close;
using fusenet::test::random_vector;

// The oracle: nn.Conv2d(C, C, K, stride, padding, groups=C) in double (scalar::conv2d_forward), then torch.relu.
template <std::size_t C, std::size_t H, std::size_t W, std::size_t K, std::size_t Stride, std::size_t Pad, class Act>
std::vector<double> reference(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b,
                              std::size_t n) {
  const fk::scalar::conv2d_geometry g{n, C, H, W, C, K, Stride, Pad, 1, C};
  const std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end()), bd(b.begin(), b.end());
  std::vector<double> y(n * C * g.out_h() * g.out_w());
  fk::scalar::conv2d_forward(g, xd.data(), wd.data(), bd.data(), y.data());
  if constexpr (std::is_same_v<Act, fk::act_relu>)
    for (auto& v : y) v = fk::scalar::relu(v);
  return y;
}

// Bordered NHWC input, packed weights and the kernel's bordered output for one problem.
template <std::size_t C, std::size_t H, std::size_t W, std::size_t K, std::size_t Stride, std::size_t Pad,
          std::size_t OutBorder>
struct problem {
  static constexpr std::size_t ho = (H + 2 * Pad - K) / Stride + 1, wo = (W + 2 * Pad - K) / Stride + 1;
  static constexpr std::size_t out_image = fk::nhwc_image_size<C, ho, wo, OutBorder>;
  std::size_t n;
  std::vector<float> x, w, b;
  fk::aligned_vector<float> xin, wp;

  problem(std::size_t batch, unsigned seed)
      : n(batch),
        x(random_vector(batch * C * H * W, -1.0f, 1.0f, seed)),
        w(random_vector(C * K * K, -1.0f / K, 1.0f / K, seed + 1)),  // PyTorch's init range, fan-in K·K
        b(random_vector(C, -1.0f / K, 1.0f / K, seed + 2)),
        xin(batch * fk::nhwc_image_size<C, H, W, Pad>),
        wp(fk::depthwise_packed_size<C, K>) {}

  // Converts x (possibly edited after construction) and w into the kernel layouts.
  void prepare() {
    fk::nchw_to_nhwc<C, H, W, Pad>(x.data(), xin.data(), n);
    fk::pack_depthwise_weights<C, K>(w.data(), wp.data());
  }

  // Runs the kernel with Tile into a NaN-filled buffer and returns the bordered output.
  template <class Tile, class Act, class Arch>
  fk::aligned_vector<float> run() {
    fk::aligned_vector<float> y(n * out_image, std::numeric_limits<float>::quiet_NaN());
    fk::depthwise_conv_bias_relu_tiled<Tile, C, H, W, K, Stride, Pad, Act, OutBorder, Arch>(xin.data(), wp.data(),
                                                                                           b.data(), y.data(), n);
    return y;
  }

  // Runs the kernel with its default tile for Arch.
  template <class Act, class Arch = xsimd::default_arch>
  fk::aligned_vector<float> run_default() {
    return run<fk::default_depthwise_tile<C, H, W, K, Stride, Pad, Arch>, Act, Arch>();
  }

  // Counts border floats that are not zero.
  std::size_t nonzero_border(const fk::aligned_vector<float>& y) const {
    return fusenet::test::nonzero_border<C, ho, wo, OutBorder>(y, n);
  }

  std::vector<float> to_nchw(const fk::aligned_vector<float>& y) const {
    std::vector<float> got(n * C * ho * wo);
    fk::nhwc_to_nchw<C, ho, wo, OutBorder>(y.data(), got.data(), n);
    return got;
  }
};

// Runs the kernel (default tile) on random data against the oracle; the output buffer starts as NaN, so an
// output float the kernel forgets to write shows up as a mismatch, and the border must come out zero.
template <std::size_t C, std::size_t H, std::size_t W, std::size_t K, std::size_t Stride, std::size_t Pad, class Act,
          std::size_t OutBorder, class Arch>
void check_against_scalar(std::size_t n, unsigned seed) {
  problem<C, H, W, K, Stride, Pad, OutBorder> p(n, seed);
  p.prepare();
  static_assert(fk::depthwise_conv_supported<C, H, W, K, Stride, Pad, Arch>);
  const auto y = p.template run_default<Act, Arch>();
  CHECK(p.nonzero_border(y) == 0);
  check_close(p.to_nchw(y), reference<C, H, W, K, Stride, Pad, Act>(p.x, p.w, p.b, n));
}

}  // namespace

// The architectures instantiated: the build's default one, and AVX2+FMA / SSE4.2 when the CPU and the
// compile flags allow them (they are lower than the default under -march=native).
#if XSIMD_WITH_FMA3_AVX2 && XSIMD_WITH_SSE4_2
#define FUSENET_TEST_ARCHS xsimd::default_arch, xsimd::fma3<xsimd::avx2>, xsimd::sse4_2
#else
#define FUSENET_TEST_ARCHS xsimd::default_arch
#endif

TEST_CASE_TEMPLATE("depthwise: predicates and packed weights [K][K][C]", Arch, FUSENET_TEST_ARCHS) {
  constexpr std::size_t v = xsimd::batch<float, Arch>::size, c = 2 * v, k = 3;
  static_assert(fk::depthwise_fits_vectors<v, Arch> && fk::depthwise_fits_vectors<4 * v, Arch>);
  static_assert(!fk::depthwise_fits_vectors<v + 1, Arch> && !fk::depthwise_fits_vectors<v / 2, Arch>);
  static_assert(!fk::depthwise_conv_supported<v + 1, 14, 14, 3, 1, 1, Arch>);
  static_assert(!fk::depthwise_conv_supported<v, 2, 2, 5, 1, 1, Arch>, "the kernel must fit the padded input");
  static_assert(fk::depthwise_tile_fits<fk::depthwise_tile<1, 4>, 3, Arch>);
  static_assert(!fk::depthwise_tile_fits<fk::depthwise_tile<4, 8>, 3, Arch>, "33+ registers never fit");
  static_assert(fk::depthwise_tile_fits<fk::default_depthwise_tile<4 * v, 7, 7, 3, 1, 1, Arch>, 3, Arch>);
  static_assert(fk::depthwise_packed_size<c, k> == c * k * k);
  const auto w = random_vector(c * k * k, -1.0f, 1.0f, 3);
  std::vector<float> p(fk::depthwise_packed_size<c, k>);
  fk::pack_depthwise_weights<c, k>(w.data(), p.data());
  for (std::size_t ch : {std::size_t{0}, std::size_t{5}, c - 1})
    CHECK(p[(2 * k + 1) * c + ch] == w[(ch * k + 2) * k + 1]);
}

TEST_CASE_TEMPLATE("depthwise: 3x3 stride 1 pad 1, one and four channel vectors", Arch, FUSENET_TEST_ARCHS) {
  constexpr std::size_t v = xsimd::batch<float, Arch>::size;
  check_against_scalar<v, 14, 14, 3, 1, 1, fk::act_relu, 1, Arch>(1, 11);
  check_against_scalar<4 * v, 14, 14, 3, 1, 1, fk::act_none, 0, Arch>(3, 12);
  check_against_scalar<4 * v, 7, 7, 3, 1, 1, fk::act_relu, 1, Arch>(5, 13);
  check_against_scalar<v, 15, 15, 3, 1, 1, fk::act_relu, 0, Arch>(3, 14);
  check_against_scalar<v, 56, 56, 3, 1, 1, fk::act_relu, 1, Arch>(1, 15);  // several tiles per row
}

TEST_CASE_TEMPLATE("depthwise: 3x3 stride 2 pad 1 on even and odd maps", Arch, FUSENET_TEST_ARCHS) {
  constexpr std::size_t v = xsimd::batch<float, Arch>::size;
  check_against_scalar<v, 14, 14, 3, 2, 1, fk::act_relu, 1, Arch>(3, 21);
  check_against_scalar<4 * v, 15, 15, 3, 2, 1, fk::act_relu, 0, Arch>(5, 22);
  check_against_scalar<4 * v, 7, 7, 3, 2, 1, fk::act_none, 1, Arch>(1, 23);
  check_against_scalar<v, 56, 56, 3, 2, 1, fk::act_none, 0, Arch>(1, 24);
}

TEST_CASE_TEMPLATE("depthwise: 5x5 kernels, pad 2 and pad 1, stride 1 and 2", Arch, FUSENET_TEST_ARCHS) {
  constexpr std::size_t v = xsimd::batch<float, Arch>::size;
  check_against_scalar<4 * v, 15, 15, 5, 1, 2, fk::act_relu, 1, Arch>(3, 31);
  check_against_scalar<v, 14, 14, 5, 2, 2, fk::act_none, 0, Arch>(1, 32);
  check_against_scalar<v, 9, 9, 5, 1, 1, fk::act_relu, 1, Arch>(1, 33);
}

TEST_CASE_TEMPLATE("depthwise: no padding, non-square map", Arch, FUSENET_TEST_ARCHS) {
  constexpr std::size_t v = xsimd::batch<float, Arch>::size;
  check_against_scalar<4 * v, 9, 11, 3, 1, 0, fk::act_none, 1, Arch>(1, 41);
  check_against_scalar<v, 11, 9, 3, 2, 0, fk::act_relu, 0, Arch>(3, 42);
}

TEST_CASE_TEMPLATE("depthwise: 1x1 and 2x2 maps", Arch, FUSENET_TEST_ARCHS) {
  constexpr std::size_t v = xsimd::batch<float, Arch>::size;
  check_against_scalar<4 * v, 1, 1, 3, 1, 1, fk::act_relu, 1, Arch>(5, 51);
  check_against_scalar<v, 2, 2, 3, 1, 1, fk::act_none, 0, Arch>(3, 52);
  check_against_scalar<4 * v, 2, 2, 3, 2, 1, fk::act_relu, 1, Arch>(1, 53);
}

TEST_CASE_TEMPLATE("depthwise: explicit tiles give bit-identical results", Arch, FUSENET_TEST_ARCHS) {
  // The taps of every output value are summed in the same order whatever the tile, so narrower tiles (many tiles
  // and a tail per row) and wider channel blocks reproduce the default tile exactly.
  constexpr std::size_t v = xsimd::batch<float, Arch>::size;
  problem<4 * v, 13, 13, 3, 1, 1, 1> p(2, 61);
  p.prepare();
  const auto want = p.template run_default<fk::act_relu, Arch>();
  const auto a = p.template run<fk::depthwise_tile<1, 3>, fk::act_relu, Arch>();
  const auto b = p.template run<fk::depthwise_tile<2, 5>, fk::act_relu, Arch>();
  CHECK(std::memcmp(a.data(), want.data(), want.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(b.data(), want.data(), want.size() * sizeof(float)) == 0);
  check_close(p.to_nchw(a), reference<4 * v, 13, 13, 3, 1, 1, fk::act_relu>(p.x, p.w, p.b, 2));
  problem<v, 11, 11, 5, 2, 2, 0> q(1, 62);
  q.prepare();
  const auto c = q.template run<fk::depthwise_tile<1, 4>, fk::act_none, Arch>();
  check_close(q.to_nchw(c), reference<v, 11, 11, 5, 2, 2, fk::act_none>(q.x, q.w, q.b, 1));
}

TEST_CASE("depthwise: a NaN input stays NaN through ReLU, only in the outputs whose window holds it") {
  // Negative biases and weights make most finite outputs negative, so ReLU really clamps them to 0 while the
  // outputs that read the NaN stay NaN (torch.relu); the oracle, in double, propagates the NaN the same way.
  constexpr std::size_t v = xsimd::batch<float>::size, c = 2 * v, h = 9, w = 9;
  problem<c, h, w, 3, 1, 1, 1> p(1, 71);
  for (auto& x : p.w) x = -std::fabs(x);
  for (auto& x : p.b) x = -0.5f;
  for (auto& x : p.x) x = std::fabs(x);
  p.x[(3 * h + 4) * w + 4] = std::numeric_limits<float>::quiet_NaN();  // channel 3, pixel (4, 4)
  p.prepare();
  const auto y = p.run_default<fk::act_relu>();
  const auto got = p.to_nchw(y);
  const auto want = reference<c, h, w, 3, 1, 1, fk::act_relu>(p.x, p.w, p.b, 1);
  std::size_t nan = 0, zero = 0;
  for (std::size_t i = 0; i < got.size(); ++i) nan += std::isnan(got[i]), zero += got[i] == 0.0f;
  CHECK(nan == 9);  // the 3×3 outputs of channel 3 around (4, 4)
  CHECK(zero > got.size() / 2);
  check_close(got, want);
  CHECK(p.nonzero_border(y) == 0);
}

#ifdef _OPENMP
TEST_CASE("depthwise: one and two threads give bit-identical results, split by images or by rows") {
  constexpr std::size_t v = xsimd::batch<float>::size;
  const int saved = omp_get_max_threads();
  auto both = [](auto& p) {
    p.prepare();
    omp_set_num_threads(1);
    const auto one = p.template run_default<fk::act_relu>();
    omp_set_num_threads(2);
    const auto two = p.template run_default<fk::act_relu>();
    CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
    CHECK(p.nonzero_border(two) == 0);
  };
  for (std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{5}}) {
    problem<4 * v, 14, 14, 3, 1, 1, 1> s1(n, 81);
    both(s1);
    problem<4 * v, 14, 14, 3, 2, 1, 1> s2(n, 82);
    both(s2);
  }
  // Inside a parallel region the kernel runs on the calling thread only (no nested team) and gives the same values.
  problem<4 * v, 14, 14, 3, 1, 1, 1> p(2, 83);
  p.prepare();
  const auto want = p.run_default<fk::act_relu>();
  fk::aligned_vector<float> got(want.size());
#pragma omp parallel num_threads(2)
  {
#pragma omp single
    fk::depthwise_conv_bias_relu<4 * v, 14, 14, 3, 1, 1, fk::act_relu, 1>(p.xin.data(), p.wp.data(), p.b.data(),
                                                                          got.data(), p.n);
  }
  CHECK(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)) == 0);
  omp_set_num_threads(saved);
}
#endif
