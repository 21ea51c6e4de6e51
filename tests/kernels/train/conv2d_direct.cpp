// SPDX-License-Identifier: MIT
// The training convolution on the direct kernel (conv2d_direct.hpp) against the scalar convolution run in
// double: forward (with the channel moments), input gradient and weight/bias gradient, for the reference
// CNN's layers, odd geometries and stride 2; overwrite vs accumulate; 1 vs 2 threads bit-identical.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <fusenet/kernels/batch_stats.hpp>
#include <fusenet/kernels/conv2d_direct.hpp>
#include <fusenet/kernels/scalar/conv2d.hpp>
#include <fusenet/plan/rules.hpp>
#include <limits>
#include <random>
#include <vector>

#include "common.hpp"

namespace fk = fusenet::kernels;
using train_test::mismatches;
using train_test::random_vector;
using train_test::with_threads;

namespace {

std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }
std::vector<float> narrow(const std::vector<double>& v) {
  std::vector<float> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i]);
  return out;
}

struct outputs {
  std::vector<float> z, dx, dw, db;
  std::vector<fk::plane_moments> moments;
};

/// forward then backward on the direct kernel, z and dz converted from and to its NHWC; dw and db start at
/// dw0 / db0 (accumulated), dx at NaN.
template <class Conv, std::size_t Cout>
outputs run_direct(std::size_t n, const std::vector<float>& x, const std::vector<float>& w, const float* bias,
                   const std::vector<float>& dz, const std::vector<float>& dw0, const std::vector<float>& db0,
                   std::vector<float>& workspace) {
  typename Conv::state s;
  outputs o{std::vector<float>(dz.size()), std::vector<float>(x.size(), std::numeric_limits<float>::quiet_NaN()),
            dw0, db0, std::vector<fk::plane_moments>(n * Cout)};
  std::vector<float> z_nhwc(dz.size(), std::numeric_limits<float>::quiet_NaN()), dz_nhwc(n * Conv::dz_image, 1e30f);
  Conv::forward(x.data(), w.data(), bias, z_nhwc.data(), n, s, o.moments.data());
  fk::nhwc_to_nchw<Cout, Conv::ho, Conv::wo, 0>(z_nhwc.data(), o.z.data(), n);
  fk::nchw_to_nhwc<Cout, Conv::ho, Conv::wo, Conv::dz_border>(dz.data(), dz_nhwc.data(), n);
  Conv::backward(dz_nhwc.data(), Conv::direct_input_grad ? o.dx.data() : nullptr, o.dw.data(), o.db.data(), n, s,
                 workspace);
  return o;
}

template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K, std::size_t Pad,
          std::size_t Stride = 1>
void check_against_scalar(std::size_t n, std::mt19937& rng, std::vector<float>& workspace) {
  // as the training plan decides it for this build's target
  constexpr fusenet::conv_facts facts{Cin, Cout, K, Stride, 1, 1, Pad, H, W, 1};
  static_assert(fusenet::trainable_direct_conv(facts, fusenet::build_target));
  using conv = fk::conv2d_direct<Cin, Cout, H, W, K, Pad,
                                 fusenet::trainable_direct_input_grad(facts, fusenet::build_target), Stride>;
  CAPTURE(Cin);
  CAPTURE(Cout);
  CAPTURE(H);
  CAPTURE(W);
  CAPTURE(K);
  CAPTURE(Pad);
  CAPTURE(Stride);
  const fk::conv2d_geometry g{n, Cin, H, W, Cout, K, Stride, Pad, 1, 1};
  const std::size_t plane = conv::ho * conv::wo;
  REQUIRE(plane == g.out_h() * g.out_w());
  const auto x = random_vector(n * Cin * H * W, rng), w = random_vector(Cout * Cin * K * K, rng);
  const auto bias = random_vector(Cout, rng), dz = random_vector(n * Cout * plane, rng);
  const auto dw0 = random_vector(w.size(), rng), db0 = random_vector(Cout, rng);

  for (const bool with_bias : {true, false}) {
    CAPTURE(with_bias);
    const float* b = with_bias ? bias.data() : nullptr;
    const auto bias_d = widen(bias);
    std::vector<double> z_ref(dz.size()), dx_ref(x.size()), dw_ref = widen(dw0), db_ref = widen(db0);
    fk::scalar::conv2d_forward<double>(g, widen(x).data(), widen(w).data(), with_bias ? bias_d.data() : nullptr,
                                       z_ref.data());
    fk::scalar::conv2d_backward<double>(g, widen(x).data(), widen(w).data(), widen(dz).data(), dx_ref.data(),
                                        dw_ref.data(), db_ref.data());

    const outputs o = run_direct<conv, Cout>(n, x, w, b, dz, dw0, db0, workspace);
    // float sums of Cin·K² (forward), Cout·K² (input gradient), Ho·Wo per image (weight and bias gradients)
    // terms in [-1, 1]
    CHECK(mismatches(o.z, narrow(z_ref), 1e-5f, 2e-7f * Cin * K * K) == 0);
    if constexpr (conv::direct_input_grad) CHECK(mismatches(o.dx, narrow(dx_ref), 1e-5f, 2e-7f * Cout * K * K) == 0);
    CHECK(mismatches(o.dw, narrow(dw_ref), 1e-5f, 2e-7f * static_cast<float>(n * plane)) == 0);
    CHECK(mismatches(o.db, narrow(db_ref), 1e-5f, 2e-7f * static_cast<float>(n * plane)) == 0);
    // the moments are those of the planes written (sum and squared deviations, in double)
    std::size_t bad_moments = 0;
    for (std::size_t p = 0; p < o.moments.size(); ++p) {
      const float* zp = o.z.data() + p * plane;
      double sum = 0.0, m2 = 0.0;
      for (std::size_t i = 0; i < plane; ++i) sum += zp[i];
      for (std::size_t i = 0; i < plane; ++i) m2 += (zp[i] - sum / plane) * (zp[i] - sum / plane);
      if (!(std::fabs(o.moments[p].sum - sum) <= 1e-5 * (std::fabs(sum) + plane))) ++bad_moments;
      if (!(std::fabs(o.moments[p].m2 - m2) <= 1e-5 * m2 + 1e-9)) ++bad_moments;
    }
    CHECK(bad_moments == 0);
  }
}

}  // namespace

