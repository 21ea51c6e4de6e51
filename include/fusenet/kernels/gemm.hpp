// SPDX-License-Identifier: MIT
// Cache-blocked, packed single-precision GEMM with an xsimd register-tile micro-kernel.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <fusenet/kernels/scalar/gemm.hpp>
#include <type_traits>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "fusenet/kernels/fma.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

#include "fusenet/kernels/registers.hpp"

namespace fusenet::kernels {

/// Register tile of the GEMM micro-kernel: `rows` rows of C (one broadcast of A each) by
/// `vectors` SIMD vectors of C columns (loaded from packed B), all held in registers.
template <class Arch = xsimd::default_arch>
struct gemm_tile {
  /// Lanes of one `xsimd::batch<float, Arch>`.
  static constexpr std::size_t width = xsimd::batch<float, Arch>::size;
  /// Rows of C per tile: 14 × 2 vectors (28 accumulators) with 32 registers, 6 × 2 with 16.
  static constexpr std::size_t rows = vector_registers<Arch> >= 32 ? 14 : 6;
  /// Vectors of C columns per tile.
  static constexpr std::size_t vectors = 2;
};

namespace detail {

/// True when a rows × vectors tile (accumulators + B vectors + one broadcast) fits in registers;
/// a tile that does not fit spills in the inner loop and runs at about half speed, silently.
template <std::size_t Rows, std::size_t Vectors, class Arch>
inline constexpr bool gemm_tile_fits_registers =
    (Rows * Vectors) + Vectors + 1 <= vector_registers<Arch>;

/// Packed-A buffer or packed-B buffer, aligned for Arch's aligned loads.
template <class Arch>
using gemm_buffer = std::vector<float, xsimd::aligned_allocator<float, Arch::alignment()>>;

/// Copies op(A)[i0 : i0+m_blk, p0 : p0+kc] into Rows-tall strips, k-major inside a strip
/// (strip s holds element (s*Rows + r, p) at s*Rows*kc + p*Rows + r), zero-padding rows past m.
template <std::size_t Rows>
inline void gemm_pack_a_strip(transpose transa, const float* a, std::size_t lda, std::size_t m,
                              std::size_t i0, std::size_t p0, std::size_t kc, float* dst) {
  if (transa == transpose::no) {
    for (std::size_t r = 0; r < Rows; ++r) {
      if (i0 + r < m) {
        const float* src = a + (i0 + r) * lda + p0;
        for (std::size_t p = 0; p < kc; ++p) dst[p * Rows + r] = src[p];
      } else {
        for (std::size_t p = 0; p < kc; ++p) dst[p * Rows + r] = 0.0f;
      }
    }
  } else {
    const std::size_t valid = std::min(Rows, m - i0);
    for (std::size_t p = 0; p < kc; ++p) {
      const float* src = a + (p0 + p) * lda + i0;
      for (std::size_t r = 0; r < valid; ++r) dst[p * Rows + r] = src[r];
      for (std::size_t r = valid; r < Rows; ++r) dst[p * Rows + r] = 0.0f;
    }
  }
}

/// Copies op(B)[p0 : p0+kc, j0 : j0+Cols] into one strip, row p at p*Cols, zero-padding columns
/// past n so the micro-kernel never needs a masked load.
template <std::size_t Cols>
inline void gemm_pack_b_strip(transpose transb, const float* b, std::size_t ldb, std::size_t n,
                              std::size_t j0, std::size_t p0, std::size_t kc, float* dst) {
  const std::size_t valid = std::min(Cols, n - j0);
  if (transb == transpose::no) {
    for (std::size_t p = 0; p < kc; ++p) {
      const float* src = b + (p0 + p) * ldb + j0;
      for (std::size_t c = 0; c < valid; ++c) dst[p * Cols + c] = src[c];
      for (std::size_t c = valid; c < Cols; ++c) dst[p * Cols + c] = 0.0f;
    }
  } else {
    for (std::size_t c = 0; c < valid; ++c) {
      const float* src = b + (j0 + c) * ldb + p0;
      for (std::size_t p = 0; p < kc; ++p) dst[p * Cols + c] = src[p];
    }
    for (std::size_t c = valid; c < Cols; ++c) {
      for (std::size_t p = 0; p < kc; ++p) dst[p * Cols + c] = 0.0f;
    }
  }
}

/// C[0:m, 0:n] = alpha * (packed A strip · packed B strip) + beta * C for one register tile;
/// m ≤ Rows and n ≤ Vectors*width, edges written by a scalar tail from a stored copy of the tile.
/// Per k: Vectors aligned loads of B, one broadcast of A per row, Rows*Vectors FMAs; no shuffles.
template <std::size_t Rows, std::size_t Vectors, class Arch>
[[gnu::always_inline]] inline void gemm_micro_kernel(std::size_t kc, const float* ap,
                                                     const float* bp, float alpha, float beta,
                                                     float* c, std::size_t ldc, std::size_t m,
                                                     std::size_t n) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t width = batch::size;
  constexpr std::size_t cols = Vectors * width;
  static_assert(gemm_tile_fits_registers<Rows, Vectors, Arch>,
                "fusenet: gemm tile: Rows*Vectors accumulators + Vectors + 1 exceed the vector "
                "registers of Arch; use fewer rows or vectors");
  batch acc[Rows][Vectors];
#pragma GCC unroll 32
  for (std::size_t i = 0; i < Rows; ++i) {
#pragma GCC unroll 8
    for (std::size_t v = 0; v < Vectors; ++v) acc[i][v] = batch(0.0f);
  }
  for (std::size_t p = 0; p < kc; ++p) {
    batch bv[Vectors];
#pragma GCC unroll 8
    for (std::size_t v = 0; v < Vectors; ++v) bv[v] = batch::load_aligned(bp + v * width);
#pragma GCC unroll 32
    for (std::size_t i = 0; i < Rows; ++i) {
      const batch av(ap[i]);
#pragma GCC unroll 8
      for (std::size_t v = 0; v < Vectors; ++v) acc[i][v] = kernels::fma(av, bv[v], acc[i][v]);
    }
    ap += Rows;
    bp += cols;
  }
  if (m == Rows && n == cols) {
    const batch va(alpha);
#pragma GCC unroll 32
    for (std::size_t i = 0; i < Rows; ++i) {
#pragma GCC unroll 8
      for (std::size_t v = 0; v < Vectors; ++v) {
        float* cp = c + i * ldc + v * width;
        batch r = acc[i][v] * va;
        if (beta != 0.0f) r = kernels::fma(batch(beta), batch::load_unaligned(cp), r);
        r.store_unaligned(cp);
      }
    }
    return;
  }
  alignas(Arch::alignment()) float tile[Rows * cols];
#pragma GCC unroll 32
  for (std::size_t i = 0; i < Rows; ++i) {
#pragma GCC unroll 8
    for (std::size_t v = 0; v < Vectors; ++v) acc[i][v].store_aligned(tile + i * cols + v * width);
  }
  for (std::size_t i = 0; i < m; ++i) {
    float* crow = c + i * ldc;
    for (std::size_t j = 0; j < n; ++j) {
      // Same rounding as the full-tile path, fma(beta, c, alpha*acc), so whether an element lies in
      // an edge tile never changes its value; BLAS: C is not read when beta == 0.
      const float t = alpha * tile[i * cols + j];
      crow[j] = beta == 0.0f ? t : std::fma(beta, crow[j], t);
    }
  }
}

/// C = beta * C, with beta == 0 writing zeros (C may be uninitialised), as BLAS does when K == 0.
inline void gemm_scale(std::size_t m, std::size_t n, float beta, float* c, std::size_t ldc) {
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j)
      c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
  }
}

}  // namespace detail

