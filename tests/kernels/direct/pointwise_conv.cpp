// SPDX-License-Identifier: MIT
// The fused xsimd pointwise (1×1) convolution against the scalar convolution in double, per architecture.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include <fusenet/kernels/layout.hpp>
#include <fusenet/kernels/pointwise_conv.hpp>
#include <fusenet/kernels/scalar/activations.hpp>
#include <fusenet/kernels/scalar/conv2d.hpp>
#include "compare.hpp"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace fk = fusenet::kernels;

namespace {

using fusenet::test::check_close;
using fusenet::test::random_vector;

// The oracle: nn.Conv2d(Cin, Cout, 1, stride) in double (scalar::conv2d_forward), then torch.relu.
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t Stride, class Act>
std::vector<double> reference(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b,
                              std::size_t n) {
  const fk::scalar::conv2d_geometry g{n, Cin, H, W, Cout, 1, Stride, 0, 1, 1};
  const std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end()), bd(b.begin(), b.end());
  std::vector<double> y(n * Cout * g.out_h() * g.out_w());
  fk::scalar::conv2d_forward(g, xd.data(), wd.data(), bd.data(), y.data());
  if constexpr (std::is_same_v<Act, fk::act_relu>)
    for (auto& v : y) v = fk::scalar::relu(v);
  return y;
}

// Bordered NHWC input (border InBorder, which the kernel must not read), packed weights and the kernel's bordered
// output for one problem.
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t Stride, std::size_t InBorder,
          std::size_t OutBorder>
struct problem {
  static constexpr std::size_t ho = (H - 1) / Stride + 1, wo = (W - 1) / Stride + 1;
  static constexpr std::size_t out_image = fk::nhwc_image_size<Cout, ho, wo, OutBorder>;
  std::size_t n;
  std::vector<float> x, w, b;
  fk::aligned_vector<float> xin, wp;

  problem(std::size_t batch, unsigned seed)
      : n(batch),
        x(random_vector(batch * Cin * H * W, -1.0f, 1.0f, seed)),
        w(random_vector(Cout * Cin, -1.0f, 1.0f, seed + 1)),
        b(random_vector(Cout, -1.0f, 1.0f, seed + 2)),
        xin(batch * fk::nhwc_image_size<Cin, H, W, InBorder>),
        wp(fk::packed_weights_size<Cin, Cout, 1>) {}

  // Converts x (possibly edited after construction) and w into the kernel layouts; the input border is NaN, so a
  // kernel that read it would show NaN in its output. The weights are packed for Arch's vector width.
  template <class Arch = xsimd::default_arch>
  void prepare() {
    fk::nchw_to_nhwc<Cin, H, W, InBorder>(x.data(), xin.data(), n);
    fusenet::test::fill_border<Cin, H, W, InBorder>(xin, n, std::numeric_limits<float>::quiet_NaN());
    fk::pack_conv_weights<Cin, Cout, 1, Arch>(w.data(), wp.data());
  }

  // Runs the kernel with Tile into a NaN-filled buffer and returns the bordered output.
  template <class Tile, class Act, class Arch>
  fk::aligned_vector<float> run() {
    fk::aligned_vector<float> y(n * out_image, std::numeric_limits<float>::quiet_NaN());
    fk::pointwise_conv_bias_relu_tiled<Tile, Stride, InBorder, Cin, Cout, H, W, Act, OutBorder, Arch>(
        xin.data(), wp.data(), b.data(), y.data(), n);
    return y;
  }

  // Runs the kernel (default tile) adding `shortcut` (bordered NHWC, border SB) after Act, then ReLU when Relu.
  template <class Act, class Arch, std::size_t SB, bool Relu>
  fk::aligned_vector<float> run_with_shortcut(const fk::aligned_vector<float>& shortcut) {
    fk::aligned_vector<float> y(n * out_image, std::numeric_limits<float>::quiet_NaN());
    fk::pointwise_conv_bias_relu<Stride, InBorder, Cin, Cout, H, W, Act, OutBorder, Arch, fk::add_shortcut<SB, Relu>>(
        xin.data(), wp.data(), b.data(), y.data(), n, shortcut.data());
    return y;
  }

  template <class Act, class Arch>
  fk::aligned_vector<float> run_default() {
    return run<fk::default_pointwise_tile<Cout, Arch>, Act, Arch>();
  }

  // Counts border floats that are not zero.
  std::size_t nonzero_border(const fk::aligned_vector<float>& y) const {
    return fusenet::test::nonzero_border<Cout, ho, wo, OutBorder>(y, n);
  }

