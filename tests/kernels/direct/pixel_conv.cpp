// SPDX-License-Identifier: MIT
// The pixel-lane convolution (output pixels in the lanes: few output channels) against the scalar convolution,
// ReLU and pooling in double, per architecture.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "compare.hpp"
#include <fusenet/kernels/layout.hpp>
#include <fusenet/kernels/pixel_conv.hpp>
#include <fusenet/kernels/scalar/activations.hpp>
#include <fusenet/kernels/scalar/conv2d.hpp>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace fk = fusenet::kernels;

namespace {

using fusenet::test::check_close;
using fusenet::test::random_vector;

// The oracle, NCHW in double: nn.Conv2d(Cin, Cout, K, stride, padding) (scalar::conv2d_forward), torch.relu, then
// nn.MaxPool2d(2) (a NaN in the window wins) or nn.AvgPool2d(2) when Pool is 2.
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K, std::size_t Stride,
          std::size_t Pad, std::size_t Pool, class PoolOp, class Act>
std::vector<double> reference(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b,
                              std::size_t n) {
  const fk::scalar::conv2d_geometry g{n, Cin, H, W, Cout, K, Stride, Pad, 1, 1};
  const std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end()), bd(b.begin(), b.end());
  const std::size_t hc = g.out_h(), wc = g.out_w();
  std::vector<double> z(n * Cout * hc * wc);
  fk::scalar::conv2d_forward(g, xd.data(), wd.data(), bd.data(), z.data());
  if constexpr (std::is_same_v<Act, fk::act_relu>)
    for (auto& v : z) v = fk::scalar::relu(v);
  if constexpr (Pool == 1) {
    return z;
  } else {
    const std::size_t ho = hc / 2, wo = wc / 2;
    std::vector<double> y(n * Cout * ho * wo);
    for (std::size_t m = 0; m < n * Cout; ++m)
      for (std::size_t yy = 0; yy < ho; ++yy)
        for (std::size_t xx = 0; xx < wo; ++xx) {
          const double* zp = z.data() + m * hc * wc + 2 * yy * wc + 2 * xx;
          const double a[4] = {zp[0], zp[1], zp[wc], zp[wc + 1]};
          double r = 0;
          if constexpr (std::is_same_v<PoolOp, fk::pool_max>) {
            r = a[0];
            for (double v : a)
              if (v > r || std::isnan(v)) r = v;
          } else {
            r = (a[0] + a[1] + a[2] + a[3]) / 4;
          }
          y[(m * ho + yy) * wo + xx] = r;
        }
    return y;
  }
}

// NCHW input, packed weights, scratch and the kernel's output (NCHW, or bordered NHWC) for one problem.
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K, std::size_t Stride,
          std::size_t Pad, std::size_t Pool, bool OutNhwc, std::size_t OutBorder>
struct problem {
  static constexpr std::size_t hc = (H + 2 * Pad - K) / Stride + 1, wc = (W + 2 * Pad - K) / Stride + 1;
  static constexpr std::size_t oh = hc / Pool, ow = wc / Pool;
  static constexpr std::size_t out_image =
      OutNhwc ? fk::nhwc_image_size<Cout, oh, ow, OutBorder> : Cout * oh * ow;
  std::size_t n;
  std::vector<float> x, w, b;
  fk::aligned_vector<float> wp;

  problem(std::size_t batch, unsigned seed)
      : n(batch),
        x(random_vector(batch * Cin * H * W, -1.0f, 1.0f, seed)),
        w(random_vector(Cout * Cin * K * K, -1.0f / K, 1.0f / K, seed + 1)),
        b(random_vector(Cout, -0.5f, 0.5f, seed + 2)),
        wp(fk::pixel_packed_size<Cin, Cout, K>) {}

