// SPDX-License-Identifier: MIT
// The fused xsimd convolution against its scalar twin, for every architecture this build can run.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <vector>

#include <fusenet/kernels/conv_blocked.hpp>
#include <fusenet/kernels/layout.hpp>
#include <fusenet/kernels/scalar/conv_blocked.hpp>

#include "compare.hpp"

namespace fk = fusenet::kernels;

namespace {

std::vector<float> random_vector(std::size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

// |got − want| ≤ 1e-5·|want| + 1e-5 for every element; reports the first mismatch.
void check_close(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(got[i] - want[i]) <= 1e-5f * std::fabs(want[i]) + 1e-5f)) {
      if (bad++ == 0) first = i;
    }
  INFO("first mismatch at " << first << ": got " << got[first] << ", want " << want[first]);
  CHECK(bad == 0);
}

// Runs the fused kernel and its scalar twin on random data; also checks that the kernel writes every output
// float (the buffer starts as NaN) and that the border it writes is zero.
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K, std::size_t Pad,
          std::size_t PoolWindow, class Pool, class Act, std::size_t OutBorder, class Arch, std::size_t Stride = 1,
          std::size_t InBorder = Pad>
void check_against_scalar(std::size_t batch, unsigned seed) {
  constexpr std::size_t ho = ((H + 2 * Pad - K) / Stride + 1) / PoolWindow;
  constexpr std::size_t wo = ((W + 2 * Pad - K) / Stride + 1) / PoolWindow;
  const float bound = 1.0f / std::sqrt(static_cast<float>(Cin * K * K));  // PyTorch's default init range
  const auto x = random_vector(batch * Cin * H * W, -1.0f, 1.0f, seed);
  const auto w = random_vector(Cout * Cin * K * K, -bound, bound, seed + 1);
  const auto b = random_vector(Cout, -bound, bound, seed + 2);

  std::vector<float> want(batch * Cout * ho * wo);
  fk::scalar::conv_bias_relu_pool<Cin, Cout, H, W, K, Pad, PoolWindow, Pool, Act, Stride>(x.data(), w.data(),
                                                                                          b.data(), want.data(), batch);

  fk::aligned_vector<float> xin(batch * fk::nhwc_image_size<Cin, H, W, InBorder>);
  fk::nchw_to_nhwc<Cin, H, W, InBorder>(x.data(), xin.data(), batch);
  fk::aligned_vector<float> wp(fk::packed_weights_size<Cin, Cout, K>);
  fk::pack_conv_weights<Cin, Cout, K, Arch>(w.data(), wp.data());
  constexpr std::size_t out_image = fk::nhwc_image_size<Cout, ho, wo, OutBorder>;
  fk::aligned_vector<float> yout(batch * out_image, std::numeric_limits<float>::quiet_NaN());
  fk::conv_stride_bias_relu_pool<Stride, InBorder, Cin, Cout, H, W, K, Pad, PoolWindow, Pool, Act, OutBorder, Arch>(
      xin.data(), wp.data(), b.data(), yout.data(), batch);

  std::size_t nonzero_border = 0, nan = 0;
  constexpr std::size_t wb = wo + 2 * OutBorder;
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t y = 0; y < ho + 2 * OutBorder; ++y)
      for (std::size_t xx = 0; xx < wb; ++xx)
        for (std::size_t c = 0; c < Cout; ++c) {
          const float v = yout[n * out_image + (y * wb + xx) * Cout + c];
          if (std::isnan(v)) ++nan;
          const bool border = y < OutBorder || y >= OutBorder + ho || xx < OutBorder || xx >= OutBorder + wo;
          if (border && v != 0.0f) ++nonzero_border;
        }
  CHECK(nan == 0);
  CHECK(nonzero_border == 0);

  std::vector<float> got(want.size());
  fk::nhwc_to_nchw<Cout, ho, wo, OutBorder>(yout.data(), got.data(), batch);
  check_close(got, want);
}