  std::vector<float> to_nchw(const fk::aligned_vector<float>& y) const {
    std::vector<float> got(n * Cout * ho * wo);
    fk::nhwc_to_nchw<Cout, ho, wo, OutBorder>(y.data(), got.data(), n);
    return got;
  }
};

// Runs the kernel (default tile) on random data against the oracle: every output written (the buffer starts NaN),
// the border zero, the input border never read.
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t Stride, std::size_t InBorder,
          class Act, std::size_t OutBorder, class Arch>
void check_against_scalar(std::size_t n, unsigned seed) {
  problem<Cin, Cout, H, W, Stride, InBorder, OutBorder> p(n, seed);
  p.template prepare<Arch>();
  const auto y = p.template run_default<Act, Arch>();
  CHECK(p.nonzero_border(y) == 0);
  check_close(p.to_nchw(y), reference<Cin, Cout, H, W, Stride, Act>(p.x, p.w, p.b, n));
}

}  // namespace

// The architectures instantiated: the build's default one, and AVX2+FMA / SSE4.2 when the CPU and the
// compile flags allow them (they are lower than the default under -march=native).
#if XSIMD_WITH_FMA3_AVX2 && XSIMD_WITH_SSE4_2
#define FUSENET_TEST_ARCHS xsimd::default_arch, xsimd::fma3<xsimd::avx2>, xsimd::sse4_2
#else
#define FUSENET_TEST_ARCHS xsimd::default_arch
#endif

TEST_CASE_TEMPLATE("pointwise: default tiles fit the register file and divide the channels", Arch,
                   FUSENET_TEST_ARCHS) {
  constexpr std::size_t v = xsimd::batch<float, Arch>::size;
  using t4 = fk::default_pointwise_tile<4 * v, Arch>;
  using t1 = fk::default_pointwise_tile<v, Arch>;
  static_assert(t4::vectors * t4::pixels + t4::vectors + 1 <= fk::vector_registers<Arch> && 4 % t4::vectors == 0);
  static_assert(t1::vectors == 1 && t1::pixels > 0);
  CHECK(t4::pixels >= 2);
}

TEST_CASE_TEMPLATE("pointwise: stride 1 on dense inputs, batch tails and maps smaller than a tile", Arch,
                   FUSENET_TEST_ARCHS) {
  constexpr std::size_t v = xsimd::batch<float, Arch>::size;
  check_against_scalar<32, 4 * v, 4, 4, 1, 0, fk::act_relu, 1, Arch>(5, 11);  // tiles span rows and images
  check_against_scalar<3, v, 7, 5, 1, 0, fk::act_none, 0, Arch>(3, 12);       // tiny Cin, odd map
  check_against_scalar<64, 2 * v, 1, 1, 1, 0, fk::act_relu, 2, Arch>(7, 13);  // 1×1 maps
  check_against_scalar<17, 4 * v, 8, 8, 1, 0, fk::act_relu, 0, Arch>(1, 14);  // batch 1, odd Cin
  check_against_scalar<40, 3 * v, 6, 6, 1, 0, fk::act_none, 1, Arch>(2, 15);  // three channel vectors
}

TEST_CASE_TEMPLATE("pointwise: bordered inputs and stride 2 (a projection shortcut)", Arch, FUSENET_TEST_ARCHS) {
  constexpr std::size_t v = xsimd::batch<float, Arch>::size;
  check_against_scalar<16, 2 * v, 14, 14, 2, 1, fk::act_none, 0, Arch>(3, 21);
  check_against_scalar<16, 2 * v, 15, 15, 2, 1, fk::act_relu, 1, Arch>(2, 22);  // odd map
  check_against_scalar<8, v, 9, 9, 1, 2, fk::act_relu, 1, Arch>(3, 23);         // bordered, stride 1
  check_against_scalar<8, 4 * v, 9, 7, 3, 0, fk::act_none, 0, Arch>(2, 24);     // stride 3, no border
}

// A residual block's last 1×1 conv: y = relu(act(conv + b) + s), s in bordered NHWC with a border of its own that
// holds NaN (never read); the oracle is the scalar conv plus s.
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, class Act, bool Relu, std::size_t SB,
          std::size_t OutBorder, class Arch>
