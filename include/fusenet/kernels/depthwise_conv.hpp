// SPDX-License-Identifier: MIT
// Fused inference depthwise convolution (groups == channels, bias, optional ReLU) in xsimd, bordered NHWC in and out.
#pragma once

// The computation, for channel c and output pixel (y, x) (nn.Conv2d(C, C, K, stride=S, padding=P, groups=C)):
//   out[c][y][x] = bias[c] + Σ_{ky,kx} w[c][0][ky][kx] · in[c][S·y + ky − P][S·x + kx − P]
//   Ho = (H + 2·P − K) / S + 1 (likewise Wo); taps outside the map read 0 (PyTorch zero padding),
// then relu (NaN kept, as torch.relu) or nothing. The input carries a zero border of P pixels, so no tap branches.
//
// How it is fast: channels in the vector lanes, so one vector load yields V channels of one pixel and every
// multiply-add is a full-width FMA with no shuffles. Depthwise has K·K multiply-adds per output value and no
// reduction over input channels, so a naive loop does one input load per FMA and is load-bound. The register tile
// holds Cols output pixels of one row × Vectors channel vectors; per kernel row ky and channel vector it loads the
// K weights once, then loads each input pixel of the row segment once and adds it into every output pixel of the
// tile it reaches (with stride S, input column i feeds output column c through tap kx = i − S·c). That is
// (Cols−1)·S + K input loads for Cols·K FMAs, and the accumulators (started at the bias) stay in registers until
// the ReLU and one store per pixel vector. With that, an L1-resident map runs at ≈ 70 % of the FMA peak and the
// bench shapes at batch 1 (L2-resident) at the L2 bandwidth, ≈ 50–60 GB/s of input + output with stride 1 on a
// full-width AVX-512 Xeon (bench/conv_bench.cpp); batch 64 streams from memory.
// Threads: one team, over images when there are at least as many as threads, else over (image, channel panel,
// output row) items; never nested. The split never changes which code computes an output value.

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "fusenet/kernels/conv_blocked.hpp"
#include "fusenet/detail/direct_conv_tile.hpp"
#include "fusenet/kernels/fma.hpp"
#include "fusenet/kernels/layout.hpp"
#include "fusenet/kernels/registers.hpp"
#include "fusenet/kernels/threads.hpp"