// A residual block's last conv (3×3, padding 1): y = relu(act(conv + b) + s), the shortcut s in bordered NHWC with
// a border of its own, which holds NaN so that reading it would show; the oracle is the scalar conv plus s.
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t Stride, class Act, bool Relu,
          std::size_t ShortcutBorder, std::size_t OutBorder, class Arch>
void check_shortcut_add(std::size_t batch, unsigned seed) {
  constexpr std::size_t k = 3, pad = 1, ho = (H + 2 * pad - k) / Stride + 1, wo = (W + 2 * pad - k) / Stride + 1;
  const float bound = 1.0f / std::sqrt(static_cast<float>(Cin * k * k));
  const auto x = random_vector(batch * Cin * H * W, -1.0f, 1.0f, seed);
  const auto w = random_vector(Cout * Cin * k * k, -bound, bound, seed + 1);
  const auto b = random_vector(Cout, -bound, bound, seed + 2);
  const auto sc = random_vector(batch * Cout * ho * wo, -1.0f, 1.0f, seed + 3);

  std::vector<float> want(batch * Cout * ho * wo);
  fk::scalar::conv_bias_relu_pool<Cin, Cout, H, W, k, pad, 1, fk::pool_max, Act, Stride>(x.data(), w.data(), b.data(),
                                                                                         want.data(), batch);
  for (std::size_t i = 0; i < want.size(); ++i) {
    want[i] += sc[i];
    if (Relu) want[i] = std::max(want[i], 0.0f);
  }

  fk::aligned_vector<float> xin(batch * fk::nhwc_image_size<Cin, H, W, pad>);
  fk::nchw_to_nhwc<Cin, H, W, pad>(x.data(), xin.data(), batch);
  fk::aligned_vector<float> wp(fk::packed_weights_size<Cin, Cout, k>);
  fk::pack_conv_weights<Cin, Cout, k, Arch>(w.data(), wp.data());
  fk::aligned_vector<float> s(batch * fk::nhwc_image_size<Cout, ho, wo, ShortcutBorder>);
  fk::nchw_to_nhwc<Cout, ho, wo, ShortcutBorder>(sc.data(), s.data(), batch);
  fusenet::test::fill_border<Cout, ho, wo, ShortcutBorder>(s, batch, std::numeric_limits<float>::quiet_NaN());

  constexpr std::size_t out_image = fk::nhwc_image_size<Cout, ho, wo, OutBorder>;
  fk::aligned_vector<float> yout(batch * out_image, std::numeric_limits<float>::quiet_NaN());
  fk::conv_stride_bias_relu_pool<Stride, pad, Cin, Cout, H, W, k, pad, 1, fk::pool_max, Act, OutBorder, Arch,
                                 fk::add_shortcut<ShortcutBorder, Relu>>(xin.data(), wp.data(), b.data(), yout.data(),
                                                                         batch, s.data());
  std::size_t nan = 0;
  for (float v : yout) nan += std::isnan(v);
  CHECK(nan == 0);  // every output written, the border zeroed, the shortcut's border never read
  std::vector<float> got(want.size());
  fk::nhwc_to_nchw<Cout, ho, wo, OutBorder>(yout.data(), got.data(), batch);
  check_close(got, want);
}

}  // namespace

// The architectures instantiated: the build's default one, and AVX2+FMA / SSE4.2 when the CPU and the
// compile flags allow them (they are lower than the default under -march=native).
#if XSIMD_WITH_FMA3_AVX2 && XSIMD_WITH_SSE4_2
#define FUSENET_TEST_ARCHS xsimd::default_arch, xsimd::fma3<xsimd::avx2>, xsimd::sse4_2
#else
#define FUSENET_TEST_ARCHS xsimd::default_arch
#endif