/// Cache-blocking of the GEMM: the K slice, the C-column block and the C-row block per pass.
/// A Rows × kc packed A strip (14 KB at kc = 256) stays in L1 while B strips of the kc × nc
/// packed block (512 KB) stream from L2, the Goto/BLIS loop order with A and B roles swapped
/// because C is row-major and vectorised along its columns.
struct gemm_blocking {
  /// Depth of one K slice.
  static constexpr std::size_t kc = 256;
  /// Columns of C per packed B block (rounded down to whole tiles in use).
  static constexpr std::size_t nc = 512;
  /// Row tiles of C per packed A block.
  static constexpr std::size_t mc_tiles = 12;
  /// Multiply-adds each extra OpenMP thread must get, or the fork/join costs more than it saves.
  static constexpr std::size_t madds_per_thread = std::size_t{1} << 19;
};

namespace detail {

/// One thread's blocked GEMM on the whole of its (sub)problem: pack B block, pack A block,
/// then every register tile, A strip outermost so one A strip stays in L1 across B strips.
template <std::size_t Rows, std::size_t Vectors, class Arch>
void gemm_blocked(transpose transa, transpose transb, std::size_t m, std::size_t n, std::size_t k,
                  float alpha, const float* a, std::size_t lda, const float* b, std::size_t ldb,
                  float beta, float* c, std::size_t ldc) {
  constexpr std::size_t width = xsimd::batch<float, Arch>::size;
  constexpr std::size_t cols = Vectors * width;
  constexpr std::size_t kc_max = gemm_blocking::kc;
  constexpr std::size_t nc_max = std::max(cols, gemm_blocking::nc / cols * cols);
  constexpr std::size_t mc_max = Rows * gemm_blocking::mc_tiles;
  // Reused across calls; thread_local so concurrent callers (and OpenMP threads) never share one.
  thread_local gemm_buffer<Arch> a_buffer;
  thread_local gemm_buffer<Arch> b_buffer;
  if (a_buffer.size() < mc_max * kc_max) a_buffer.resize(mc_max * kc_max);
  if (b_buffer.size() < nc_max * kc_max) b_buffer.resize(nc_max * kc_max);
  float* const a_pack = a_buffer.data();
  float* const b_pack = b_buffer.data();
  for (std::size_t jc = 0; jc < n; jc += nc_max) {
    const std::size_t nc = std::min(nc_max, n - jc);
    const std::size_t b_strips = (nc + cols - 1) / cols;
    for (std::size_t pc = 0; pc < k; pc += kc_max) {
      const std::size_t kc = std::min(kc_max, k - pc);
      const float beta_slice = pc == 0 ? beta : 1.0f;  // later K slices accumulate
      for (std::size_t s = 0; s < b_strips; ++s) {
        gemm_pack_b_strip<cols>(transb, b, ldb, n, jc + s * cols, pc, kc, b_pack + s * cols * kc);
      }
      for (std::size_t ic = 0; ic < m; ic += mc_max) {
        const std::size_t mc = std::min(mc_max, m - ic);
        const std::size_t a_strips = (mc + Rows - 1) / Rows;
        for (std::size_t s = 0; s < a_strips; ++s) {
          gemm_pack_a_strip<Rows>(transa, a, lda, m, ic + s * Rows, pc, kc, a_pack + s * Rows * kc);
        }
        for (std::size_t sa = 0; sa < a_strips; ++sa) {
          const std::size_t i0 = ic + sa * Rows;
          for (std::size_t sb = 0; sb < b_strips; ++sb) {
            const std::size_t j0 = jc + sb * cols;
            gemm_micro_kernel<Rows, Vectors, Arch>(
                kc, a_pack + sa * Rows * kc, b_pack + sb * cols * kc, alpha, beta_slice,
                c + i0 * ldc + j0, ldc, std::min(Rows, m - i0), std::min(cols, n - j0));
          }
        }
      }
    }
  }
}

}  // namespace detail