  // Packs w (possibly edited after construction), runs the kernel with Tile into a NaN-filled output and a
  // NaN-filled scratch, and returns the output.
  template <class Tile, class PoolOp, class Act, class Arch>
  std::vector<float> run() {
    fk::pack_pixel_weights<Cin, Cout, K>(w.data(), wp.data());
    std::vector<float> y(n * out_image, std::numeric_limits<float>::quiet_NaN());
    std::vector<float> scratch(n * fk::pixel_conv_scratch<Cin, Cout, H, W, K, Stride, Pad, Pool, Arch, Tile>,
                               std::numeric_limits<float>::quiet_NaN());
    fk::pixel_conv_tiled<Tile, Cin, Cout, H, W, K, Stride, Pad, Pool, PoolOp, Act, OutNhwc, OutBorder, Arch>(
        x.data(), wp.data(), b.data(), y.data(), n, scratch.data());
    return y;
  }

  template <class PoolOp, class Act, class Arch = xsimd::default_arch>
  std::vector<float> run_default() {
    static_assert(fk::pixel_conv_supported<Cout, H, W, K, Stride, Pad, Pool, Arch>);
    return run<fk::default_pixel_tile<Cout, W, K, Stride, Pad, Pool, Arch>, PoolOp, Act, Arch>();
  }

  // The output as NCHW, and the count of border floats that are not zero (NHWC).
  std::vector<float> to_nchw(const std::vector<float>& y) const {
    if constexpr (!OutNhwc) {
      return y;
    } else {
      std::vector<float> got(n * Cout * oh * ow);
      fk::nhwc_to_nchw<Cout, oh, ow, OutBorder>(y.data(), got.data(), n);
      return got;
    }
  }
  std::size_t nonzero_border(const std::vector<float>& y) const {
    if constexpr (!OutNhwc) {
      return 0;
    } else {
      constexpr std::size_t wb = ow + 2 * OutBorder;
      std::size_t bad = 0;
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t yy = 0; yy < oh + 2 * OutBorder; ++yy)
          for (std::size_t xx = 0; xx < wb; ++xx) {
            const bool border = yy < OutBorder || yy >= OutBorder + oh || xx < OutBorder || xx >= OutBorder + ow;
            if (!border) continue;
            for (std::size_t c = 0; c < Cout; ++c) bad += !(y[i * out_image + (yy * wb + xx) * Cout + c] == 0.0f);
          }
      return bad;
    }
  }
};

// Runs the kernel (default tile) on random data against the oracle; the output starts as NaN, so an output float
// the kernel forgets to write shows up as a mismatch, and an NHWC border must come out zero.
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K, std::size_t Stride,
          std::size_t Pad, std::size_t Pool, class PoolOp, class Act, bool OutNhwc, std::size_t OutBorder, class Arch>
void check_against_scalar(std::size_t n, unsigned seed) {
  problem<Cin, Cout, H, W, K, Stride, Pad, Pool, OutNhwc, OutBorder> p(n, seed);
  const auto y = p.template run_default<PoolOp, Act, Arch>();
  CHECK(p.nonzero_border(y) == 0);
  check_close(p.to_nchw(y), reference<Cin, Cout, H, W, K, Stride, Pad, Pool, PoolOp, Act>(p.x, p.w, p.b, n));
}

}  // namespace

// The architectures instantiated: the build's default one, and AVX2+FMA / SSE4.2 when the CPU and the compile
// flags allow them (they are lower than the default under -march=native).
#if XSIMD_WITH_FMA3_AVX2 && XSIMD_WITH_SSE4_2
#define FUSENET_TEST_ARCHS xsimd::default_arch, xsimd::fma3<xsimd::avx2>, xsimd::sse4_2
#else
#define FUSENET_TEST_ARCHS xsimd::default_arch
#endif

