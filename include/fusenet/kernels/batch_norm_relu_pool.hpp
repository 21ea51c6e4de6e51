// SPDX-License-Identifier: MIT
// The training epilogue of a conv → batch_norm [→ relu] [→ 2×2 max pool] stage, forward and backward, on
// the convolution's NCHW output z: one pass normalises with the batch statistics, applies ReLU and pools,
// keeping one byte per output for backward; one pass back gives dz (the full batch-statistics BatchNorm
// backward through the pool's argmax and the ReLU mask) and dγ, dβ. Results equal the unfused chain
// of batch_norm.hpp, activation.hpp and pool.hpp up to the order of the statistics' sums.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "fusenet/detail/batch_exchange.hpp"
#include "fusenet/kernels/batch_sum.hpp"
#include "fusenet/kernels/fma.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fusenet::kernels {

/// Sizes and options of one batch_norm_relu_pool call; height × width is the conv output plane.
struct batch_norm_relu_pool_geometry {
  std::size_t batch, channels, height, width;
  bool relu = false;  ///< ReLU after the BatchNorm
  bool pool = false;  ///< 2×2, stride-2, unpadded max pool after that (floors odd sizes, as PyTorch)

  [[nodiscard]] constexpr std::size_t out_h() const { return pool ? height / 2 : height; }
  [[nodiscard]] constexpr std::size_t out_w() const { return pool ? width / 2 : width; }
  [[nodiscard]] constexpr std::size_t plane() const { return height * width; }
  [[nodiscard]] constexpr std::size_t out_plane() const { return out_h() * out_w(); }
};

/// The backward code of an output that passes no gradient (its ReLU input was ≤ 0 or NaN).
inline constexpr std::uint8_t no_gradient = 4;

namespace detail {

/// Elements below which these loops stay on one thread: forking costs more than the work.
inline constexpr std::size_t epilogue_parallel_min = std::size_t{1} << 15;

/// relu as PyTorch: 0 below 0, x otherwise (NaN stays NaN). Written as one compare-select, the form
/// GCC vectorises.
inline float relu_of(float v) { return v < 0.0f ? 0.0f : v; }

// Lane patterns for splitting two batches a, b (2L consecutive floats) into their even and odd
// elements where no two-source shuffle is spelled out below: swizzle each so its evens (odds) fill
// both halves, then take a's low half and b's high half.
struct even_lanes {
  static constexpr unsigned get(unsigned i, unsigned size) { return (2 * i) % size; }
};
struct odd_lanes {
  static constexpr unsigned get(unsigned i, unsigned size) { return (2 * i + 1) % size; }
};
struct low_half {
  static constexpr bool get(unsigned i, unsigned size) { return i < size / 2; }
};

/// {a0, a2, …, b0, b2, …} and {a1, a3, …, b1, b3, …}: the left and right cells of L pool windows.
/// One two-source permute per result on AVX-512, two shuffles on AVX and SSE.
template <class Arch>
inline void split_even_odd(const xsimd::batch<float, Arch>& a, const xsimd::batch<float, Arch>& b,
                           xsimd::batch<float, Arch>& even, xsimd::batch<float, Arch>& odd) {
#if defined(__AVX512F__)
  if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odds = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    even = _mm512_permutex2var_ps(a, evens, b);
    odd = _mm512_permutex2var_ps(a, odds, b);
    return;
  }
#endif
#if defined(__AVX2__)
  if constexpr (std::is_base_of_v<xsimd::avx2, Arch>) {
    // shuffle_ps works per 128-bit half: {a0 a2 b0 b2 | a4 a6 b4 b6}; then order the 64-bit pairs.
    even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
    odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
    return;
  }
#endif
  if constexpr (std::is_base_of_v<xsimd::sse2, Arch> && xsimd::batch<float, Arch>::size == 4) {
    even = _mm_shuffle_ps(a, b, 0x88);
    odd = _mm_shuffle_ps(a, b, 0xDD);
  } else {
    using index = xsimd::batch<std::uint32_t, Arch>;
    constexpr auto evens = xsimd::make_batch_constant<index, even_lanes>();
    constexpr auto odds = xsimd::make_batch_constant<index, odd_lanes>();
    constexpr auto low = xsimd::make_batch_bool_constant<xsimd::batch<float, Arch>, low_half>();
    even = xsimd::select(low, xsimd::swizzle(a, evens), xsimd::swizzle(b, evens));
    odd = xsimd::select(low, xsimd::swizzle(a, odds), xsimd::swizzle(b, odds));
  }
}