TEST_CASE("direct training convolution matches the scalar convolution in double, forward and backward") {
  std::mt19937 rng(21);
  std::vector<float> workspace;  // shared by every geometry: reuse across sizes must be safe
  check_against_scalar<1, 32, 28, 28, 3, 1>(3, rng, workspace);    // reference CNN, first conv (tiny Cin)
  check_against_scalar<32, 64, 14, 14, 3, 1>(17, rng, workspace);  // second conv, 17 images: three dw chunks
  check_against_scalar<16, 16, 7, 9, 3, 0>(2, rng, workspace);     // no padding, odd non-square map
  check_against_scalar<16, 32, 6, 5, 5, 2>(2, rng, workspace);     // 5×5 kernel
  check_against_scalar<16, 16, 5, 5, 1, 0>(9, rng, workspace);     // pointwise
  check_against_scalar<3, 16, 8, 8, 3, 2>(2, rng, workspace);      // padding 2 > K/2, 3 input channels
  check_against_scalar<16, 16, 1, 1, 3, 1>(2, rng, workspace);     // 1×1 map: only the centre tap is real
  // stride 2: a ResNet down-block's 3×3 and its 1×1 projection, odd maps (the last row and column unread)
  check_against_scalar<16, 32, 16, 16, 3, 1, 2>(9, rng, workspace);
  check_against_scalar<16, 32, 16, 16, 1, 0, 2>(9, rng, workspace);
  check_against_scalar<16, 16, 9, 7, 3, 1, 2>(2, rng, workspace);
  check_against_scalar<32, 16, 8, 8, 3, 0, 2>(2, rng, workspace);  // no padding
  check_against_scalar<3, 16, 11, 11, 5, 2, 2>(2, rng, workspace);  // 5×5, 3 input channels (dx on the GEMM)
}

TEST_CASE("direct training convolution: the kept state follows the batch size of each forward") {
  std::mt19937 rng(22);
  using conv = fk::conv2d_direct<16, 16, 6, 6, 3, 1, true>;
  std::vector<float> workspace;
  conv::state s;
  for (const std::size_t n : {5u, 2u, 7u}) {
    CAPTURE(n);
    const fk::conv2d_geometry g{n, 16, 6, 6, 16, 3, 1, 1, 1, 1};
    const auto x = random_vector(n * 16 * 36, rng), w = random_vector(16 * 16 * 9, rng);
    const auto dz = random_vector(n * 16 * 36, rng);
    std::vector<float> z(dz.size()), dw(w.size(), 0.0f), z_ref(dz.size()), dw_ref(w.size(), 0.0f);
    std::vector<float> z_nhwc(dz.size()), dz_nhwc(n * conv::dz_image);
    conv::forward(x.data(), w.data(), nullptr, z_nhwc.data(), n, s);
    fk::nhwc_to_nchw<16, 6, 6, 0>(z_nhwc.data(), z.data(), n);
    fk::nchw_to_nhwc<16, 6, 6, conv::dz_border>(dz.data(), dz_nhwc.data(), n);
    conv::backward(dz_nhwc.data(), nullptr, dw.data(), nullptr, n, s, workspace);
    fk::scalar::conv2d_forward(g, x.data(), w.data(), static_cast<const float*>(nullptr), z_ref.data());
    fk::scalar::conv2d_backward(g, x.data(), w.data(), dz.data(), static_cast<float*>(nullptr), dw_ref.data(),
                                static_cast<float*>(nullptr));
    CHECK(mismatches(z, z_ref, 1e-5f, 1e-4f) == 0);
    CHECK(mismatches(dw, dw_ref, 1e-5f, 1e-4f) == 0);
  }
}

TEST_CASE("direct training convolution gives bit-identical results on 1 and 2 threads") {
  std::mt19937 rng(23);
  using conv = fk::conv2d_direct<32, 64, 14, 14, 3, 1, true>;
  const std::size_t n = 20;  // three dw chunks of unequal size
  const auto x = random_vector(n * 32 * 196, rng), w = random_vector(64 * 32 * 9, rng);
  const auto bias = random_vector(64, rng), dz = random_vector(n * 64 * 196, rng);
  const std::vector<float> dw0(w.size(), 0.5f), db0(64, 0.5f);
  auto run = [&](int threads) {
    outputs o;
    with_threads(threads, [&] {
      std::vector<float> workspace;
      o = run_direct<conv, 64>(n, x, w, bias.data(), dz, dw0, db0, workspace);
    });
    return o;
  };
  const outputs one = run(1), two = run(2);
  CHECK(one.z == two.z);
  CHECK(one.dx == two.dx);
  CHECK(one.dw == two.dw);
  CHECK(one.db == two.db);
}