void check_shortcut_add(std::size_t n, unsigned seed) {
  problem<Cin, Cout, H, W, 1, 0, OutBorder> p(n, seed);
  p.template prepare<Arch>();
  const auto sc = random_vector(n * Cout * H * W, -1.0f, 1.0f, seed + 7);
  fk::aligned_vector<float> s(n * fk::nhwc_image_size<Cout, H, W, SB>);
  fk::nchw_to_nhwc<Cout, H, W, SB>(sc.data(), s.data(), n);
  fusenet::test::fill_border<Cout, H, W, SB>(s, n, std::numeric_limits<float>::quiet_NaN());
  auto want = reference<Cin, Cout, H, W, 1, Act>(p.x, p.w, p.b, n);
  for (std::size_t i = 0; i < want.size(); ++i) {
    want[i] += static_cast<double>(sc[i]);
    if (Relu) want[i] = fk::scalar::relu(want[i]);
  }
  const auto y = p.template run_with_shortcut<Act, Arch, SB, Relu>(s);
  CHECK(p.nonzero_border(y) == 0);
  check_close(p.to_nchw(y), want);
}

TEST_CASE_TEMPLATE("pointwise: a residual block's shortcut added (and ReLU) in the epilogue", Arch,
                   FUSENET_TEST_ARCHS) {
  constexpr std::size_t v = xsimd::batch<float, Arch>::size;
  check_shortcut_add<32, 4 * v, 5, 5, fk::act_none, true, 0, 0, Arch>(3, 81);   // bottleneck: identity, ReLU after
  check_shortcut_add<16, v, 7, 6, fk::act_none, false, 1, 1, Arch>(2, 82);      // inverted residual: no ReLU
  check_shortcut_add<24, 2 * v, 4, 4, fk::act_relu, false, 2, 0, Arch>(1, 83);  // own ReLU, wider shortcut border
}

TEST_CASE_TEMPLATE("pointwise: explicit tiles give bit-identical results", Arch, FUSENET_TEST_ARCHS) {
  // Every output sums its input channels in the same order whatever the tile, so other tile shapes (another tail,
  // other channel blocks) reproduce the default tile exactly.
  constexpr std::size_t v = xsimd::batch<float, Arch>::size;
  problem<24, 4 * v, 5, 5, 1, 0, 1> p(3, 31);
  p.template prepare<Arch>();
  const auto want = p.template run_default<fk::act_relu, Arch>();
  const auto a = p.template run<fk::pointwise_tile<1, 3>, fk::act_relu, Arch>();
  const auto b = p.template run<fk::pointwise_tile<2, 5>, fk::act_relu, Arch>();
  CHECK(std::memcmp(a.data(), want.data(), want.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(b.data(), want.data(), want.size() * sizeof(float)) == 0);
  check_close(p.to_nchw(want), reference<24, 4 * v, 5, 5, 1, fk::act_relu>(p.x, p.w, p.b, 3));
}

TEST_CASE("pointwise: a NaN input stays NaN through ReLU, in that pixel only") {
  constexpr std::size_t v = xsimd::batch<float>::size, cin = 8, cout = 2 * v, h = 5, w = 5;
  problem<cin, cout, h, w, 1, 0, 1> p(2, 41);
  for (auto& x : p.w) x = -std::fabs(x);  // negative weights and biases: ReLU clamps most outputs to 0
  for (auto& x : p.b) x = -std::fabs(x) - 0.1f;
  for (auto& x : p.x) x = std::fabs(x);
  p.x[(1 * cin + 3) * h * w + 2 * w + 4] = std::numeric_limits<float>::quiet_NaN();  // image 1, channel 3, (2, 4)
  p.prepare();
  const auto got = p.to_nchw(p.template run_default<fk::act_relu, xsimd::default_arch>());
  const auto want = reference<cin, cout, h, w, 1, fk::act_relu>(p.x, p.w, p.b, 2);
  std::size_t nans = 0;
  for (float x : got) nans += std::isnan(x);
  CHECK(nans == cout);  // every output channel of that one pixel
  check_close(got, want);
}

#ifdef _OPENMP
TEST_CASE("pointwise: one thread and two give bit-identical results") {
  constexpr std::size_t v = xsimd::batch<float>::size;
  problem<48, 4 * v, 6, 6, 1, 0, 1> p(3, 51);
  p.prepare();
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = p.template run_default<fk::act_relu, xsimd::default_arch>();
  omp_set_num_threads(2);
  const auto two = p.template run_default<fk::act_relu, xsimd::default_arch>();
  omp_set_num_threads(before);
  CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
}
#endif