/// One output row of normalise → [ReLU] → 2×2 max from conv rows r0, r1 (2·wo cells each used; z
/// ends at `end`), L outputs per step; a short last step stores through a copy, so rows of any
/// length (7 and 14 in the reference net) stay in vectors. The pool takes the candidates in
/// its scan order with its rule `v > best || isnan(v)`; ReLU comes after the max, which gives the
/// same value (ReLU is monotone and keeps NaN) and the same cell wherever a gradient flows. code is
/// the chosen cell (0..3, row-major in the window), or no_gradient where ReLU's input was ≤ 0 or NaN;
/// picked is the conv output at the chosen cell, so backward's sums read it contiguously.
template <class Arch>
inline void normalise_pool_row(std::size_t wo, bool relu, const float* r0, const float* r1, const float* end,
                               float mean, float scale, float shift, float* y, std::uint8_t* code, float* picked) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t lanes = batch::size;
  const batch m(mean), s(scale), t(shift), zero(0.0f), none(static_cast<float>(no_gradient));
  alignas(64) float pad0[2 * lanes], pad1[2 * lanes], out[lanes], at[lanes], raw[lanes];
  for (std::size_t ox = 0; ox < wo; ox += lanes) {
    const std::size_t count = std::min(lanes, wo - ox);
    const float* a = r0 + 2 * ox;
    const float* b = r1 + 2 * ox;
    // A short step reads on into the following rows (its extra lanes are never stored); only at the
    // very end of z does it read a zero-padded copy instead.
    if (b + 2 * lanes > end) {
      std::fill(std::copy(a, a + 2 * count, pad0), pad0 + 2 * lanes, 0.0f);
      std::fill(std::copy(b, b + 2 * count, pad1), pad1 + 2 * lanes, 0.0f);
      a = pad0;
      b = pad1;
    }
    batch z0, z1, z2, z3;
    split_even_odd<Arch>(batch::load_unaligned(a), batch::load_unaligned(a + lanes), z0, z1);
    split_even_odd<Arch>(batch::load_unaligned(b), batch::load_unaligned(b + lanes), z2, z3);
    const batch v0 = kernels::fma(z0 - m, s, t), v1 = kernels::fma(z1 - m, s, t), v2 = kernels::fma(z2 - m, s, t),
                v3 = kernels::fma(z3 - m, s, t);
    batch best = v0, cell(0.0f), src = z0;
    const auto t1 = (v1 > best) | xsimd::isnan(v1);
    best = xsimd::select(t1, v1, best);
    cell = xsimd::select(t1, batch(1.0f), cell);
    src = xsimd::select(t1, z1, src);
    const auto t2 = (v2 > best) | xsimd::isnan(v2);
    best = xsimd::select(t2, v2, best);
    cell = xsimd::select(t2, batch(2.0f), cell);
    src = xsimd::select(t2, z2, src);
    const auto t3 = (v3 > best) | xsimd::isnan(v3);
    best = xsimd::select(t3, v3, best);
    cell = xsimd::select(t3, batch(3.0f), cell);
    src = xsimd::select(t3, z3, src);
    if (relu) {
      // ReLU passes gradient only where its input is > 0 (not at 0, not at NaN), as PyTorch.
      cell = xsimd::select(best > zero, cell, none);
      best = xsimd::select(best < zero, zero, best);
    }
    if (count == lanes) {
      best.store_unaligned(y + ox);
      src.store_unaligned(picked + ox);
    } else {
      best.store_aligned(out);
      std::copy(out, out + count, y + ox);
      src.store_aligned(raw);
      std::copy(raw, raw + count, picked + ox);
    }
    cell.store_aligned(at);
    for (std::size_t j = 0; j < count; ++j) code[ox + j] = static_cast<std::uint8_t>(at[j]);
  }
}