TEST_CASE("layout: NCHW to bordered NHWC and back is the identity, with a zero border") {
  constexpr std::size_t c = 3, h = 5, w = 4, border = 2, n = 2;
  const auto x = random_vector(n * c * h * w, -1.0f, 1.0f, 7);
  std::vector<float> nhwc(n * fk::nhwc_image_size<c, h, w, border>, 1.0f), back(x.size());
  fk::nchw_to_nhwc<c, h, w, border>(x.data(), nhwc.data(), n);
  // pixel (y, x) of channel ch of image 1, read at its documented place
  CHECK(nhwc[fk::nhwc_image_size<c, h, w, border> + ((3 + border) * (w + 2 * border) + 1 + border) * c + 2] ==
        x[((1 * c + 2) * h + 3) * w + 1]);
  CHECK(nhwc[0] == 0.0f);
  CHECK(nhwc[(1 * (w + 2 * border) + w + border) * c] == 0.0f);
  fk::nhwc_to_nchw<c, h, w, border>(nhwc.data(), back.data(), n);
  CHECK(back == x);
}

TEST_CASE_TEMPLATE("layout: packed weights are [Cout/V][K][K][Cin][V]", Arch, FUSENET_TEST_ARCHS) {
  constexpr std::size_t cin = 3, cout = 32, k = 3, v = xsimd::batch<float, Arch>::size;
  const auto w = random_vector(cout * cin * k * k, -1.0f, 1.0f, 3);
  std::vector<float> p(fk::packed_weights_size<cin, cout, k>);
  fk::pack_conv_weights<cin, cout, k, Arch>(w.data(), p.data());
  for (std::size_t o : {std::size_t{0}, std::size_t{5}, cout - 1})
    CHECK(p[((((o / v) * k + 2) * k + 1) * cin + 1) * v + o % v] == w[((o * cin + 1) * k + 2) * k + 1]);
}

TEST_CASE_TEMPLATE("conv_bias_relu_pool: first layer 1->32, 28x28, relu, max pool", Arch, FUSENET_TEST_ARCHS) {
  check_against_scalar<1, 32, 28, 28, 3, 1, 2, fk::pool_max, fk::act_relu, 1, Arch>(2, 11);
}

TEST_CASE_TEMPLATE("conv_bias_relu_pool: 32->64, 14x14, relu, max pool", Arch, FUSENET_TEST_ARCHS) {
  check_against_scalar<32, 64, 14, 14, 3, 1, 2, fk::pool_max, fk::act_relu, 0, Arch>(2, 21);
}

TEST_CASE_TEMPLATE("conv_bias_relu_pool: 64->64, 56x56, relu, no pool", Arch, FUSENET_TEST_ARCHS) {
  check_against_scalar<64, 64, 56, 56, 3, 1, 1, fk::pool_max, fk::act_relu, 1, Arch>(2, 31);
}

TEST_CASE_TEMPLATE("conv_bias_relu_pool: odd 15x15 map, max pool drops the last row and column", Arch,
                   FUSENET_TEST_ARCHS) {
  check_against_scalar<3, 16, 15, 15, 3, 1, 2, fk::pool_max, fk::act_relu, 1, Arch>(2, 41);
}

TEST_CASE_TEMPLATE("conv_bias_relu_pool: average pool, odd map", Arch, FUSENET_TEST_ARCHS) {
  check_against_scalar<8, 32, 13, 13, 3, 1, 2, fk::pool_avg, fk::act_relu, 1, Arch>(2, 51);
  check_against_scalar<8, 32, 12, 12, 3, 1, 2, fk::pool_avg, fk::act_none, 0, Arch>(1, 52);
}

TEST_CASE_TEMPLATE("conv_stride_bias_relu_pool: stride 2 as ResNets and MobileNets downsample", Arch,
                   FUSENET_TEST_ARCHS) {
  check_against_scalar<32, 64, 14, 14, 3, 1, 1, fk::pool_max, fk::act_relu, 1, Arch, 2>(2, 71);   // 14 -> 7
  check_against_scalar<16, 32, 15, 15, 3, 1, 1, fk::pool_max, fk::act_none, 0, Arch, 2>(3, 72);   // odd: 15 -> 8
  check_against_scalar<16, 32, 16, 16, 1, 0, 1, fk::pool_max, fk::act_none, 0, Arch, 2>(2, 73);   // 1x1 projection
  check_against_scalar<3, 16, 32, 32, 7, 3, 1, fk::pool_max, fk::act_relu, 1, Arch, 2>(1, 74);    // tiny-Cin stem
  check_against_scalar<3, 16, 29, 29, 3, 1, 2, fk::pool_max, fk::act_relu, 0, Arch, 2>(2, 75);    // stride 2 + pool
  check_against_scalar<16, 32, 9, 9, 3, 0, 2, fk::pool_avg, fk::act_relu, 1, Arch, 2>(1, 76);     // 9 -> 4 -> 2
}