TEST_CASE_TEMPLATE("pixel conv: tiles, scratch and packed weights [Cin][K][K][Cout]", Arch, FUSENET_TEST_ARCHS) {
  constexpr std::size_t v = xsimd::batch<float, Arch>::size, regs = fk::vector_registers<Arch>;
  // every channel in one tile when pool² · Cout accumulators (and a load and a broadcast) fit
  using lenet = fk::default_pixel_tile<6, 28, 5, 1, 2, 2, Arch>;
  static_assert(lenet::channels * 4 * lenet::vectors + lenet::vectors + 1 <= regs);
  static_assert(regs == 32 ? lenet::channels == 6 : lenet::channels == 3);
  static_assert(fk::pixel_conv_supported<6, 28, 28, 5, 1, 2, 2, Arch>);
  static_assert(!fk::pixel_conv_supported<6, 4, 4, 7, 1, 1, 1, Arch>, "the kernel must fit the padded input");
  static_assert(!fk::pixel_conv_supported<6, 3, 3, 3, 1, 0, 2, Arch>, "the pool must leave an output");
  static_assert(fk::pixel_conv_scratch<1, 6, 28, 28, 5, 1, 2, 2, Arch> >= 32 * 32, "the padded input at least");
  static_assert(fk::pixel_conv_scratch<1, 6, 28, 28, 5, 1, 2, 2, Arch> ==
                fusenet::detail::pixel_conv_scratch_floats(1, 6, 28, 28, 5, 1, 2, 2, v, regs));
  constexpr std::size_t cin = 2, cout = 3, k = 3;
  const auto w = random_vector(cout * cin * k * k, -1.0f, 1.0f, 3);
  std::vector<float> p(fk::pixel_packed_size<cin, cout, k>);
  fk::pack_pixel_weights<cin, cout, k>(w.data(), p.data());
  // tap (ky 2, kx 1) of input channel 1 for each output channel
  for (std::size_t o = 0; o < cout; ++o) CHECK(p[((1 * k + 2) * k + 1) * cout + o] == w[((o * cin + 1) * k + 2) * k + 1]);
}

TEST_CASE_TEMPLATE("pixel conv: LeNet's first conv, 1->6 5x5 pad 2 + ReLU + 2x2 max pool", Arch, FUSENET_TEST_ARCHS) {
  check_against_scalar<1, 6, 28, 28, 5, 1, 2, 2, fk::pool_max, fk::act_relu, true, 0, Arch>(3, 11);
  check_against_scalar<1, 6, 28, 28, 5, 1, 2, 2, fk::pool_max, fk::act_relu, false, 0, Arch>(2, 12);
  check_against_scalar<1, 6, 28, 28, 5, 1, 2, 2, fk::pool_avg, fk::act_relu, true, 2, Arch>(1, 13);
}

TEST_CASE_TEMPLATE("pixel conv: no pool, ReLU or none, NCHW and bordered NHWC out", Arch, FUSENET_TEST_ARCHS) {
  check_against_scalar<3, 8, 15, 15, 3, 1, 1, 1, fk::pool_max, fk::act_relu, true, 1, Arch>(2, 21);
  check_against_scalar<3, 5, 14, 14, 3, 1, 1, 1, fk::pool_max, fk::act_none, false, 0, Arch>(3, 22);
  check_against_scalar<2, 3, 40, 37, 5, 1, 0, 1, fk::pool_max, fk::act_relu, true, 0, Arch>(1, 23);  // long rows
}

TEST_CASE_TEMPLATE("pixel conv: stride 2 and 3, with and without the pool, odd maps", Arch, FUSENET_TEST_ARCHS) {
  check_against_scalar<3, 8, 15, 15, 3, 2, 1, 1, fk::pool_max, fk::act_relu, false, 0, Arch>(2, 31);
  check_against_scalar<3, 6, 17, 19, 3, 2, 1, 2, fk::pool_max, fk::act_relu, true, 1, Arch>(1, 32);
  check_against_scalar<1, 4, 23, 23, 4, 3, 0, 1, fk::pool_max, fk::act_none, true, 0, Arch>(2, 33);  // even K
  check_against_scalar<8, 12, 12, 12, 1, 2, 0, 1, fk::pool_max, fk::act_none, false, 0, Arch>(2, 34);  // 1x1
}