/// Σ g and Σ g·(src − mean) over one plane's outputs, g = dy where the code passes gradient, else 0;
/// src is the conv output each output came from. Float vector partials (a plane is a few hundred
/// outputs), returned in double.
template <class Arch>
inline void gradient_sums(std::size_t len, const float* dy, const std::uint8_t* code, const float* src, float mean,
                          double& sum_g, double& sum_gx) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t lanes = batch::size;
  const batch m(mean), none(static_cast<float>(no_gradient)), zero(0.0f);
  batch a(0.0f), q(0.0f);
  alignas(64) float codes[lanes];
  std::size_t o = 0;
  for (; o + lanes <= len; o += lanes) {
    for (std::size_t j = 0; j < lanes; ++j) codes[j] = code[o + j];
    const batch g = xsimd::select(batch::load_aligned(codes) == none, zero, batch::load_unaligned(dy + o));
    a += g;
    q = kernels::fma(g, batch::load_unaligned(src + o) - m, q);
  }
  float ts = 0.0f, tq = 0.0f;
  for (; o < len; ++o) {
    const float g = code[o] == no_gradient ? 0.0f : dy[o];
    ts += g;
    tq += g * (src[o] - mean);
  }
  sum_g += static_cast<double>(xsimd::hadd(a)) + static_cast<double>(ts);
  sum_gx += static_cast<double>(xsimd::hadd(q)) + static_cast<double>(tq);
}

/// Runs f(i, rank) for each item i in [0, count) — a plane, an image — over OpenMP threads when the work is
/// large enough (rank: the calling thread's index in the team, for per-thread scratch). Each item must be
/// computed alone, so results never depend on the thread count.
template <class F>
void for_each_item(std::size_t count, std::size_t work, F&& f) {
  [[maybe_unused]] const bool parallel = work >= epilogue_parallel_min;
  const auto items = static_cast<std::ptrdiff_t>(count);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (parallel)
  for (std::ptrdiff_t i = 0; i < items; ++i) f(static_cast<std::size_t>(i), static_cast<std::size_t>(omp_get_thread_num()));
#else
  for (std::ptrdiff_t i = 0; i < items; ++i) f(static_cast<std::size_t>(i), std::size_t{0});
#endif
}

/// The forward's per-channel normalisation y = (z − m')·scale + shift, m' the float batch mean, as
/// batch_norm_train_forward; also stores m' and the float biased variance (what backward reads).
/// Out of line, so every epilogue (NCHW, NHWC) gets bit-identical coefficients: inlined, GCC may contract
/// the double expressions into FMAs differently at each call site.
[[gnu::noinline]] inline void normalisation(std::size_t channels, const double* mean, const double* var,
                                            const float* gamma, const float* beta, float eps, float* batch_mean,
                                            float* batch_var, float* scale, float* shift) {
  for (std::size_t c = 0; c < channels; ++c) {
    const double inv_std = 1.0 / std::sqrt(var[c] + static_cast<double>(eps));
    const double ga = gamma ? static_cast<double>(gamma[c]) : 1.0;
    const double be = beta ? static_cast<double>(beta[c]) : 0.0;
    batch_mean[c] = static_cast<float>(mean[c]);
    batch_var[c] = static_cast<float>(var[c]);
    scale[c] = static_cast<float>(ga * inv_std);
    shift[c] = static_cast<float>(be - (mean[c] - static_cast<double>(batch_mean[c])) * ga * inv_std);
  }
}

/// The coefficients of the BatchNorm backward dz = a·g + b·(z − m) + k of one channel, from Σg and
/// Σg·(z − m) over its `count` values, as batch_norm_backward; accumulates dγ, dβ (skipped if nullptr).
/// Out of line for the same reason as normalisation.
struct gradient_coefficients {
  float a, b, k;
};
[[gnu::noinline]] inline gradient_coefficients backward_coefficients(double sum_g, double sum_gx, double count,
                                                                     float batch_var, float eps, float gamma,
                                                                     float* dgamma, float* dbeta) {
  const double inv_std = 1.0 / std::sqrt(static_cast<double>(batch_var) + static_cast<double>(eps));
  const double sum_g_xhat = sum_gx * inv_std;
  if (dbeta) *dbeta += static_cast<float>(sum_g);
  if (dgamma) *dgamma += static_cast<float>(sum_g_xhat);
  const double gi = static_cast<double>(gamma) * inv_std;
  return {static_cast<float>(gi), static_cast<float>(-gi / count * sum_g_xhat * inv_std),
          static_cast<float>(-gi / count * sum_g)};
}