TEST_CASE_TEMPLATE("conv_stride_bias_relu_pool: a residual block's shortcut added (and ReLU) in the epilogue", Arch,
                   FUSENET_TEST_ARCHS) {
  constexpr std::size_t v = xsimd::batch<float, Arch>::size;
  check_shortcut_add<2 * v, 2 * v, 14, 14, 1, fk::act_none, true, 1, 1, Arch>(2, 301);  // identity, same borders
  check_shortcut_add<v, 2 * v, 14, 14, 2, fk::act_none, true, 0, 1, Arch>(3, 302);      // projection, stride 2
  check_shortcut_add<2 * v, 4 * v, 9, 9, 1, fk::act_relu, false, 2, 0, Arch>(1, 303);   // odd map, own ReLU only
}

TEST_CASE_TEMPLATE("conv_stride_bias_relu_pool: an input border wider than the padding", Arch, FUSENET_TEST_ARCHS) {
  // a residual's projection: 1×1, stride 2, no padding, reading the block's input with its border of 1
  check_against_scalar<16, 32, 14, 14, 1, 0, 1, fk::pool_max, fk::act_none, 1, Arch, 2, 1>(2, 81);
  check_against_scalar<16, 32, 9, 9, 3, 1, 1, fk::pool_max, fk::act_relu, 0, Arch, 1, 2>(1, 82);
}

TEST_CASE_TEMPLATE("conv_bias_relu_pool: no relu, no pool, 5x5 kernel, no padding", Arch, FUSENET_TEST_ARCHS) {
  check_against_scalar<5, 16, 11, 9, 5, 0, 1, fk::pool_max, fk::act_none, 0, Arch>(3, 61);
  check_against_scalar<5, 16, 11, 9, 5, 2, 1, fk::pool_max, fk::act_none, 2, Arch>(1, 62);
}

TEST_CASE_TEMPLATE("conv_bias_relu_pool: two stages chain through the border without conversion", Arch,
                   FUSENET_TEST_ARCHS) {
  // stage 1: 1->16, 12x12, relu, max pool -> 16x6x6 with border 1; stage 2: 16->32, 6x6, relu, no pool
  constexpr std::size_t n = 2;
  const auto x = random_vector(n * 144, -1.0f, 1.0f, 71);
  const auto w1 = random_vector(16 * 9, -0.3f, 0.3f, 72), b1 = random_vector(16, -0.3f, 0.3f, 73);
  const auto w2 = random_vector(32 * 16 * 9, -0.1f, 0.1f, 74), b2 = random_vector(32, -0.1f, 0.1f, 75);
  std::vector<float> mid(n * 16 * 36), want(n * 32 * 36), got(want.size());
  fk::scalar::conv_bias_relu_pool<1, 16, 12, 12, 3, 1, 2, fk::pool_max, fk::act_relu>(x.data(), w1.data(), b1.data(),
                                                                                     mid.data(), n);
  fk::scalar::conv_bias_relu_pool<16, 32, 6, 6, 3, 1, 1, fk::pool_max, fk::act_relu>(mid.data(), w2.data(),
                                                                                     b2.data(), want.data(), n);

  fk::aligned_vector<float> xin(n * fk::nhwc_image_size<1, 12, 12, 1>), p1(16 * 9), p2(32 * 16 * 9);
  fk::aligned_vector<float> a1(n * fk::nhwc_image_size<16, 6, 6, 1>, 5.0f), a2(n * 32 * 36);
  fk::nchw_to_nhwc<1, 12, 12, 1>(x.data(), xin.data(), n);
  fk::pack_conv_weights<1, 16, 3, Arch>(w1.data(), p1.data());
  fk::pack_conv_weights<16, 32, 3, Arch>(w2.data(), p2.data());
  fk::conv_bias_relu_pool<1, 16, 12, 12, 3, 1, 2, fk::pool_max, fk::act_relu, 1, Arch>(xin.data(), p1.data(),
                                                                                       b1.data(), a1.data(), n);
  fk::conv_bias_relu_pool<16, 32, 6, 6, 3, 1, 1, fk::pool_max, fk::act_relu, 0, Arch>(a1.data(), p2.data(),
                                                                                      b2.data(), a2.data(), n);
  fk::nhwc_to_nchw<32, 6, 6, 0>(a2.data(), got.data(), n);
  check_close(got, want);
}