namespace fusenet::kernels {

/// Whether C channels fill whole SIMD vectors of Arch, which the channels-in-lanes depthwise kernel requires.
template <std::size_t C, class Arch = xsimd::default_arch>
inline constexpr bool depthwise_fits_vectors = C % xsimd::batch<float, Arch>::size == 0;

/// Floats of the packed weights of a depthwise C×1×K×K convolution ([K][K][C], the same for every vector width).
template <std::size_t C, std::size_t K>
inline constexpr std::size_t depthwise_packed_size = K * K * C;

/// Repacks a PyTorch depthwise weight [C][1][K][K] into the kernel layout [K][K][C] (one tap's channels contiguous).
/// Requires: `packed` holds depthwise_packed_size<C, K> floats and, for the kernel, is aligned to the vector width.
template <std::size_t C, std::size_t K>
inline void pack_depthwise_weights(const float* ckk, float* packed) {
  for (std::size_t c = 0; c < C; ++c)
    for (std::size_t ky = 0; ky < K; ++ky)
      for (std::size_t kx = 0; kx < K; ++kx) packed[(ky * K + kx) * C + c] = ckk[(c * K + ky) * K + kx];
}

/// A depthwise register tile: Vectors channel vectors times Cols output pixels of one row.
template <std::size_t Vectors, std::size_t Cols>
struct depthwise_tile {
  /// Channel vectors held per pixel.
  static constexpr std::size_t vectors = Vectors;
  /// Output columns per tile (the last tile of a row may be narrower).
  static constexpr std::size_t cols = Cols;
};

using fusenet::detail::depthwise_tile_registers;  // the rule the plan reads too

/// Whether Tile keeps its accumulators and live vectors in Arch's register file for a K×K kernel (else it spills).
template <class Tile, std::size_t K, class Arch = xsimd::default_arch>
inline constexpr bool depthwise_tile_fits =
    Tile::vectors > 0 && Tile::cols > 0 &&
    depthwise_tile_registers(Tile::vectors, Tile::cols, K) <= vector_registers<Arch>;

namespace detail {

/// The compile-time geometry of one fused depthwise stage. Member names follow conv_geometry, so that
/// conv_zero_border serves both.
template <std::size_t C, std::size_t H, std::size_t W, std::size_t K, std::size_t Stride, std::size_t Pad,
          std::size_t OutBorder, class Arch>
struct depthwise_geometry {
  using vec = xsimd::batch<float, Arch>;
  static constexpr std::size_t v = vec::size;
  static constexpr std::size_t c = C, cout = C, k = K, s = Stride;
  // out = (in + 2·pad − k) / stride + 1 (only meaningful when k ≤ in + 2·pad, which the kernel checks)
  static constexpr std::size_t ho = K <= H + 2 * Pad ? (H + 2 * Pad - K) / Stride + 1 : 0;
  static constexpr std::size_t wo = K <= W + 2 * Pad ? (W + 2 * Pad - K) / Stride + 1 : 0;
  static constexpr std::size_t in_row = (W + 2 * Pad) * C;
  static constexpr std::size_t in_image = (H + 2 * Pad) * in_row;
  static constexpr std::size_t out_border = OutBorder;
  static constexpr std::size_t out_row = (wo + 2 * OutBorder) * C;
  static constexpr std::size_t out_image = (ho + 2 * OutBorder) * out_row;
};

// Tile heuristic (measured with bench/conv_bench.cpp; at batch 1 every shape there is bound by L2 bandwidth, so
// tiles differ by about 10 %). Columns: the row split into equal tiles of at most 14 (wider tiles gain < 2 % input
// reuse and measured slower: 1×28 at 115 vs 1×14 at 124–131 GFLOP/s on 32 ch 56²). Channel vectors: the most of
// 4, 2, 1 that divide the channel vectors and keep the accumulators within the register budget; more vectors per
// tile never measured slower and helped stride 2 (2×14 at 77 vs 1×14 at 72 GFLOP/s on 64 ch 56² s2).
inline constexpr std::size_t depthwise_max_cols = 14;

template <class Geo, class Arch>
constexpr std::size_t pick_depthwise_cols() {
  constexpr std::size_t regs = vector_registers<Arch>;
  const std::size_t fixed = depthwise_tile_registers(1, 0, Geo::k);
  if (fixed >= regs || Geo::wo == 0) return 0;
  const std::size_t max_cols = std::min({regs - fixed, depthwise_max_cols, Geo::wo});
  const std::size_t tiles = (Geo::wo + max_cols - 1) / max_cols;
  return (Geo::wo + tiles - 1) / tiles;
}

template <class Geo, class Arch>
constexpr std::size_t pick_depthwise_vectors(std::size_t cols) {
  std::size_t nv = 4;
  while (nv > 1 && ((Geo::c / Geo::v) % nv != 0 ||
                    depthwise_tile_registers(nv, cols, Geo::k) > vector_registers<Arch>))
    nv /= 2;
  return nv;
}

template <class Geo, class Arch>
struct default_depthwise_tile {
  static constexpr std::size_t cols = pick_depthwise_cols<Geo, Arch>();
  using type = depthwise_tile<pick_depthwise_vectors<Geo, Arch>(cols), cols>;
};

/// relu(a) with NaN kept in one instruction on x86: MAXPS returns its second operand when either operand is NaN,
/// so max(0, a) is a for NaN (torch.relu keeps NaN) and for a > 0, else 0 (for a = −0 it gives −0, which compares
/// equal to torch's 0). relu_keep_nan's compare + select takes four vector ops on the FMA ports; on L1-resident
/// maps that cost 15 % of the throughput (121 vs 142 GFLOP/s, 16 ch 14²). Elsewhere (no x86 MAXPS rule)
/// relu_keep_nan is used.
template <class Arch>
[[gnu::always_inline]] inline xsimd::batch<float, Arch> relu_one_op(const xsimd::batch<float, Arch>& a) {
  using vec = xsimd::batch<float, Arch>;
#if defined(__AVX512F__)
  // Not xsimd::max here: _mm512_max_ps passes _mm512_undefined_ps, which GCC 12 reports as used uninitialised
  // (GCC bug 105593) under -Werror; the zero-masked form with a full mask is the same single VMAXPS.
  if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>)
    return _mm512_maskz_max_ps(static_cast<__mmask16>(0xFFFF), vec(0.0f), a);
#endif
#if defined(__SSE2__)
  return xsimd::max(vec(0.0f), a);
#else
  return relu_keep_nan(a);
#endif
}

/// Accumulates one tile (Cols output pixels of one row, Vectors channel vectors) and stores it after the epilogue.
/// `in` is the bordered input at the tile's top-left tap and first channel, `w` the packed weights at the first
/// channel, `bias` the bias at the first channel, `out` the first output pixel's first channel.
template <class Geo, std::size_t Vectors, std::size_t Cols, class Act>
[[gnu::always_inline]] inline void depthwise_run_tile(const float* in, const float* w, const float* bias,
                                                      float* out) {
  using vec = typename Geo::vec;
  constexpr std::size_t v = Geo::v, c = Geo::c, k = Geo::k, s = Geo::s;
  constexpr std::size_t span = (Cols - 1) * s + k;  // input columns the tile reads per kernel row
  vec acc[Cols][Vectors];
#pragma GCC unroll 8
  for (std::size_t q = 0; q < Vectors; ++q) {
    const vec b = vec::load_unaligned(bias + q * v);
#pragma GCC unroll 64
    for (std::size_t col = 0; col < Cols; ++col) acc[col][q] = b;
  }
  // Each output value receives its taps in the order ky, then kx, whatever the tile: the result does not depend
  // on the tile width, the thread split or which tile (full or tail) computes it.
#pragma GCC unroll 16
  for (std::size_t ky = 0; ky < k; ++ky) {
    const float* ip = in + ky * Geo::in_row;
#pragma GCC unroll 8
    for (std::size_t q = 0; q < Vectors; ++q) {
      vec wv[k];
#pragma GCC unroll 16
      for (std::size_t kx = 0; kx < k; ++kx) wv[kx] = vec::load_aligned(w + (ky * k + kx) * c + q * v);
      // Activation loads are unaligned loads: the model's buffers need not be aligned, and on aligned
      // addresses (C a multiple of V and an aligned buffer) VMOVUPS / an EVEX memory operand cost the same.
#pragma GCC unroll 128
      for (std::size_t i = 0; i < span; ++i) {
        const vec x = vec::load_unaligned(ip + i * c + q * v);
#pragma GCC unroll 16
        for (std::size_t kx = 0; kx < k; ++kx)
          if (i >= kx && (i - kx) % s == 0 && (i - kx) / s < Cols)
            acc[(i - kx) / s][q] = kernels::fma(wv[kx], x, acc[(i - kx) / s][q]);
      }
    }
  }
#pragma GCC unroll 64
  for (std::size_t col = 0; col < Cols; ++col)
#pragma GCC unroll 8
    for (std::size_t q = 0; q < Vectors; ++q) {
      vec a = acc[col][q];
      if constexpr (std::is_same_v<Act, act_relu>) a = relu_one_op(a);
      a.store_unaligned(out + col * c + q * v);
    }
}

/// One work item: output row `row` of one image for the Tile::vectors·V channels starting at block `block`.
template <class Geo, class Tile, class Act>
[[gnu::always_inline]] inline void depthwise_run_row(const float* in, const float* w, const float* bias, float* out,
                                                     std::size_t row, std::size_t block) {
  constexpr std::size_t nv = Tile::vectors, cols = Tile::cols, c = Geo::c, s = Geo::s;
  constexpr std::size_t full = Geo::wo / cols, tail = Geo::wo % cols;
  const std::size_t c0 = block * nv * Geo::v;
  const float* ib = in + row * s * Geo::in_row + c0;
  float* ob = out + (Geo::out_border + row) * Geo::out_row + Geo::out_border * c + c0;
  for (std::size_t t = 0; t < full; ++t)
    depthwise_run_tile<Geo, nv, cols, Act>(ib + t * cols * s * c, w + c0, bias + c0, ob + t * cols * c);
  if constexpr (tail > 0)
    depthwise_run_tile<Geo, nv, tail, Act>(ib + full * cols * s * c, w + c0, bias + c0, ob + full * cols * c);
}

/// Bytes of input rows a panel may keep in L1: half of Zen 4's 32 KiB, the rest for outputs and weights.
inline constexpr std::size_t depthwise_l1_budget = 16384;

/// How the channel blocks of a layer are grouped: a panel is as many blocks as let the K input rows one output row
/// reads (K·(W+2P)·blocks·Vectors·V floats) stay within depthwise_l1_budget, so that the next output rows reuse
/// them from L1; rows then run panel by panel. One panel when the whole rows fit: rows are then streamed in order,
/// which the hardware prefetchers follow best.
template <class Geo, class Tile>
struct depthwise_panels {
  static constexpr std::size_t blocks = Geo::c / (Geo::v * Tile::vectors);
  static constexpr std::size_t block_bytes = Geo::k * (Geo::in_row / Geo::c) * Tile::vectors * Geo::v * sizeof(float);
  static constexpr std::size_t per_panel = [] {
    std::size_t b = std::max<std::size_t>(1, std::min<std::size_t>(blocks, depthwise_l1_budget / block_bytes));
    while (blocks % b != 0) --b;
    return b;
  }();
  static constexpr std::size_t count = blocks / per_panel;
};

/// One work item: output row `row` of one image for the channel blocks of panel `panel`.
template <class Geo, class Tile, class Act>
inline void depthwise_run_panel_row(const float* in, const float* w, const float* bias, float* out, std::size_t row,
                                    std::size_t panel) {
  constexpr std::size_t per = depthwise_panels<Geo, Tile>::per_panel;
  for (std::size_t b = 0; b < per; ++b) depthwise_run_row<Geo, Tile, Act>(in, w, bias, out, row, panel * per + b);
}

/// One whole image: border, then panel by panel, row by row.
template <class Geo, class Tile, class Act>
inline void depthwise_run_image(const float* in, const float* w, const float* bias, float* out) {
  conv_zero_border<Geo>(out);
  for (std::size_t p = 0; p < depthwise_panels<Geo, Tile>::count; ++p)
    for (std::size_t row = 0; row < Geo::ho; ++row) depthwise_run_panel_row<Geo, Tile, Act>(in, w, bias, out, row, p);
}

/// The compile-time checks of the depthwise kernel on its geometry and tile.
template <class Tile, std::size_t C, std::size_t H, std::size_t W, std::size_t K, std::size_t Stride,
          std::size_t Pad, class Act, class Arch>
constexpr void check_depthwise() {
  static_assert(depthwise_fits_vectors<C, Arch>,
                "fusenet: depthwise conv kernel: channels must be a multiple of the SIMD width in floats "
                "(16 with AVX-512, 8 with AVX2, 4 with SSE)");
  static_assert(K >= 1 && Stride >= 1, "fusenet: depthwise conv kernel: kernel size and stride must be at least 1");
  static_assert(K <= H + 2 * Pad && K <= W + 2 * Pad,
                "fusenet: depthwise conv kernel: the kernel must fit the padded input");
  static_assert(std::is_same_v<Act, act_relu> || std::is_same_v<Act, act_none>,
                "fusenet: depthwise conv kernel: Act must be act_relu or act_none");
  static_assert(Tile::vectors > 0 && (C / xsimd::batch<float, Arch>::size) % Tile::vectors == 0,
                "fusenet: depthwise conv kernel: tile vectors must divide the channels in SIMD vectors");
  static_assert(depthwise_tile_fits<Tile, K, Arch>,
                "fusenet: depthwise conv kernel: the register tile (accumulators + K weights + 1 input) does not "
                "fit the vector register file and would spill; choose fewer vectors or columns");
}

}  // namespace detail

