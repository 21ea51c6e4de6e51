// SPDX-License-Identifier: MIT
// Plain triple-loop GEMM: the scalar twin that the blocked xsimd GEMM is tested against.
#pragma once

#include <cstddef>

namespace fusenet::kernels {

/// Whether a GEMM operand is read as stored or transposed (BLAS's 'N' / 'T').
enum class transpose { no, yes };

namespace scalar {

/// C = alpha * op(A) * op(B) + beta * C on row-major matrices, op(A) M×K, op(B) K×N, C M×N.
/// Requires: lda, ldb, ldc are the row strides of A, B, C as stored (A is K×M when transposed).
/// Ensures: as BLAS sgemm, C is not read when beta == 0 (it may hold NaN or garbage).
template <class T>
void gemm(transpose transa, transpose transb, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      T sum{0};
      for (std::size_t p = 0; p < k; ++p) {
        const T av = transa == transpose::no ? a[i * lda + p] : a[p * lda + i];
        const T bv = transb == transpose::no ? b[p * ldb + j] : b[j * ldb + p];
        sum += av * bv;
      }
      T& out = c[i * ldc + j];
      out = beta == T{0} ? alpha * sum : alpha * sum + beta * out;
    }
  }
}

}  // namespace scalar
}  // namespace fusenet::kernels
