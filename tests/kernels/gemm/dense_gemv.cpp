// SPDX-License-Identifier: MIT
// The small-batch dense kernel (weights streamed once per four samples) against the scalar dense layer.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <fusenet/kernels/dense_gemv.hpp>
#include <fusenet/kernels/scalar/activations.hpp>
#include <fusenet/kernels/scalar/linear.hpp>
#include <limits>
#include <random>
#include <vector>

#include "compare.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fk = fusenet::kernels;

namespace {

using fusenet::test::mismatches;
using fusenet::test::random_vector;

// y from the kernel for n samples (NaN-filled first, so an unwritten output shows) and from the scalar twin.
template <std::size_t In, std::size_t Out, bool Relu>
void check_sizes() {
  std::mt19937 rng(In * 131 + Out);
  const auto w = random_vector(Out * In, rng);
  const auto b = random_vector(Out, rng);
  for (std::size_t n : {1, 2, 3, 4, 5, 9}) {
    CAPTURE(In);
    CAPTURE(Out);
    CAPTURE(n);
    CAPTURE(Relu);
    const auto x = random_vector(n * In, rng);
    std::vector<float> ref(n * Out), fast(n * Out, std::numeric_limits<float>::quiet_NaN());
    fk::scalar::linear_forward(n, In, Out, x.data(), w.data(), b.data(), ref.data());
    if (Relu)
      for (float& v : ref) v = fk::scalar::relu(v);
    fk::dense_gemv<In, Out, Relu>(x.data(), n, w.data(), b.data(), fast.data());
    CHECK(mismatches(fast, ref, In + 1) == 0);
  }
}

}  // namespace

TEST_CASE("dense_gemv matches the scalar dense layer: the reference net's layers and sizes around the tiles") {
  check_sizes<3136, 128, true>();  // the reference network's hidden layer
  check_sizes<128, 10, false>();   // its head: 10 outputs, a tail of 2 rows
  check_sizes<1, 1, false>();
  check_sizes<17, 3, true>();     // a scalar tail in every row, fewer outputs than one block
  check_sizes<67, 29, false>();
  check_sizes<512, 1000, false>();  // a ResNet head
}

TEST_CASE("dense_gemv keeps NaN through the ReLU, as torch.relu") {
  std::vector<float> x(32, 1.0f), w(2 * 32, 0.5f), b{0.0f, -100.0f}, y(2);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  fk::dense_gemv<32, 2, true>(x.data(), 1, w.data(), b.data(), y.data());
  CHECK(std::isnan(y[0]));
  CHECK(std::isnan(y[1]));
  x[3] = 1.0f;
  fk::dense_gemv<32, 2, true>(x.data(), 1, w.data(), b.data(), y.data());
  CHECK(y[0] == doctest::Approx(16.0f));
  CHECK(y[1] == 0.0f);  // 16 - 100 < 0
}

TEST_CASE("dense_gemv gives the same bits on 1 and 2 threads") {
  std::mt19937 rng(5);
  constexpr std::size_t in = 3136, out = 128;
  const auto x = random_vector(3 * in, rng), w = random_vector(out * in, rng), b = random_vector(out, rng);
  std::vector<float> one(3 * out), two(3 * out);
#ifdef _OPENMP
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
#endif
  fk::dense_gemv<in, out, true>(x.data(), 3, w.data(), b.data(), one.data());
#ifdef _OPENMP
  omp_set_num_threads(2);
#endif
  fk::dense_gemv<in, out, true>(x.data(), 3, w.data(), b.data(), two.data());
#ifdef _OPENMP
  omp_set_num_threads(before);
#endif
  CHECK(one == two);
}