/// The register tile the depthwise kernel uses by default for these sizes on Arch.
template <std::size_t C, std::size_t H, std::size_t W, std::size_t K, std::size_t Stride, std::size_t Pad,
          class Arch = xsimd::default_arch>
using default_depthwise_tile = typename detail::default_depthwise_tile<
    detail::depthwise_geometry<C, H, W, K, Stride, Pad, 0, Arch>, Arch>::type;

/// Whether the depthwise kernel handles this geometry on Arch: whole channel vectors, the kernel fits the padded
/// input, and its default tile fits the register file.
template <std::size_t C, std::size_t H, std::size_t W, std::size_t K, std::size_t Stride, std::size_t Pad,
          class Arch = xsimd::default_arch>
inline constexpr bool depthwise_conv_supported =
    depthwise_fits_vectors<C, Arch> && K >= 1 && Stride >= 1 && K <= H + 2 * Pad && K <= W + 2 * Pad &&
    depthwise_tile_fits<default_depthwise_tile<C, H, W, K, Stride, Pad, Arch>, K, Arch>;

/// Fused depthwise conv K×K (stride Stride, zero padding Pad, groups = C) + bias + activation, with an explicit tile.
/// Requires: `in` is bordered NHWC [n][H+2Pad][W+2Pad][C] with a zero border; `packed_w` comes from
/// pack_depthwise_weights<C, K> and is aligned to V floats; `bias` has C floats; `out` holds
/// n · nhwc_image_size<C, Ho, Wo, OutBorder> floats, Ho = (H + 2Pad − K) / Stride + 1 (likewise Wo).
/// Ensures: `out` is bordered NHWC with a zero border of OutBorder pixels; the result does not depend on the
/// number of threads.
template <class Tile, std::size_t C, std::size_t H, std::size_t W, std::size_t K, std::size_t Stride,
          std::size_t Pad, class Act, std::size_t OutBorder, class Arch = xsimd::default_arch>