/// Calls f(o, cell, g) for every output o of one plane, with the offset in the conv plane of the
/// cell o took its value from and the gradient g that flows to it (dy[o], or 0 where the code passes
/// none — then cell is any cell of the window). Branch-free: ReLU makes about half the codes
/// no_gradient at random, which a branch would mispredict.
template <class F>
inline void for_each_source(const batch_norm_relu_pool_geometry& g, const std::uint8_t* __restrict code,
                            const float* __restrict dy, F&& f) {
  if (!g.pool) {
    for (std::size_t o = 0; o < g.plane(); ++o) f(o, o, code[o] == no_gradient ? 0.0f : dy[o]);
    return;
  }
  const std::size_t wo = g.out_w();
  for (std::size_t oy = 0; oy < g.out_h(); ++oy) {
    for (std::size_t ox = 0; ox < wo; ++ox) {
      const std::size_t o = oy * wo + ox;
      const unsigned c = code[o] & 3u;  // no_gradient (4) → cell 0, with g = 0
      f(o, (2 * oy + (c >> 1u)) * g.width + 2 * ox + (c & 1u), code[o] == no_gradient ? 0.0f : dy[o]);
    }
  }
}

}  // namespace detail

/// Forward: with the batch mean and biased variance of z per channel (double, e.g. merged from the
/// conv epilogue's plane moments), y = [maxpool2×2](relu?((z − m)·γ/√(var+ε) + β)), evaluated exactly as
/// batch_norm_train_forward does, code[o] = the window cell y[o] came from (no_gradient when ReLU
/// zeroed it) and, with the pool, picked[o] = z at that cell. Planes run on OpenMP threads; each is
/// computed alone, so results never depend on the thread count. Requires: gamma, beta are C or both
/// nullptr; picked is N×C×out_plane when g.pool (else unused). Ensures: y, code, picked (N×C×out_plane),
/// batch_mean, batch_var (C, float, the values backward reads) overwritten.
template <class Arch = xsimd::default_arch>
void batch_norm_relu_pool_forward(const batch_norm_relu_pool_geometry& g, const float* z, const double* mean,
                                  const double* var, const float* gamma, const float* beta, float eps, float* y,
                                  std::uint8_t* code, float* picked, float* batch_mean, float* batch_var) {
  std::vector<float> scale(g.channels), shift(g.channels);
  detail::normalisation(g.channels, mean, var, gamma, beta, eps, batch_mean, batch_var, scale.data(), shift.data());
  const std::size_t plane = g.plane(), out_plane = g.out_plane(), wo = g.out_w();
  const float* const z_end = z + g.batch * g.channels * plane;
  detail::for_each_item(g.batch * g.channels, g.batch * g.channels * plane, [&](std::size_t p, std::size_t) {
    const std::size_t c = p % g.channels;
    const float m = batch_mean[c], s = scale[c], t = shift[c];
    const float* zp = z + p * plane;
    float* yp = y + p * out_plane;
    std::uint8_t* cp = code + p * out_plane;
    float* pp = g.pool ? picked + p * out_plane : nullptr;
    if (g.pool) {
      for (std::size_t oy = 0; oy < g.out_h(); ++oy) {
        const float* r0 = zp + 2 * oy * g.width;
        detail::normalise_pool_row<Arch>(wo, g.relu, r0, r0 + g.width, z_end, m, s, t, yp + oy * wo, cp + oy * wo,
                                         pp + oy * wo);
      }
    } else if (g.relu) {
      for (std::size_t i = 0; i < plane; ++i) {
        const float v = std::fma(zp[i] - m, s, t);
        yp[i] = detail::relu_of(v);
        cp[i] = static_cast<std::uint8_t>(v > 0.0f ? 0 : no_gradient);
      }
    } else {
      for (std::size_t i = 0; i < plane; ++i) yp[i] = std::fma(zp[i] - m, s, t), cp[i] = 0;
    }
  });
}