TEST_CASE_TEMPLATE("conv_bias_relu_pool: explicit small tiles give the same result", Arch, FUSENET_TEST_ARCHS) {
  // one vector × 2 columns (many tiles plus a tail) against the default tile, on the same data
  constexpr std::size_t n = 1;
  using small = fk::conv_tile<1, 2>;
  const auto x = random_vector(n * 16 * 9 * 9, -1.0f, 1.0f, 81);
  const auto w = random_vector(32 * 16 * 9, -0.1f, 0.1f, 82), b = random_vector(32, -0.1f, 0.1f, 83);
  fk::aligned_vector<float> xin(n * fk::nhwc_image_size<16, 9, 9, 1>), p(32 * 16 * 9);
  fk::nchw_to_nhwc<16, 9, 9, 1>(x.data(), xin.data(), n);
  fk::pack_conv_weights<16, 32, 3, Arch>(w.data(), p.data());
  std::vector<float> want(n * 32 * 81), got(want.size()), a(want.size());
  fk::scalar::conv_bias_relu_pool<16, 32, 9, 9, 3, 1, 1, fk::pool_max, fk::act_relu>(x.data(), w.data(), b.data(),
                                                                                     want.data(), n);
  fk::conv_bias_relu_pool_tiled<small, 16, 32, 9, 9, 3, 1, 1, fk::pool_max, fk::act_relu, 0, Arch>(
      xin.data(), p.data(), b.data(), a.data(), n);
  fk::nhwc_to_nchw<32, 9, 9, 0>(a.data(), got.data(), n);
  check_close(got, want);
  // the tiny-Cin loop (weights of a kernel row in registers) is also correct when Cin is not tiny
  fk::conv_bias_relu_pool_tiled<fk::conv_tile<1, 4, true>, 16, 32, 9, 9, 3, 1, 1, fk::pool_max, fk::act_relu, 0, Arch>(
      xin.data(), p.data(), b.data(), a.data(), n);
  fk::nhwc_to_nchw<32, 9, 9, 0>(a.data(), got.data(), n);
  check_close(got, want);
}

TEST_CASE_TEMPLATE("conv_bias_relu_pool: first layer with the plain loop instead of the tiny-Cin loop", Arch,
                   FUSENET_TEST_ARCHS) {
  constexpr std::size_t n = 2;
  const auto x = random_vector(n * 28 * 28, -1.0f, 1.0f, 91);
  const auto w = random_vector(32 * 9, -0.3f, 0.3f, 92), b = random_vector(32, -0.3f, 0.3f, 93);
  fk::aligned_vector<float> xin(n * fk::nhwc_image_size<1, 28, 28, 1>), p(32 * 9), a(n * 32 * 14 * 14);
  fk::nchw_to_nhwc<1, 28, 28, 1>(x.data(), xin.data(), n);
  fk::pack_conv_weights<1, 32, 3, Arch>(w.data(), p.data());
  std::vector<float> want(n * 32 * 14 * 14), got(want.size());
  fk::scalar::conv_bias_relu_pool<1, 32, 28, 28, 3, 1, 2, fk::pool_max, fk::act_relu>(x.data(), w.data(), b.data(),
                                                                                     want.data(), n);
  fk::conv_bias_relu_pool_tiled<fk::conv_tile<1, 6>, 1, 32, 28, 28, 3, 1, 2, fk::pool_max, fk::act_relu, 0, Arch>(
      xin.data(), p.data(), b.data(), a.data(), n);
  fk::nhwc_to_nchw<32, 14, 14, 0>(a.data(), got.data(), n);
  check_close(got, want);
}

