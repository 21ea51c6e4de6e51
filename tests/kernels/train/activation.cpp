// SPDX-License-Identifier: MIT
// Fast ReLU and LeakyReLU against the scalar twins (including 0, -0, NaN, ±inf), on 1 and 2 threads; NaN stays NaN.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <fusenet/kernels/activation.hpp>
#include <fusenet/kernels/scalar/activations.hpp>
#include <limits>
#include <random>
#include <vector>

#include "common.hpp"

namespace fk = fusenet::kernels;

namespace {

// Bitwise equality: the fast loops compute the same expression, so even the sign of zero must agree.
bool bitwise_same(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::vector<float> input(std::size_t n, std::mt19937& rng) {
  auto v = train_test::random_vector(n, rng);
  const float special[] = {0.0f, -0.0f, std::numeric_limits<float>::quiet_NaN(),
                           std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  for (std::size_t i = 0; i < n; i += 97) v[i] = special[(i / 97) % 5];
  return v;
}

}  // namespace

TEST_CASE("relu and leaky_relu forward and backward match the scalar twins bit for bit") {
  std::mt19937 rng(2);
  // 1 element, a partial vector, a partial block, and sizes large enough to be threaded.
  for (const std::size_t n : {std::size_t{1}, std::size_t{13}, std::size_t{5000}, std::size_t{64 * 32 * 28 * 28}}) {
    CAPTURE(n);
    const auto x = input(n, rng), dy = train_test::random_vector(n, rng);
    for (int threads : {1, 2}) {
      CAPTURE(threads);
      train_test::with_threads(threads, [&] {
        std::vector<float> ref(n), fast(n, 3.0f);
        fk::scalar::relu_forward(n, x.data(), ref.data());
        fk::relu_forward(n, x.data(), fast.data());
        CHECK(bitwise_same(fast, ref));
        fk::scalar::relu_backward(n, x.data(), dy.data(), ref.data());
        fk::relu_backward(n, x.data(), dy.data(), fast.data());
        CHECK(bitwise_same(fast, ref));
        fk::scalar::leaky_relu_forward(n, x.data(), ref.data(), 0.01f);
        fk::leaky_relu_forward(n, x.data(), fast.data(), 0.01f);
        CHECK(bitwise_same(fast, ref));
        fk::scalar::leaky_relu_backward(n, x.data(), dy.data(), ref.data(), 0.01f);
        fk::leaky_relu_backward(n, x.data(), dy.data(), fast.data(), 0.01f);
        CHECK(bitwise_same(fast, ref));
      });
    }
  }
}

TEST_CASE("relu and leaky_relu keep NaN, as torch.relu and F.leaky_relu; their gradient there is that of x <= 0") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // the first 32 elements are special values at every lane position; the rest pushes the size past the threaded bound
  std::vector<float> x(std::size_t{1} << 17, 0.5f), dy(x.size(), 2.0f);
  const float special[] = {nan, -1.0f, inf, -inf, 0.0f, 3.0f, nan, -nan};
  for (std::size_t i = 0; i < 32; ++i) x[i] = special[i % 8];
  x.back() = nan;
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    train_test::with_threads(threads, [&] {
      std::vector<float> y(x.size()), dx(x.size());
      fk::relu_forward(x.size(), x.data(), y.data());
      for (std::size_t i = 0; i < 32; ++i) {
        CAPTURE(i);
        CHECK(std::isnan(y[i]) == std::isnan(x[i]));
        if (!std::isnan(x[i])) CHECK(y[i] == (x[i] > 0.0f ? x[i] : 0.0f));
      }
      CHECK(std::isnan(y.back()));
      CHECK(std::isnan(fk::scalar::relu(nan)));
      CHECK(fk::scalar::relu(-inf) == 0.0f);
      fk::leaky_relu_forward(x.size(), x.data(), y.data(), 0.1f);
      CHECK(std::isnan(y[0]));
      CHECK(y[1] == -0.1f);
      CHECK(std::isnan(y.back()));
      // backward: PyTorch's leaky_relu_backward gives slope·dy at NaN; fusenet's relu gives 0 there (x > 0 fails)
      fk::relu_backward(x.size(), x.data(), dy.data(), dx.data());
      CHECK(dx[0] == 0.0f);
      CHECK(dx[2] == 2.0f);
      fk::leaky_relu_backward(x.size(), x.data(), dy.data(), dx.data(), 0.1f);
      CHECK(dx[0] == 2.0f * 0.1f);
    });
  }
}