namespace detail {

/// The other transpose flag: (op(X))ᵀ is X read the other way.
constexpr transpose flipped(transpose t) {
  return t == transpose::no ? transpose::yes : transpose::no;
}

/// True when C is too narrow to fill the tile's columns but tall enough to fill them with its rows;
/// then Cᵀ = op(B)ᵀ · op(A)ᵀ is computed instead (conv1's dw: 9 columns of C would use 9 of 32
/// lanes).
template <std::size_t Rows, std::size_t Vectors, class Arch>
constexpr bool gemm_output_transposed(std::size_t m, std::size_t n) {
  constexpr std::size_t cols = Vectors * xsimd::batch<float, Arch>::size;
  return 2 * n <= cols && m >= cols;
}

/// C[i0:i1, j0:j1] of the full product: directly, or when `transposed_out` as T = op(B)ᵀ · op(A)ᵀ
/// in a scratch buffer followed by C = alpha * Tᵀ + beta * C. Both round each element identically
/// (the same FMA chain over K, then alpha, then fma(beta, c, ·)), so parts may be cut anywhere.
template <std::size_t Rows, std::size_t Vectors, class Arch>
void gemm_part(bool transposed_out, transpose transa, transpose transb, std::size_t i0,
               std::size_t i1, std::size_t j0, std::size_t j1, std::size_t k, float alpha,
               const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta,
               float* c, std::size_t ldc) {
  const float* ai = transa == transpose::no ? a + i0 * lda : a + i0;
  const float* bj = transb == transpose::no ? b + j0 : b + j0 * ldb;
  float* cij = c + i0 * ldc + j0;
  const std::size_t m = i1 - i0, n = j1 - j0;
  if (!transposed_out) {
    gemm_blocked<Rows, Vectors, Arch>(transa, transb, m, n, k, alpha, ai, lda, bj, ldb, beta, cij,
                                      ldc);
    return;
  }
  thread_local std::vector<float> scratch;
  if (scratch.size() < m * n) scratch.resize(m * n);
  float* const t = scratch.data();
  gemm_blocked<Rows, Vectors, Arch>(flipped(transb), flipped(transa), n, m, k, 1.0f, bj, ldb, ai,
                                    lda, 0.0f, t, m);
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const float v = alpha * t[j * m + i];
      float& out = cij[i * ldc + j];
      out = beta == 0.0f ? v : std::fma(beta, out, v);
    }
  }
}

}  // namespace detail

