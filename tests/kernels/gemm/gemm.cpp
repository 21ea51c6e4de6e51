// SPDX-License-Identifier: MIT
// The blocked xsimd GEMM against its scalar triple-loop twin over odd sizes, transposes,
// alpha/beta.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <fusenet/kernels/gemm.hpp>
#include <fusenet/kernels/scalar/gemm.hpp>
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

struct gemm_case {
  fk::transpose ta, tb;
  std::size_t m, n, k;
  float alpha, beta;
  std::size_t pad;  // extra leading-dimension elements, so ld != logical width is exercised
};

// Runs `Gemm` and the scalar twin on the same random operands; returns the number of elements
// outside |fast - ref| <= 1e-5 |ref| + 1e-6 K (inputs in [-1, 1], so K bounds the sum of |a b|).
template <class Gemm>
std::size_t mismatches(const gemm_case& g, std::mt19937& rng, Gemm&& gemm) {
  const std::size_t a_rows = g.ta == fk::transpose::no ? g.m : g.k;
  const std::size_t a_cols = g.ta == fk::transpose::no ? g.k : g.m;
  const std::size_t b_rows = g.tb == fk::transpose::no ? g.k : g.n;
  const std::size_t b_cols = g.tb == fk::transpose::no ? g.n : g.k;
  const std::size_t lda = a_cols + g.pad, ldb = b_cols + g.pad, ldc = g.n + g.pad;
  const auto a = random_vector(a_rows * lda, rng);
  const auto b = random_vector(b_rows * ldb, rng);
  auto c_ref = random_vector(g.m * ldc, rng);
  if (g.beta == 0.0f) {  // beta == 0 must not read C: poison it
    for (auto& x : c_ref) x = std::numeric_limits<float>::quiet_NaN();
  }
  auto c_fast = c_ref;
  fk::scalar::gemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, a.data(), lda, b.data(), ldb, g.beta,
                   c_ref.data(), ldc);
  gemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, a.data(), lda, b.data(), ldb, g.beta, c_fast.data(),
       ldc);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < g.m; ++i) {
    for (std::size_t j = 0; j < ldc; ++j) {
      const float r = c_ref[i * ldc + j], f = c_fast[i * ldc + j];
      if (j >= g.n) {  // padding columns must be untouched (both still hold the same bits)
        if (std::memcmp(&r, &f, sizeof r) != 0) ++bad;
        continue;
      }
      const float tol = 1e-5f * std::fabs(r) + 1e-6f * static_cast<float>(g.k + 1);
      if (!(std::fabs(f - r) <= tol)) ++bad;
    }
  }
  return bad;
}

constexpr fk::transpose both[] = {fk::transpose::no, fk::transpose::yes};

template <class Gemm>
void sweep(Gemm&& gemm) {
  std::mt19937 rng(1234);
  const std::size_t sizes[] = {1, 2, 3, 7, 13, 14, 15, 16, 17, 29, 31, 32, 33, 47, 67};
  std::size_t calls = 0, bad_calls = 0;
  for (auto ta : both) {
    for (auto tb : both) {
      for (std::size_t m : sizes) {
        for (std::size_t n : sizes) {
          for (std::size_t k : sizes) {
            const gemm_case g{ta, tb, m, n, k, 1.0f, 0.0f, (m + n + k) % 3};
            const std::size_t bad = mismatches(g, rng, gemm);
            ++calls;
            if (bad != 0) {
              ++bad_calls;
              if (bad_calls < 5) {
                MESSAGE("mismatch m=" << m << " n=" << n << " k=" << k << " ta="
                                      << static_cast<int>(ta) << " tb=" << static_cast<int>(tb));
              }
            }
          }
        }
      }
    }
  }
  CHECK(calls == 4 * 15 * 15 * 15);
  CHECK(bad_calls == 0);
}

}  // namespace

TEST_CASE("gemm matches the scalar twin over odd sizes and all transposes") {
  sweep([](auto... args) { fk::gemm(args...); });
}

