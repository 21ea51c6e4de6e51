// SPDX-License-Identifier: MIT
// Fused inference pointwise convolution (1×1, any stride, bias, optional ReLU) as a pixel GEMM in xsimd,
// bordered NHWC in and out.
#pragma once

// The computation, for output channel o and output pixel (y, x) (nn.Conv2d(Cin, Cout, 1, stride=S)):
//   out[o][y][x] = bias[o] + Σ_i w[o][i] · in[i][S·y][S·x],   Ho = (H − 1) / S + 1 (likewise Wo),
// then relu (NaN kept, as torch.relu) or nothing; as a residual block's last conv it may add the block's shortcut s
// after that (Shortcut = add_shortcut<Border, Relu>: y = relu(a + s) or a + s, s bordered NHWC with its own border).
//
// How it is fast: a 1×1 convolution is a GEMM of the batch's pixels (rows) by the weights. The direct kernel tiles
// pixels of one output row, so on the small maps of a network's last stages (4×4, 8×8) its tile is a row wide
// and most of the register file idles. Here a register tile holds Pixels output pixels taken anywhere in the
// batch, in order across rows and images, × Vectors blocks of V output channels, accumulators started at the bias;
// per input channel it loads Vectors weight vectors and broadcasts one value per pixel. When the input has no
// border and stride 1, the pixels of the whole batch are one dense [pixels][Cin] matrix and a tile's inputs lie at
// constant offsets from one pointer; otherwise each pixel of the tile gets its own pointer (the tile's last,
// partial one too, clamped to a real pixel and not stored).
// Blocking: pixels go in chunks of about 256 KB of input; within a chunk every channel block runs over all its
// tiles, so the chunk is reread from L2 and one block's weights (Cin · Vectors · V floats) stay in L1/L2.
// Threads: one team over (chunk, block) items; each item writes its own outputs, so the split never changes which
// code computes an output value.

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "fusenet/detail/direct_conv_tile.hpp"
#include "fusenet/kernels/conv_blocked.hpp"
#include "fusenet/kernels/fma.hpp"
#include "fusenet/kernels/nan_rules.hpp"
#include "fusenet/kernels/registers.hpp"

