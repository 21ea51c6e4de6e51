// SPDX-License-Identifier: MIT
// Fast max pooling against the scalar twin (values, argmax with ties, NaN and -inf, gradients), and
// bit-identical results on 1 and 2 threads.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <fusenet/kernels/pool.hpp>
#include <fusenet/kernels/scalar/pool.hpp>
#include <limits>
#include <random>
#include <vector>

#include "common.hpp"

namespace fk = fusenet::kernels;
using train_test::random_vector;

namespace {

//                      N   C   H   W  K  s  p
const fk::pool2d_geometry geometries[] = {
    {64, 32, 28, 28, 2, 2, 0},  // reference CNN, first pool (threaded)
    {3, 4, 14, 14, 2, 2, 0},    // second pool's plane
    {2, 3, 7, 9, 2, 2, 0},      // odd sizes: last row and column in no window
    {2, 3, 2, 5, 2, 2, 0},      // a single output row
    {2, 2, 9, 8, 3, 2, 1},      // overlapping windows with padding: the general loop
    {1, 2, 10, 10, 3, 3, 0},    // non-overlapping 3×3
};

// Equal element by element, NaN equal to NaN (the kernels must agree exactly, not within a tolerance).
bool same(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
  }
  return true;
}

// Random values with ties (few distinct levels), and a sprinkling of NaN and -inf.
std::vector<float> awkward_input(std::size_t size, std::mt19937& rng) {
  std::uniform_int_distribution<int> level(-3, 3), rare(0, 40);
  std::vector<float> v(size);
  for (auto& x : v) {
    const int r = rare(rng);
    x = r == 0 ? std::numeric_limits<float>::quiet_NaN()
               : r == 1 ? -std::numeric_limits<float>::infinity() : static_cast<float>(level(rng));
  }
  return v;
}

}  // namespace

TEST_CASE("max_pool2d forward and backward match the scalar twin exactly") {
  std::mt19937 rng(3);
  for (const auto& g : geometries) {
    CAPTURE(g.in_h);
    CAPTURE(g.in_w);
    CAPTURE(g.kernel);
    CAPTURE(g.stride);
    CAPTURE(g.padding);
    const std::size_t in_size = g.batch * g.channels * g.in_h * g.in_w;
    const std::size_t out_size = g.batch * g.channels * g.out_h() * g.out_w();
    for (const bool awkward : {false, true}) {
      CAPTURE(awkward);
      const auto x = awkward ? awkward_input(in_size, rng) : random_vector(in_size, rng);
      std::vector<float> y_ref(out_size), y(out_size, 5.0f);
      std::vector<std::uint32_t> a_ref(out_size), a(out_size, 12345u);
      fk::scalar::max_pool2d_forward(g, x.data(), y_ref.data(), a_ref.data());
      fk::max_pool2d_forward(g, x.data(), y.data(), a.data());
      CHECK(same(y, y_ref));
      CHECK(a == a_ref);

      const auto dy = random_vector(out_size, rng);
      std::vector<float> dx_ref(in_size), dx(in_size, 9.0f);  // stale values must be overwritten
      fk::scalar::max_pool2d_backward(g, dy.data(), a_ref.data(), dx_ref.data());
      fk::max_pool2d_backward(g, dy.data(), a_ref.data(), dx.data());
      CHECK(same(dx, dx_ref));
    }
  }
}

TEST_CASE("max_pool2d results are bit-identical on 1 and 2 threads") {
  std::mt19937 rng(4);
  const fk::pool2d_geometry g{64, 32, 28, 28, 2, 2, 0};
  const std::size_t in_size = g.batch * g.channels * g.in_h * g.in_w;
  const std::size_t out_size = g.batch * g.channels * g.out_h() * g.out_w();
  const auto x = random_vector(in_size, rng), dy = random_vector(out_size, rng);
  std::vector<float> y[2], dx[2];
  std::vector<std::uint32_t> a[2];
  for (int t = 0; t < 2; ++t) {
    train_test::with_threads(t + 1, [&] {
      y[t].resize(out_size);
      a[t].resize(out_size);
      dx[t].resize(in_size);
      fk::max_pool2d_forward(g, x.data(), y[t].data(), a[t].data());
      fk::max_pool2d_backward(g, dy.data(), a[t].data(), dx[t].data());
    });
  }
  CHECK(y[0] == y[1]);
  CHECK(a[0] == a[1]);
  CHECK(dx[0] == dx[1]);
}
