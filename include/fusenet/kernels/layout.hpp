// SPDX-License-Identifier: MIT
// Memory layouts of the direct convolution kernels and the helpers that convert PyTorch tensors into them.
#pragma once

// Layouts (all float32, C order, the batch N is the only runtime size):
//
// * Activations, "bordered NHWC": [N][H + 2*B][W + 2*B][C], where B is the zero border the *consuming*
//   convolution needs (its padding). The producing stage writes the border, so the convolution loops read
//   the taps that fall outside the image as zeros and never test a boundary. C is the channel count itself
//   (no channel padding); one pixel's channels are contiguous, which makes the per-tap reduction over input
//   channels a contiguous walk and the store of a pixel's output channels one vector store per SIMD width.
//
// * Packed weights: [Cout / V][KH][KW][Cin][V], V = xsimd::batch<float, Arch>::size. One block holds V
//   output channels, so one aligned load yields the V weights of one tap and one input channel for the V
//   output channels held in the lanes of an accumulator. The buffer must be aligned to V floats.
//   A PyTorch weight is [Cout][Cin][KH][KW]; BatchNorm is folded by the caller before packing.
//
// * Bias: Cout floats, in PyTorch order (no repacking).

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "fusenet/kernels/threads.hpp"

namespace fusenet::kernels {

/// Allocator returning memory aligned to Alignment bytes, so packed weights and activations allow aligned loads.
template <class T, std::size_t Alignment = 64>
struct aligned_allocator {
  static_assert(Alignment >= alignof(T) && (Alignment & (Alignment - 1)) == 0,
                "fusenet: aligned_allocator: Alignment must be a power of two at least alignof(T)");
  using value_type = T;
  /// Rebinding keeps the alignment (std::allocator_traits needs this for the non-type parameter).
  template <class U>
  struct rebind {
    using other = aligned_allocator<U, Alignment>;
  };
  aligned_allocator() noexcept = default;
  /// Converting constructor required by the allocator requirements.
  template <class U>
  constexpr aligned_allocator(const aligned_allocator<U, Alignment>&) noexcept {}
  /// Allocates n objects' worth of uninitialised storage aligned to Alignment.
  [[nodiscard]] T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{Alignment}));
  }
  /// Releases storage obtained from allocate.
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t{Alignment}); }
  /// All instances are interchangeable.
  template <class U>
  constexpr bool operator==(const aligned_allocator<U, Alignment>&) const noexcept {
    return true;
  }
};

/// A std::vector whose data is 64-byte aligned (one cache line, one AVX-512 vector).
template <class T>
using aligned_vector = std::vector<T, aligned_allocator<T, 64>>;

/// Floats per image of a bordered-NHWC activation with C channels, an H×W map and a zero border of Border pixels.
template <std::size_t C, std::size_t H, std::size_t W, std::size_t Border>
inline constexpr std::size_t nhwc_image_size = (H + 2 * Border) * (W + 2 * Border) * C;

/// Floats of the packed weights of a Cout×Cin×K×K convolution (the same for every vector width V).
template <std::size_t Cin, std::size_t Cout, std::size_t K>
inline constexpr std::size_t packed_weights_size = Cout * K * K * Cin;

/// Repacks a PyTorch conv weight [Cout][Cin][K][K] into the kernel layout [Cout/V][K][K][Cin][V].
/// Requires: Cout is a multiple of V = xsimd::batch<float, Arch>::size; `packed` holds
/// packed_weights_size<Cin, Cout, K> floats.
template <std::size_t Cin, std::size_t Cout, std::size_t K, class Arch = xsimd::default_arch>
inline void pack_conv_weights(const float* oikk, float* packed) {
  constexpr std::size_t v = xsimd::batch<float, Arch>::size;
  static_assert(Cout % v == 0,
                "fusenet: conv kernel: output channels must be a multiple of the SIMD width in floats");
  for (std::size_t co = 0; co < Cout; ++co) {
    const std::size_t block = co / v, lane = co % v;
    for (std::size_t ci = 0; ci < Cin; ++ci)
      for (std::size_t ky = 0; ky < K; ++ky)
        for (std::size_t kx = 0; kx < K; ++kx)
          packed[(((block * K + ky) * K + kx) * Cin + ci) * v + lane] = oikk[((co * Cin + ci) * K + ky) * K + kx];
  }
}