namespace {

// A NaN input pixel makes its conv-output pixel NaN in every channel (a 1×1 kernel, and 0·NaN is NaN), so an
// output is NaN exactly when its window (the pixel itself, or its 2×2 pool window) holds a NaN pixel, wherever in
// the window: ReLU and the max pool keep NaN (torch.relu, nn.MaxPool2d); the average takes it into the sum.
// The NaN pixels sit at the four places of four different windows (x86's max would drop a NaN in its first operand).
template <std::size_t PoolWindow, class Pool, class Act, class Arch>
void check_nan_kept() {
  constexpr std::size_t cin = 2, cout = 32, h = 8, w = 8, ho = h / PoolWindow, wo = w / PoolWindow;
  auto x = random_vector(cin * h * w, -1.0f, 1.0f, 71);
  const auto wt = random_vector(cout * cin, -0.7f, 0.7f, 72), b = random_vector(cout, -0.7f, 0.7f, 73);
  const std::size_t nan_pixels[][2] = {{0, 0}, {0, 3}, {3, 4}, {5, 7}};  // (row, column), channel 1
  for (const auto& p : nan_pixels) x[(1 * h + p[0]) * w + p[1]] = std::numeric_limits<float>::quiet_NaN();

  std::vector<float> want(cout * ho * wo);
  fk::scalar::conv_bias_relu_pool<cin, cout, h, w, 1, 0, PoolWindow, Pool, Act>(x.data(), wt.data(), b.data(),
                                                                               want.data(), 1);
  fk::aligned_vector<float> xin(fk::nhwc_image_size<cin, h, w, 0>), wp(fk::packed_weights_size<cin, cout, 1>);
  fk::nchw_to_nhwc<cin, h, w, 0>(x.data(), xin.data(), 1);
  fk::pack_conv_weights<cin, cout, 1, Arch>(wt.data(), wp.data());
  fk::aligned_vector<float> yout(fk::nhwc_image_size<cout, ho, wo, 0>);
  fk::conv_bias_relu_pool<cin, cout, h, w, 1, 0, PoolWindow, Pool, Act, 0, Arch>(xin.data(), wp.data(), b.data(),
                                                                                 yout.data(), 1);
  std::vector<float> got(want.size());
  fk::nhwc_to_nchw<cout, ho, wo, 0>(yout.data(), got.data(), 1);

  std::size_t wrong_fast = 0, wrong_scalar = 0, nan_outputs = 0;
  for (std::size_t o = 0; o < cout; ++o)
    for (std::size_t y = 0; y < ho; ++y)
      for (std::size_t xx = 0; xx < wo; ++xx) {
        bool expect_nan = false;
        for (const auto& p : nan_pixels) expect_nan = expect_nan || (p[0] / PoolWindow == y && p[1] / PoolWindow == xx);
        const std::size_t i = (o * ho + y) * wo + xx;
        nan_outputs += expect_nan;
        wrong_fast += std::isnan(got[i]) != expect_nan;
        wrong_scalar += std::isnan(want[i]) != expect_nan;
        if (expect_nan) got[i] = want[i] = 0.0f;  // the finite rest is compared below
      }
  CHECK(nan_outputs == 4 * cout);
  CHECK(wrong_fast == 0);
  CHECK(wrong_scalar == 0);
  check_close(got, want);
}

}  // namespace

TEST_CASE_TEMPLATE("conv_bias_relu_pool: a NaN input stays NaN through ReLU and the 2x2 max or average pool", Arch,
                   FUSENET_TEST_ARCHS) {
  check_nan_kept<2, fk::pool_max, fk::act_relu, Arch>();
  check_nan_kept<2, fk::pool_max, fk::act_none, Arch>();
  check_nan_kept<2, fk::pool_avg, fk::act_relu, Arch>();
  check_nan_kept<1, fk::pool_max, fk::act_relu, Arch>();
}
