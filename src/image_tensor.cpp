// SPDX-License-Identifier: MIT
// Channel conversion, bilinear resize and centre crop of decoded 8-bit images into C×H×W floats.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fusenet/data/image_tensor.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace fusenet::data {
namespace {

// Pixels with the requested channel count, still H×W×C bytes.
std::vector<std::uint8_t> convert_channels(const decoded_image& image, std::size_t channels) {
  const std::size_t n = image.info.width * image.info.height;
  if (image.info.channels == channels) return image.pixels;
  std::vector<std::uint8_t> out(n * channels);
  const std::uint8_t* p = image.pixels.data();
  if (channels == 3) {
    for (std::size_t i = 0; i < n; ++i) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = p[i];
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t l = (std::uint32_t{p[3 * i]} * 19595u + std::uint32_t{p[3 * i + 1]} * 38470u +
                               std::uint32_t{p[3 * i + 2]} * 7471u + 0x8000u) >> 16;
      out[i] = static_cast<std::uint8_t>(l);
    }
  }
  return out;
}

// torchvision's centre-crop offset int(round((size - target) / 2.0)); Python rounds halves to even.
// Negative when the image is smaller than the window: then it is the left/top zero padding, (target - size) // 2.
std::ptrdiff_t crop_offset(std::size_t size, std::size_t target) {
  if (size < target) return -static_cast<std::ptrdiff_t>((target - size) / 2);
  const std::size_t diff = size - target, half = diff / 2;
  if (diff % 2 == 0) return static_cast<std::ptrdiff_t>(half);
  return static_cast<std::ptrdiff_t>(half % 2 == 0 ? half : half + 1);  // half + 0.5 rounded to even
}

// One axis of PyTorch's bilinear sampling without align_corners: source coordinate (dst + 0.5) · in/out − 0.5,
// clamped at 0, the two neighbours and the weight of the upper one.
struct tap {
  std::size_t lo, hi;
  float weight;
};
std::vector<tap> bilinear_taps(std::size_t in, std::size_t out) {
  std::vector<tap> taps(out);
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (std::size_t d = 0; d < out; ++d) {
    const double src = std::max(0.0, (static_cast<double>(d) + 0.5) * scale - 0.5);
    const auto lo = std::min(static_cast<std::size_t>(src), in - 1);
    const std::size_t hi = std::min(lo + 1, in - 1);
    taps[d] = {lo, hi, static_cast<float>(src - static_cast<double>(lo))};
  }
  return taps;
}

}  // namespace

void to_tensor(const decoded_image& image, const image_format& format, std::span<float> out) {
  const std::size_t c = format.channels, h = format.height, w = format.width;
  if (c != 1 && c != 3)
    throw std::invalid_argument("fusenet: to_tensor: images have 1 (grey) or 3 (RGB) channels, not " +
                                std::to_string(c));
  if (out.size() != format.size())
    throw std::invalid_argument("fusenet: to_tensor: output holds " + std::to_string(out.size()) +
                                " floats, the format needs " + std::to_string(format.size()));
  const auto pixels = convert_channels(image, c);
  const std::size_t ih = image.info.height, iw = image.info.width;
  auto at = [&](std::size_t y, std::size_t x, std::size_t ch) {
    return static_cast<float>(pixels[(y * iw + x) * c + ch]) / 255.0f;
  };
  if (format.how == fit::center_crop || (ih == h && iw == w)) {
    const std::ptrdiff_t top = crop_offset(ih, h), left = crop_offset(iw, w);
    for (std::size_t ch = 0; ch < c; ++ch)
      for (std::size_t y = 0; y < h; ++y)
        for (std::size_t x = 0; x < w; ++x) {
          const std::ptrdiff_t sy = static_cast<std::ptrdiff_t>(y) + top, sx = static_cast<std::ptrdiff_t>(x) + left;
          const bool inside = sy >= 0 && sx >= 0 && sy < static_cast<std::ptrdiff_t>(ih) &&
                              sx < static_cast<std::ptrdiff_t>(iw);
          out[(ch * h + y) * w + x] =
              inside ? at(static_cast<std::size_t>(sy), static_cast<std::size_t>(sx), ch) : 0.0f;
        }
    return;
  }
  const auto ys = bilinear_taps(ih, h), xs = bilinear_taps(iw, w);
  for (std::size_t ch = 0; ch < c; ++ch)
    for (std::size_t y = 0; y < h; ++y) {
      const tap ty = ys[y];
      for (std::size_t x = 0; x < w; ++x) {
        const tap tx = xs[x];
        const float top = at(ty.lo, tx.lo, ch) + tx.weight * (at(ty.lo, tx.hi, ch) - at(ty.lo, tx.lo, ch));
        const float bottom = at(ty.hi, tx.lo, ch) + tx.weight * (at(ty.hi, tx.hi, ch) - at(ty.hi, tx.lo, ch));
        out[(ch * h + y) * w + x] = top + ty.weight * (bottom - top);
      }
    }
}

}  // namespace fusenet::data