TEST_CASE_TEMPLATE("pixel conv: many channels split into blocks, and tiny maps", Arch, FUSENET_TEST_ARCHS) {
  // 15 channels with a 2×2 pool need 60 accumulators: channel blocks of one pixel vector, plus a narrower last one
  check_against_scalar<2, 15, 12, 12, 3, 1, 1, 2, fk::pool_max, fk::act_relu, true, 1, Arch>(2, 41);
  check_against_scalar<4, 7, 3, 3, 3, 1, 1, 1, fk::pool_avg, fk::act_relu, false, 0, Arch>(3, 42);
  check_against_scalar<1, 2, 2, 2, 3, 1, 1, 2, fk::pool_avg, fk::act_none, true, 0, Arch>(1, 43);
}

TEST_CASE_TEMPLATE("pixel conv: explicit tiles give bit-identical results", Arch, FUSENET_TEST_ARCHS) {
  // Every output value receives its taps in the same order whatever the tile, so narrower channel blocks and
  // wider pixel tiles (more lanes past the row's end) reproduce the default tile exactly.
  problem<2, 6, 21, 21, 5, 1, 2, 2, true, 1> p(2, 51);
  const auto want = p.template run_default<fk::pool_max, fk::act_relu, Arch>();
  const auto a = p.template run<fk::pixel_tile<1, 1>, fk::pool_max, fk::act_relu, Arch>();
  const auto b = p.template run<fk::pixel_tile<2, 1>, fk::pool_max, fk::act_relu, Arch>();
  const auto c = p.template run<fk::pixel_tile<1, 3>, fk::pool_max, fk::act_relu, Arch>();
  CHECK(std::memcmp(a.data(), want.data(), want.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(b.data(), want.data(), want.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(c.data(), want.data(), want.size() * sizeof(float)) == 0);
  check_close(p.to_nchw(a),
              reference<2, 6, 21, 21, 5, 1, 2, 2, fk::pool_max, fk::act_relu>(p.x, p.w, p.b, 2));
}

TEST_CASE("pixel conv: a NaN input stays NaN through ReLU and the max pool, only where its taps reach") {
  // Negative weights and biases on positive inputs make the finite outputs negative, so ReLU clamps them to 0
  // while the outputs that read the NaN stay NaN (torch.relu, then nn.MaxPool2d's NaN rule).
  problem<1, 6, 12, 12, 3, 1, 1, 2, true, 0> p(1, 61);
  for (auto& x : p.w) x = -std::fabs(x);
  for (auto& x : p.b) x = -0.5f;
  for (auto& x : p.x) x = std::fabs(x);
  p.x[5 * 12 + 6] = std::numeric_limits<float>::quiet_NaN();  // pixel (5, 6)
  const auto y = p.run_default<fk::pool_max, fk::act_relu>();
  const auto got = p.to_nchw(y);
  std::size_t nan = 0, zero = 0;
  for (float v : got) nan += std::isnan(v), zero += v == 0.0f;
  // conv outputs (4..6, 5..7) read it: pooled rows 2..3 and columns 2..3, in all 6 channels
  CHECK(nan == 4 * 6);
  CHECK(zero == got.size() - nan);
  check_close(got, reference<1, 6, 12, 12, 3, 1, 1, 2, fk::pool_max, fk::act_relu>(p.x, p.w, p.b, 1));
}

#ifdef _OPENMP
TEST_CASE("pixel conv: one and two threads give bit-identical results, split by images or by rows") {
  const int saved = omp_get_max_threads();
  for (std::size_t n : {std::size_t{1}, std::size_t{3}}) {
    problem<1, 6, 28, 28, 5, 1, 2, 2, true, 1> p(n, 71);
    omp_set_num_threads(1);
    const auto one = p.run_default<fk::pool_max, fk::act_relu>();
    omp_set_num_threads(2);
    const auto two = p.run_default<fk::pool_max, fk::act_relu>();
    CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
    CHECK(p.nonzero_border(two) == 0);
  }
  omp_set_num_threads(saved);
}
#endif