namespace fusenet::kernels {

/// A pointwise register tile: Vectors blocks of V output channels × Pixels output pixels.
template <std::size_t Vectors, std::size_t Pixels>
struct pointwise_tile {
  static constexpr std::size_t vectors = Vectors;
  static constexpr std::size_t pixels = Pixels;
};

/// The pointwise tile the kernel uses by default for Cout output channels on Arch (detail/direct_conv_tile.hpp).
template <std::size_t Cout, class Arch = xsimd::default_arch>
using default_pointwise_tile =
    pointwise_tile<fusenet::detail::pointwise_default_tile(Cout, xsimd::batch<float, Arch>::size,
                                                           vector_registers<Arch>)
                       .vectors,
                   fusenet::detail::pointwise_default_tile(Cout, xsimd::batch<float, Arch>::size,
                                                           vector_registers<Arch>)
                       .pixels>;

namespace detail {

/// An output pixel of a batch: image n, row y, column x.
struct batch_pixel {
  std::size_t n, y, x;
};

/// Where pixel p lies in a bordered-NHWC buffer of C channels (Image floats per image, Row per row, a border of
/// Border pixels), read at stride Step.
template <std::size_t Image, std::size_t Row, std::size_t C, std::size_t Border, std::size_t Step = 1>
constexpr std::size_t offset_of(batch_pixel p) {
  return p.n * Image + (Border + p.y * Step) * Row + (Border + p.x * Step) * C;
}

/// Where a tile's input pixels are: `dense` at a constant stride of Cin floats from `first` (a borderless,
/// stride-1 input), else one pointer per pixel.
template <std::size_t Pixels, bool Dense>
struct pointwise_inputs;
template <std::size_t Pixels>
struct pointwise_inputs<Pixels, true> {
  const float* first;
  template <std::size_t Cin>
  [[gnu::always_inline]] const float* at(std::size_t p) const { return first + p * Cin; }
};
template <std::size_t Pixels>
struct pointwise_inputs<Pixels, false> {
  const float* pixel[Pixels];
  template <std::size_t Cin>
  [[gnu::always_inline]] const float* at(std::size_t p) const { return pixel[p]; }
};

/// Runs one tile over all Cin input channels for the Vectors · V output channels whose packed weights start at
/// `w`: accumulators start at the bias, ReLU (if Relu) before the store, then the shortcut's value at res[p]
/// (Shortcut::add), and only the first `count` pixels are stored, at out[p].
template <class Vec, std::size_t Cin, std::size_t Vectors, std::size_t Pixels, bool Relu, class Shortcut,
          class Inputs>
[[gnu::always_inline]] inline void pointwise_run_tile(const Inputs& in, const float* w, const float* bias,
                                                      float* const* out, const float* const* res, std::size_t count) {
  constexpr std::size_t v = Vec::size, w_block = Cin * v;
  Vec acc[Pixels][Vectors];
#pragma GCC unroll 8
  for (std::size_t q = 0; q < Vectors; ++q) {
    const Vec b = Vec::load_unaligned(bias + q * v);
#pragma GCC unroll 16
    for (std::size_t p = 0; p < Pixels; ++p) acc[p][q] = b;
  }
#pragma GCC unroll 4
  for (std::size_t i = 0; i < Cin; ++i) {
    Vec wv[Vectors];
#pragma GCC unroll 8
    for (std::size_t q = 0; q < Vectors; ++q) wv[q] = Vec::load_aligned(w + q * w_block + i * v);
#pragma GCC unroll 16
    for (std::size_t p = 0; p < Pixels; ++p) {
      const Vec x(in.template at<Cin>(p)[i]);
#pragma GCC unroll 8
      for (std::size_t q = 0; q < Vectors; ++q) acc[p][q] = kernels::fma(wv[q], x, acc[p][q]);
    }
  }
#pragma GCC unroll 16
  for (std::size_t p = 0; p < Pixels; ++p) {
    if (p >= count) break;
#pragma GCC unroll 8
    for (std::size_t q = 0; q < Vectors; ++q) {
      Vec a = acc[p][q];
      if constexpr (Relu) a = relu_keep_nan(a);
      if constexpr (Shortcut::add) a = with_shortcut<Shortcut>(a, res[p] + q * v);
      a.store_unaligned(out[p] + q * v);
    }
  }
}

}  // namespace detail

/// Fused 1×1 conv with stride Stride + bias + activation (act_none / act_relu) as a pixel GEMM, with an explicit
/// tile. Requires: `in` is bordered NHWC [batch][H+2B][W+2B][Cin] with B = InBorder (its border is not read);
/// `packed_w` comes from pack_conv_weights<Cin, Cout, 1, Arch> and is aligned to V floats; `bias` has Cout floats;
/// `out` holds batch · nhwc_image_size<Cout, Ho, Wo, OutBorder> floats, Ho = (H − 1) / Stride + 1 (likewise Wo).
/// Ensures: `out` is bordered NHWC with a zero border of OutBorder pixels, ready for the next stage.
/// With Shortcut = add_shortcut<B, Relu>, `shortcut` holds n images of bordered NHWC Cout×Ho×Wo with a zero border
/// of B pixels, added after the activation (then ReLU when Relu): a residual block's last conv.
template <class Tile, std::size_t Stride, std::size_t InBorder, std::size_t Cin, std::size_t Cout, std::size_t H,
          std::size_t W, class Act, std::size_t OutBorder, class Arch = xsimd::default_arch,
          class Shortcut = no_shortcut>
inline void pointwise_conv_bias_relu_tiled(const float* in, const float* packed_w, const float* bias, float* out,
                                           std::size_t batch, const float* shortcut = nullptr) {
  using geo = detail::conv_geometry<Cin, Cout, H, W, 1, 0, 1, OutBorder, Arch, Stride, InBorder>;
  using vec = typename geo::vec;
  constexpr std::size_t v = geo::v, nv = Tile::vectors, np = Tile::pixels;
  static_assert(Cout % v == 0,
                "fusenet: pointwise conv kernel: output channels must be a multiple of the SIMD width in floats "
                "(16 with AVX-512, 8 with AVX2, 4 with SSE)");
  static_assert(Stride >= 1, "fusenet: pointwise conv kernel: the stride must be at least 1");
  static_assert(nv > 0 && (Cout / v) % nv == 0,
                "fusenet: pointwise conv kernel: tile vectors must divide the output channels in SIMD vectors");
  static_assert(np > 0 && nv * np + nv + 1 <= vector_registers<Arch>,
                "fusenet: pointwise conv kernel: the register tile (accumulators + weight vectors + 1 broadcast) "
                "does not fit the vector register file and would spill; choose fewer vectors or pixels");
  static_assert(std::is_same_v<Act, act_relu> || std::is_same_v<Act, act_none>,
                "fusenet: pointwise conv kernel: Act must be act_relu or act_none");
  assert(reinterpret_cast<std::uintptr_t>(packed_w) % (v * sizeof(float)) == 0);
  assert(!Shortcut::add || shortcut != nullptr);
  constexpr bool relu = std::is_same_v<Act, act_relu>;
  // A borderless stride-1 input is one dense [pixels][Cin] matrix over the whole batch.
  constexpr bool dense = InBorder == 0 && Stride == 1;
  constexpr std::size_t image_pixels = geo::ho * geo::wo, blocks = Cout / (v * nv);
  constexpr std::size_t chunk_tiles = std::max<std::size_t>(1, (std::size_t{256} << 10) / (np * Cin * sizeof(float)));
  constexpr std::size_t chunk_pixels = chunk_tiles * np;

  const std::size_t pixels = batch * image_pixels;
  const std::size_t chunks = (pixels + chunk_pixels - 1) / chunk_pixels;
  const auto work = static_cast<std::ptrdiff_t>(chunks * blocks);
  // output pixel g of the batch, g = (n · Ho + y) · Wo + x
  const auto pixel_of = [](std::size_t g) {
    const std::size_t r = g % image_pixels;
    return detail::batch_pixel{g / image_pixels, r / geo::wo, r % geo::wo};
  };
  constexpr std::size_t sb = Shortcut::border, s_row = (geo::wo + 2 * sb) * Cout, s_image = (geo::ho + 2 * sb) * s_row;
  const auto input_at = [in, pixel_of](std::size_t g) {
    return in + detail::offset_of<geo::in_image, geo::in_row, Cin, InBorder, Stride>(pixel_of(g));
  };
#ifdef _OPENMP
#pragma omp parallel if (work > 1)
#endif
  {
    if constexpr (OutBorder > 0) {
      const auto n_total = static_cast<std::ptrdiff_t>(batch);
#ifdef _OPENMP
#pragma omp for schedule(static) nowait
#endif
      for (std::ptrdiff_t n = 0; n < n_total; ++n)
        detail::conv_zero_border<geo>(out + static_cast<std::size_t>(n) * geo::out_image);
    }
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (std::ptrdiff_t item = 0; item < work; ++item) {
      const auto u = static_cast<std::size_t>(item);
      const std::size_t chunk = u / blocks, first_vector = u % blocks * nv;
      const float* w = packed_w + first_vector * Cin * v;
      const float* b = bias + first_vector * v;
      const std::size_t end = std::min(pixels, (chunk + 1) * chunk_pixels);
      for (std::size_t g = chunk * chunk_pixels; g < end; g += np) {
        const std::size_t count = std::min(np, end - g);
        float* o[np];
        const float* s[Shortcut::add ? np : 1] = {};
        for (std::size_t p = 0; p < np; ++p) {
          const detail::batch_pixel px = pixel_of(g + std::min(p, count - 1));
          o[p] = out + detail::offset_of<geo::out_image, geo::out_row, Cout, OutBorder>(px) + first_vector * v;
          if constexpr (Shortcut::add)
            s[p] = shortcut + detail::offset_of<s_image, s_row, Cout, sb>(px) + first_vector * v;
        }
        if constexpr (dense) {
          if (count == np) {
            detail::pointwise_run_tile<vec, Cin, nv, np, relu, Shortcut>(
                detail::pointwise_inputs<np, true>{input_at(g)}, w, b, o, s, count);
            continue;
          }
        }
        detail::pointwise_inputs<np, false> ins;
        for (std::size_t p = 0; p < np; ++p) ins.pixel[p] = input_at(g + std::min(p, count - 1));
        detail::pointwise_run_tile<vec, Cin, nv, np, relu, Shortcut>(ins, w, b, o, s, count);
      }
    }
  }
}

/// pointwise_conv_bias_relu_tiled with the default tile. Requires / Ensures: as there.
template <std::size_t Stride, std::size_t InBorder, std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W,
          class Act, std::size_t OutBorder, class Arch = xsimd::default_arch, class Shortcut = no_shortcut>
inline void pointwise_conv_bias_relu(const float* in, const float* packed_w, const float* bias, float* out,
                                     std::size_t batch, const float* shortcut = nullptr) {
  pointwise_conv_bias_relu_tiled<default_pointwise_tile<Cout, Arch>, Stride, InBorder, Cin, Cout, H, W, Act, OutBorder,
                                 Arch, Shortcut>(in, packed_w, bias, out, batch, shortcut);
}

}  // namespace fusenet::kernels