namespace detail {

/// Floats of an NCHW image past which a layout conversion walks in tiles: below (an image in L1, 32 channels on
/// 14×14 in training) the plain walk over each channel plane with compile-time trip counts is faster.
inline constexpr std::size_t layout_tiled_floats = std::size_t{1} << 13;

/// Pixels of one row a tiled conversion moves at a time: 16 pixels × C channels of the NHWC side and 16 floats of
/// each NCHW channel plane stay in L1 together, where the plane walk strides the NHWC image C times (64 channels
/// on 56×56: 0.36 ms against 0.07 ms per image on a full-width AVX-512 Xeon).
inline constexpr std::size_t layout_tile = 16;

}  // namespace detail

/// Converts an NCHW batch [N][C][H][W] into bordered NHWC [N][H+2B][W+2B][C], writing the zero border.
template <std::size_t C, std::size_t H, std::size_t W, std::size_t Border>
inline void nchw_to_nhwc(const float* nchw, float* nhwc, std::size_t batch) {
  constexpr std::size_t wp = W + 2 * Border;
  constexpr std::size_t image = nhwc_image_size<C, H, W, Border>, tile = detail::layout_tile;
  detail::for_each_image(batch, image, [&](std::size_t n) {
    float* dst = nhwc + n * image;
    // zero only the border: top and bottom rows, then each row's left and right pixels
    std::fill(dst, dst + Border * wp * C, 0.0f);
    std::fill(dst + (H + Border) * wp * C, dst + image, 0.0f);
    for (std::size_t y = Border; y < H + Border; ++y) {
      std::fill(dst + y * wp * C, dst + (y * wp + Border) * C, 0.0f);
      std::fill(dst + (y * wp + W + Border) * C, dst + (y + 1) * wp * C, 0.0f);
    }
    const float* src = nchw + n * C * H * W;
    if constexpr (C * H * W < detail::layout_tiled_floats) {
      for (std::size_t c = 0; c < C; ++c)
        for (std::size_t y = 0; y < H; ++y)
          for (std::size_t x = 0; x < W; ++x) dst[((y + Border) * wp + x + Border) * C + c] = src[(c * H + y) * W + x];
    } else {
      for (std::size_t y = 0; y < H; ++y)
        for (std::size_t x0 = 0; x0 < W; x0 += tile) {
          const std::size_t xn = std::min(tile, W - x0);
          float* d = dst + ((y + Border) * wp + x0 + Border) * C;
          for (std::size_t c = 0; c < C; ++c) {
            const float* sp = src + (c * H + y) * W + x0;
            for (std::size_t x = 0; x < xn; ++x) d[x * C + c] = sp[x];
          }
        }
    }
  });
}

/// Converts bordered NHWC [N][H+2B][W+2B][C] back to NCHW [N][C][H][W], dropping the border
/// (also the flatten order PyTorch uses before a dense layer: C, then H, then W).
template <std::size_t C, std::size_t H, std::size_t W, std::size_t Border>
inline void nhwc_to_nchw(const float* nhwc, float* nchw, std::size_t batch) {
  constexpr std::size_t wp = W + 2 * Border;
  constexpr std::size_t image = nhwc_image_size<C, H, W, Border>, tile = detail::layout_tile;
  detail::for_each_image(batch, image, [&](std::size_t n) {
    const float* src = nhwc + n * image;
    float* dst = nchw + n * C * H * W;
    if constexpr (C * H * W < detail::layout_tiled_floats) {
      for (std::size_t c = 0; c < C; ++c)
        for (std::size_t y = 0; y < H; ++y)
          for (std::size_t x = 0; x < W; ++x) dst[(c * H + y) * W + x] = src[((y + Border) * wp + x + Border) * C + c];
    } else {
      for (std::size_t y = 0; y < H; ++y)
        for (std::size_t x0 = 0; x0 < W; x0 += tile) {
          const std::size_t xn = std::min(tile, W - x0);
          const float* sp = src + ((y + Border) * wp + x0 + Border) * C;
          for (std::size_t c = 0; c < C; ++c) {
            float* d = dst + (c * H + y) * W + x0;
            for (std::size_t x = 0; x < xn; ++x) d[x] = sp[x * C + c];
          }
        }
    }
  });
}

}  // namespace fusenet::kernels