/// Backward through pool, ReLU and the batch-statistics BatchNorm: the BatchNorm's incoming gradient
/// is dy at each output's source cell (where its code passes gradient) and 0 elsewhere, so its sums
/// Σg and Σg·(z − m) visit only the outputs (reading picked), and dz = a·g + b·(z − m) + k per element
/// with a, b, k per channel in double, as batch_norm_backward. Channels run on OpenMP threads in a
/// fixed order. Requires: code, picked, batch_mean, batch_var from the forward on the same z.
/// Ensures: dz (N×C×H×W) overwritten; dgamma, dbeta accumulated (skipped if nullptr).
template <class Arch = xsimd::default_arch>
void batch_norm_relu_pool_backward(const batch_norm_relu_pool_geometry& g, const float* z, const float* gamma,
                                   const float* batch_mean, const float* batch_var, float eps, const float* dy,
                                   const std::uint8_t* code, const float* picked, float* dz, float* dgamma,
                                   float* dbeta, const fusenet::detail::batch_exchange* exchange = nullptr) {
  const std::size_t plane = g.plane(), out_plane = g.out_plane(), cs = g.channels * plane,
                    out_cs = g.channels * out_plane;
  // Each image's sums (image n, channel c: sums[2(n·C + c)], then Σg·(z − m)); dγ, dβ from this process's images
  // in the batch tree; in synchronized BatchNorm, every process's sums, added in global image order as below.
  std::vector<double> sums(2 * g.batch * g.channels), all;
  const std::size_t stride = 2 * g.channels;
  auto image_sums = [&](std::size_t c) {
    const float m = batch_mean[c];
    for (std::size_t n = 0; n < g.batch; ++n) {
      const std::size_t out_at = n * out_cs + c * out_plane;
      const float* src = g.pool ? picked + out_at : z + n * cs + c * plane;
      double* at = sums.data() + 2 * (n * g.channels + c);
      at[0] = 0.0, at[1] = 0.0;
      detail::gradient_sums<Arch>(out_plane, dy + out_at, code + out_at, src, m, at[0], at[1]);
    }
    detail::parameter_gradients(sums.data() + 2 * c, sums.data() + 2 * c + 1, stride, g.batch, batch_var[c], eps,
                                dgamma ? dgamma + c : nullptr, dbeta ? dbeta + c : nullptr);
  };
  if (exchange != nullptr) {
    detail::for_each_item(g.channels, g.batch * cs, [&](std::size_t c, std::size_t) { image_sums(c); });
    exchange->all(sums, all);
  }
  const double* const every = exchange != nullptr ? all.data() : sums.data();
  const std::size_t images = fusenet::detail::global_batch(exchange, g.batch);
  const double count = static_cast<double>(images * plane);
  detail::for_each_item(g.channels, g.batch * cs, [&](std::size_t c, std::size_t) {
    const float m = batch_mean[c];
    if (exchange == nullptr) image_sums(c);  // while the channel is in cache
    double sum_g = 0.0, sum_gx = 0.0;
    for (std::size_t n = 0; n < images; ++n)
      sum_g += every[2 * (n * g.channels + c)], sum_gx += every[2 * (n * g.channels + c) + 1];
    // named floats, not a structured binding: the lambda below captures them (clang 14 cannot capture bindings)
    const detail::gradient_coefficients co = detail::backward_coefficients(
        sum_g, sum_gx, count, batch_var[c], eps, gamma ? gamma[c] : 1.0f, nullptr, nullptr);
    const float a = co.a, b = co.b, k = co.k;
    for (std::size_t n = 0; n < g.batch; ++n) {
      const float* zp = z + n * cs + c * plane;
      float* dzp = dz + n * cs + c * plane;
      for (std::size_t i = 0; i < plane; ++i) dzp[i] = std::fma(b, zp[i] - m, k);
      const float* dyp = dy + n * out_cs + c * out_plane;
      const std::uint8_t* cp = code + n * out_cs + c * out_plane;
      // fma(a, 0, t) == t: cells that get no gradient keep the value the unfused backward gives them.
      detail::for_each_source(g, cp, dyp,
                              [&](std::size_t, std::size_t cell, float gr) { dzp[cell] = std::fma(a, gr, dzp[cell]); });
    }
  });
}

}  // namespace fusenet::kernels