TEST_CASE("gemm matches the scalar twin for every size 1..67 with alpha and beta") {
  std::mt19937 rng(99);
  for (std::size_t s = 1; s <= 67; ++s) {
    for (auto ta : both) {
      for (auto tb : both) {
        // m runs over every size; n and k walk 1..67 in other orders
        const gemm_case g{ta, tb, s, (s * 7) % 67 + 1, (s * 13) % 67 + 1, -1.5f, 0.5f, s % 2};
        CHECK_MESSAGE(mismatches(g, rng, [](auto... args) { fk::gemm(args...); }) == 0,
                      "m=" << g.m << " n=" << g.n << " k=" << g.k);
      }
    }
  }
}

TEST_CASE("gemm crosses every cache block boundary (K > kc, N > nc, M > mc)") {
  std::mt19937 rng(7);
  for (auto ta : both) {
    for (auto tb : both) {
      const gemm_case g{ta, tb, 200, 530, 300, 1.0f, 1.0f, 1};
      CHECK(mismatches(g, rng, [](auto... args) { fk::gemm(args...); }) == 0);
      // tall: with OpenMP the threads split M instead of N
      const gemm_case tall{ta, tb, 600, 20, 100, 0.5f, -1.0f, 3};
      CHECK(mismatches(tall, rng, [](auto... args) { fk::gemm(args...); }) == 0);
      // narrow: C is computed transposed (and split over threads along M)
      const gemm_case narrow{ta, tb, 900, 9, 200, 1.0f, 0.5f, 2};
      CHECK(mismatches(narrow, rng, [](auto... args) { fk::gemm(args...); }) == 0);
    }
  }
}

TEST_CASE("gemm with K == 0 or alpha == 0 scales C by beta") {
  std::mt19937 rng(3);
  for (std::size_t k : {std::size_t{0}, std::size_t{5}}) {
    const gemm_case scale{fk::transpose::no, fk::transpose::no, 9, 11, k, 0.0f, 0.25f, 0};
    CHECK(mismatches(scale, rng, [](auto... args) { fk::gemm(args...); }) == 0);
    const gemm_case zero{fk::transpose::no, fk::transpose::yes, 9, 11, k, 0.0f, 0.0f, 0};
    CHECK(mismatches(zero, rng, [](auto... args) { fk::gemm(args...); }) == 0);
  }
}

#if XSIMD_WITH_FMA3_AVX2
TEST_CASE("gemm with the AVX2 tile matches the scalar twin") {
  // 16 registers with plain AVX2 encodings, 32 when AVX-512VL lets AVX2 code use EVEX (kernels/registers.hpp).
  using avx2 = xsimd::fma3<xsimd::avx2>;
  static_assert(fk::gemm_tile<avx2>::rows * fk::gemm_tile<avx2>::vectors +
                    fk::gemm_tile<avx2>::vectors + 1 <=
                fk::vector_registers<avx2>);
  sweep([](auto... args) { fk::gemm<avx2>(args...); });
}
#endif

#ifdef _OPENMP
TEST_CASE("gemm gives bit-identical results with 1 and 2 OpenMP threads") {
  std::mt19937 rng(5);
  struct size3 {
    std::size_t m, n, k;
  };
  // wide (threads split N, last slab ragged), tall (threads split M), narrow (C transposed)
  for (const auto [m, n, k] : {size3{130, 700, 520}, size3{700, 45, 300}, size3{900, 9, 400}}) {
    for (auto ta : both) {
      for (auto tb : both) {
        const auto a = random_vector(m * k, rng);
        const auto b = random_vector(k * n, rng);
        const std::size_t lda = ta == fk::transpose::no ? k : m;
        const std::size_t ldb = tb == fk::transpose::no ? n : k;
        std::vector<float> c1(m * n), c2(m * n);
        const int saved = omp_get_max_threads();
        omp_set_num_threads(1);
        fk::gemm(ta, tb, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c1.data(), n);
        omp_set_num_threads(2);
        fk::gemm(ta, tb, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c2.data(), n);
        omp_set_num_threads(saved);
        CHECK(std::memcmp(c1.data(), c2.data(), c1.size() * sizeof(float)) == 0);
      }
    }
  }
}
#endif