/// C = alpha * op(A) · op(B) + beta * C with an explicit register tile (Rows × Vectors vectors);
/// `gemm` picks the tile for Arch, this overload exists for tuning and benchmarking.
/// With OpenMP, C is cut into one slab of whole tiles per thread (along N, or along M when M has
/// more tiles), each slab a serial blocked GEMM: one fork/join per call and no barrier inside.
/// A narrow C (N at most half a tile row) is computed transposed, see gemm_output_transposed.
/// Requires: row-major A (M×K, or K×M when transposed), B (K×N, or N×K when transposed), C M×N.
/// Ensures: slabs end on tile boundaries and edge tiles round like full ones, so every element is
/// computed the same way for any thread count (bit-identical results); C is not read when beta ==
/// 0.
template <std::size_t Rows, std::size_t Vectors, class Arch = xsimd::default_arch>
void gemm_tiled(transpose transa, transpose transb, std::size_t m, std::size_t n, std::size_t k,
                float alpha, const float* a, std::size_t lda, const float* b, std::size_t ldb,
                float beta, float* c, std::size_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) {
    detail::gemm_scale(m, n, beta, c, ldc);
    return;
  }
  const bool transposed_out = detail::gemm_output_transposed<Rows, Vectors, Arch>(m, n);
#ifdef _OPENMP
  // Slabs of whole tiles of the GEMM actually run (rows of C are T's columns when transposed).
  constexpr std::size_t cols = Vectors * xsimd::batch<float, Arch>::size;
  const std::size_t row_unit = transposed_out ? cols : Rows;
  const std::size_t col_unit = transposed_out ? Rows : cols;
  const std::size_t row_tiles = (m + row_unit - 1) / row_unit;
  const std::size_t col_tiles = (n + col_unit - 1) / col_unit;
  const bool split_cols = col_tiles >= row_tiles;
  const std::size_t tiles = split_cols ? col_tiles : row_tiles;
  const std::size_t threads = std::min({static_cast<std::size_t>(omp_get_max_threads()), tiles,
                                        m * n * k / gemm_blocking::madds_per_thread});
  if (threads > 1 && !omp_in_parallel()) {
    const int team_size = static_cast<int>(threads);
#pragma omp parallel num_threads(team_size)
    {
      const auto team = static_cast<std::size_t>(omp_get_num_threads());
      const auto rank = static_cast<std::size_t>(omp_get_thread_num());
      const std::size_t first = tiles * rank / team, last = tiles * (rank + 1) / team;
      if (split_cols && first < last) {
        detail::gemm_part<Rows, Vectors, Arch>(transposed_out, transa, transb, 0, m,
                                               first * col_unit, std::min(n, last * col_unit), k,
                                               alpha, a, lda, b, ldb, beta, c, ldc);
      } else if (first < last) {
        detail::gemm_part<Rows, Vectors, Arch>(transposed_out, transa, transb, first * row_unit,
                                               std::min(m, last * row_unit), 0, n, k, alpha, a, lda,
                                               b, ldb, beta, c, ldc);
      }
    }
    return;
  }
#endif
  detail::gemm_part<Rows, Vectors, Arch>(transposed_out, transa, transb, 0, m, 0, n, k, alpha, a,
                                         lda, b, ldb, beta, c, ldc);
}

/// C = alpha * op(A) · op(B) + beta * C on row-major float matrices (BLAS sgemm semantics):
/// blocked, packed, with the register tile `gemm_tile<Arch>` and OpenMP threads when enabled.
/// Requires: as `scalar::gemm`; A, B and C do not overlap.
/// Ensures: the result does not depend on the thread count; C is not read when beta == 0.
template <class Arch = xsimd::default_arch>
void gemm(transpose transa, transpose transb, std::size_t m, std::size_t n, std::size_t k,
          float alpha, const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta,
          float* c, std::size_t ldc) {
  gemm_tiled<gemm_tile<Arch>::rows, gemm_tile<Arch>::vectors, Arch>(transa, transb, m, n, k, alpha,
                                                                    a, lda, b, ldb, beta, c, ldc);
}

}  // namespace fusenet::kernels