inline void depthwise_conv_bias_relu_tiled(const float* in, const float* packed_w, const float* bias, float* out,
                                           std::size_t n) {
  using geo = detail::depthwise_geometry<C, H, W, K, Stride, Pad, OutBorder, Arch>;
  detail::check_depthwise<Tile, C, H, W, K, Stride, Pad, Act, Arch>();
  assert(reinterpret_cast<std::uintptr_t>(packed_w) % (geo::v * sizeof(float)) == 0);
  constexpr std::size_t panels = detail::depthwise_panels<geo, Tile>::count, rows = geo::ho;
  const std::size_t items = n * panels * rows;
  const std::size_t team = detail::team_threads(items);
  if (team <= 1) {
    for (std::size_t i = 0; i < n; ++i)
      detail::depthwise_run_image<geo, Tile, Act>(in + i * geo::in_image, packed_w, bias, out + i * geo::out_image);
    return;
  }
#ifdef _OPENMP
  // Images when there are enough for every thread, else (image, channel block, row) items so that batch 1 uses
  // the whole team. Every output value is computed by the same code in either split: results are bit-identical.
  const bool by_image = n >= team;
  const auto images = static_cast<std::ptrdiff_t>(n), work = static_cast<std::ptrdiff_t>(items);
#pragma omp parallel num_threads(static_cast<int>(team))
  {
    if (by_image) {
#pragma omp for schedule(static)
      for (std::ptrdiff_t i = 0; i < images; ++i) {
        const auto u = static_cast<std::size_t>(i);
        detail::depthwise_run_image<geo, Tile, Act>(in + u * geo::in_image, packed_w, bias, out + u * geo::out_image);
      }
    } else {
#pragma omp for schedule(static) nowait
      for (std::ptrdiff_t i = 0; i < images; ++i)
        detail::conv_zero_border<geo>(out + static_cast<std::size_t>(i) * geo::out_image);
      // Items in image, panel, row order (as the one-thread loop), so each thread's rows reuse L1-resident inputs.
#pragma omp for schedule(static)
      for (std::ptrdiff_t item = 0; item < work; ++item) {
        const auto u = static_cast<std::size_t>(item);
        const std::size_t i = u / (panels * rows), p = u / rows % panels, row = u % rows;
        detail::depthwise_run_panel_row<geo, Tile, Act>(in + i * geo::in_image, packed_w, bias,
                                                        out + i * geo::out_image, row, p);
      }
    }
  }
#endif
}

/// Fused depthwise conv K×K (stride Stride, zero padding Pad, groups = C, channel multiplier 1) + bias + activation
/// (act_none / act_relu), bordered NHWC in and out, with the default tile.
/// Requires / Ensures: as depthwise_conv_bias_relu_tiled; depthwise_conv_supported<C, H, W, K, Stride, Pad, Arch>.
template <std::size_t C, std::size_t H, std::size_t W, std::size_t K, std::size_t Stride, std::size_t Pad, class Act,
          std::size_t OutBorder, class Arch = xsimd::default_arch>
inline void depthwise_conv_bias_relu(const float* in, const float* packed_w, const float* bias, float* out,
                                     std::size_t n) {
  depthwise_conv_bias_relu_tiled<default_depthwise_tile<C, H, W, K, Stride, Pad, Arch>, C, H, W, K, Stride, Pad, Act,
                                 OutBorder, Arch>(in, packed_w, bias, out, n);
}

}  // namespace fusenet::kernels
