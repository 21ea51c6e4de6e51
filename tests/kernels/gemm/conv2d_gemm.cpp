// SPDX-License-Identifier: MIT
// im2col + GEMM convolution against the scalar reference convolution, forward and backward, every
// option.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <fusenet/kernels/conv2d_gemm.hpp>
#include <fusenet/kernels/scalar/conv2d.hpp>
#include <limits>
#include <random>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "compare.hpp"

namespace fk = fusenet::kernels;

namespace {

using fusenet::test::random_vector;

using fusenet::test::mismatches;

//                       N  Cin  H   W  Cout K  s  p  d  G
const fk::conv2d_geometry geometries[] = {
    {2, 1, 28, 28, 32, 3, 1, 1, 1, 1},   // reference CNN, first conv
    {2, 32, 14, 14, 64, 3, 1, 1, 1, 1},  // reference CNN, second conv
    {3, 4, 9, 7, 6, 3, 2, 1, 1, 1},      // stride 2, non-square input
    {2, 6, 11, 10, 4, 3, 1, 2, 2, 2},    // dilation 2, two groups
    {1, 4, 8, 8, 8, 1, 1, 0, 1, 1},      // pointwise: the image is the GEMM operand
    {2, 6, 8, 9, 6, 1, 2, 0, 1, 3},      // 1×1 with stride 2, three groups
    {1, 8, 5, 5, 16, 1, 1, 1, 1, 2},     // 1×1 with padding (a border of zeros)
    {2, 3, 7, 7, 5, 5, 3, 2, 1, 1},      // 5×5, stride 3
    {1, 4, 5, 5, 4, 3, 1, 0, 1, 4},      // depthwise, no padding
    {2, 2, 6, 6, 3, 4, 1, 3, 1, 1},      // even kernel, padding > K/2: whole rows of padding
    {1, 2, 5, 6, 2, 3, 2, 4, 3, 1},      // dilation 3 with stride 2 and wide padding
    {1, 3, 1, 1, 2, 3, 1, 1, 1, 1},      // 1×1 image, only the centre tap is real
    {17, 6, 9, 9, 8, 3, 1, 1, 1, 2},     // 17 images: three dw chunks, spread over threads
    {11, 4, 6, 6, 6, 1, 1, 0, 1, 2},     // pointwise, two dw chunks
};

}  // namespace

TEST_CASE("conv2d via im2col + gemm matches the scalar convolution, forward") {
  std::mt19937 rng(11);
  std::vector<float> workspace;  // shared by every call: reuse across sizes must be safe
  for (const auto& g : geometries) {
    CAPTURE(g.in_channels);
    CAPTURE(g.kernel);
    CAPTURE(g.stride);
    CAPTURE(g.padding);
    CAPTURE(g.dilation);
    CAPTURE(g.groups);
    const std::size_t cin_g = g.in_channels / g.groups;
    const auto x = random_vector(g.batch * g.in_channels * g.in_h * g.in_w, rng);
    const auto w = random_vector(g.out_channels * cin_g * g.kernel * g.kernel, rng);
    const auto bias = random_vector(g.out_channels, rng);
    const std::size_t y_size = g.batch * g.out_channels * g.out_h() * g.out_w();
    for (const float* b : {bias.data(), static_cast<const float*>(nullptr)}) {
      std::vector<float> ref(y_size), fast(y_size, std::numeric_limits<float>::quiet_NaN());
      fk::scalar::conv2d_forward(g, x.data(), w.data(), b, ref.data());
      fk::conv2d_forward(g, x.data(), w.data(), b, fast.data(), workspace);
      CHECK(mismatches(fast, ref, cin_g * g.kernel * g.kernel + 1) == 0);
    }
  }
}

