// SPDX-License-Identifier: MIT
// The register tile and scratch of the pixel-lane convolution kernel (kernels/pixel_conv.hpp), as plain constexpr
// arithmetic: the kernel picks its tile with it and the plan sizes the stage's scratch with it, so both agree.
#pragma once

#include <cstddef>

namespace fusenet::detail {

/// A pixel-lane register tile: `channels` output channels × `vectors` vectors of output pixels of one row
/// (channels 0: no tile fits).
struct pixel_tile_choice {
  std::size_t channels = 0, vectors = 0;
};

/// Registers a pixel-lane tile needs: an accumulator per channel, pixel vector and pool offset (pool² of them,
/// reduced in the epilogue), the pixel vectors of one input load, one broadcast weight.
constexpr std::size_t pixel_tile_registers(std::size_t channels, std::size_t vectors, std::size_t pool) {
  return pool * pool * channels * vectors + vectors + 1;
}

/// The default tile for Cout output channels on pooled output rows `wpo` pixels wide: every channel at once
/// (each input load then feeds Cout FMAs) with as many pixel vectors as fit, up to 4 and the row's width; when
/// not even one pixel vector of every channel fits, channel blocks of one pixel vector.
constexpr pixel_tile_choice pixel_default_tile(std::size_t cout, std::size_t wpo, std::size_t pool, std::size_t v,
                                               std::size_t registers) {
  if (v == 0 || cout == 0 || wpo == 0 || pool == 0) return {};
  std::size_t nv = (wpo + v - 1) / v;
  if (nv > 4) nv = 4;
  while (nv > 0 && pixel_tile_registers(cout, nv, pool) > registers) --nv;
  if (nv > 0) return {cout, nv};
  if (registers < 2 + pool * pool) return {};
  const std::size_t cb = (registers - 2) / (pool * pool);
  return {cb < cout ? cb : cout, 1};
}

/// The pixel-lane kernel's input scratch, per image: each zero-padded input row split into its Pool·Stride column
/// phases (phase p holds padded columns p, p + step, p + 2·step, …), so that the taps of consecutive output pixels
/// are consecutive floats; each phase row long enough for the loads of the tile's last pixel vectors past the
/// row's end (their lanes are dropped), for a tile of `tile_pixels` output pixels.
struct pixel_scratch_shape {
  std::size_t step = 0, rows = 0, row_floats = 0;
  constexpr std::size_t image_floats(std::size_t cin) const { return cin * rows * step * row_floats; }
};

constexpr pixel_scratch_shape pixel_scratch(std::size_t h, std::size_t w, std::size_t k, std::size_t stride,
                                            std::size_t pad, std::size_t pool, std::size_t tile_pixels) {
  if (stride == 0 || pool == 0 || tile_pixels == 0 || k > w + 2 * pad || k > h + 2 * pad) return {};
  const std::size_t step = pool * stride, wp = w + 2 * pad;
  const std::size_t wpo = ((wp - k) / stride + 1) / pool;
  const std::size_t tiles = (wpo + tile_pixels - 1) / tile_pixels;
  const std::size_t reach = tiles * tile_pixels + ((pool - 1) * stride + k - 1) / step;  // the last load's end
  const std::size_t data = (wp + step - 1) / step;
  return {step, h + 2 * pad, reach > data ? reach : data};
}

/// Floats of the pixel-lane kernel's scratch per image for a Cin-channel H×W input on a target with vector width
/// v and `registers` vector registers (0 when its default tile does not fit).
constexpr std::size_t pixel_conv_scratch_floats(std::size_t cin, std::size_t cout, std::size_t h, std::size_t w,
                                                std::size_t k, std::size_t stride, std::size_t pad, std::size_t pool,
                                                std::size_t v, std::size_t registers) {
  if (stride == 0 || pool == 0 || k > w + 2 * pad || k > h + 2 * pad) return 0;
  const std::size_t wpo = ((w + 2 * pad - k) / stride + 1) / pool;
  const pixel_tile_choice t = pixel_default_tile(cout, wpo, pool, v, registers);
  if (t.channels == 0) return 0;
  return pixel_scratch(h, w, k, stride, pad, pool, t.vectors * v).image_floats(cin);
}

}  // namespace fusenet::detail