TEST_CASE("conv2d via im2col + gemm matches the scalar convolution, backward") {
  std::mt19937 rng(12);
  std::vector<float> workspace;
  for (const auto& g : geometries) {
    CAPTURE(g.in_channels);
    CAPTURE(g.kernel);
    CAPTURE(g.stride);
    CAPTURE(g.padding);
    CAPTURE(g.dilation);
    CAPTURE(g.groups);
    const std::size_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
    const std::size_t out_plane = g.out_h() * g.out_w();
    const auto x = random_vector(g.batch * g.in_channels * g.in_h * g.in_w, rng);
    const auto w = random_vector(g.out_channels * cin_g * g.kernel * g.kernel, rng);
    const auto dy = random_vector(g.batch * g.out_channels * out_plane, rng);
    // dw and db start non-zero so accumulation (+=) is checked; dx starts as NaN so overwrite is.
    const auto dw0 = random_vector(w.size(), rng);
    const auto db0 = random_vector(g.out_channels, rng);
    std::vector<float> dx_ref(x.size()), dw_ref = dw0, db_ref = db0;
    fk::scalar::conv2d_backward(g, x.data(), w.data(), dy.data(), dx_ref.data(), dw_ref.data(),
                                db_ref.data());

    std::vector<float> dx(x.size(), std::numeric_limits<float>::quiet_NaN()), dw = dw0, db = db0;
    fk::conv2d_backward(g, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(),
                        workspace);
    CHECK(mismatches(dx, dx_ref, cout_g * g.kernel * g.kernel) == 0);
    CHECK(mismatches(dw, dw_ref, g.batch * out_plane + 1) == 0);
    CHECK(mismatches(db, db_ref, g.batch * out_plane + 1) == 0);

    // Each output is optional: skipped ones are left untouched, the others unchanged in value.
    std::vector<float> dx_only(x.size(), std::numeric_limits<float>::quiet_NaN());
    fk::conv2d_backward(g, x.data(), w.data(), dy.data(), dx_only.data(), nullptr, nullptr,
                        workspace);
    CHECK(mismatches(dx_only, dx_ref, cout_g * g.kernel * g.kernel) == 0);
    std::vector<float> dw_only = dw0;
    fk::conv2d_backward(g, x.data(), w.data(), dy.data(), nullptr, dw_only.data(), nullptr,
                        workspace);
    CHECK(mismatches(dw_only, dw_ref, g.batch * out_plane + 1) == 0);
  }
}

#ifdef _OPENMP
TEST_CASE("conv2d via gemm gives bit-identical results with 1 and 2 OpenMP threads") {
  std::mt19937 rng(13);
  // 20 images: three dw chunks of unequal size; 32→64 at 14² as in the reference CNN
  const fk::conv2d_geometry g{20, 32, 14, 14, 64, 3, 1, 1, 1, 1};
  const std::size_t out_size = g.batch * g.out_channels * g.out_h() * g.out_w();
  const auto x = random_vector(g.batch * g.in_channels * g.in_h * g.in_w, rng);
  const auto w = random_vector(g.out_channels * g.in_channels * 9, rng);
  const auto bias = random_vector(g.out_channels, rng);
  const auto dy = random_vector(out_size, rng);
  struct result {
    std::vector<float> y, dx, dw, db;
  };
  auto run = [&](int threads) {
    omp_set_num_threads(threads);
    std::vector<float> workspace;
    result r{std::vector<float>(out_size), std::vector<float>(x.size()),
             std::vector<float>(w.size(), 0.5f), std::vector<float>(bias.size(), 0.5f)};
    fk::conv2d_forward(g, x.data(), w.data(), bias.data(), r.y.data(), workspace);
    fk::conv2d_backward(g, x.data(), w.data(), dy.data(), r.dx.data(), r.dw.data(), r.db.data(),
                        workspace);
    return r;
  };
  const int saved = omp_get_max_threads();
  const result one = run(1), two = run(2);
  omp_set_num_threads(saved);
  CHECK(one.y == two.y);
  CHECK(one.dx == two.dx);
  CHECK(one.dw == two.dw);
  CHECK(one.db == two.db);
}
#endif

TEST_CASE("im2col through the bordered copy gives exactly im2col's matrix, and writes nothing past its slack") {
  std::mt19937 rng(9);
  for (const auto& g : geometries) {
    CAPTURE(g.in_h);
    CAPTURE(g.kernel);
    CAPTURE(g.stride);
    CAPTURE(g.padding);
    CAPTURE(g.dilation);
    const fk::im2col_geometry w{g.in_channels / g.groups, g.in_h, g.in_w, g.kernel, g.stride, g.padding,
                                g.dilation, g.out_h(), g.out_w()};
    const auto x = random_vector(w.channels * g.in_h * g.in_w, rng);
    const std::size_t size = w.channels * g.kernel * g.kernel * w.out_h * w.out_w;
    std::vector<float> want(size), got(fk::im2col_col_size(w) + 8, -7.0f), bordered(fk::im2col_bordered_size(w));
    fk::im2col(w, x.data(), want.data());
    fk::im2col_bordered(w, x.data(), bordered.data(), got.data());
    CHECK(std::equal(want.begin(), want.end(), got.begin()));
    CHECK(std::all_of(got.end() - 8, got.end(), [](float v) { return v == -7.0f; }));
  }
}
