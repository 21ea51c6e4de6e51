// SPDX-License-Identifier: MIT
// The end of a residual block: y = act(y + s), y the block's output and s the shortcut, in their own layouts.
#pragma once

// y and s hold n images of C×H×W, each either NCHW or NHWC inside a zero border. When both lie the same way,
// the whole buffers are added as flat arrays: the borders add 0 + 0 and stay zero through the ReLU. Otherwise
// each value of y finds its twin in s by its (channel, row, column). act is ReLU (NaN kept, as torch.relu) or
// the identity.

#include <cstddef>

#include "fusenet/kernels/scalar/activations.hpp"
#include "fusenet/kernels/threads.hpp"

namespace fusenet::kernels {

/// A layout of C×H×W images: NHWC inside a zero border of Border pixels, or NCHW (Border 0).
template <bool Nhwc, std::size_t Border = 0>
struct image_layout {
  static constexpr bool nhwc = Nhwc;
  static constexpr std::size_t border = Border;
  static_assert(Nhwc || Border == 0, "fusenet: image_layout: NCHW images have no border");
  template <std::size_t C, std::size_t H, std::size_t W>
  static constexpr std::size_t image = Nhwc ? (H + 2 * Border) * (W + 2 * Border) * C : C * H * W;
  template <std::size_t C, std::size_t H, std::size_t W>
  static constexpr std::size_t at(std::size_t c, std::size_t y, std::size_t x) {
    return Nhwc ? ((y + Border) * (W + 2 * Border) + x + Border) * C + c : (c * H + y) * W + x;
  }
};

/// y = act(y + s) over n images of C×H×W; y in layout YL, s in layout SL (image_layout).
/// Requires: y and s do not overlap; a bordered y has a zero border. Ensures: y's border stays zero.
template <std::size_t C, std::size_t H, std::size_t W, class YL, class SL, bool Relu>
void residual_add(float* y, const float* s, std::size_t n) {
  constexpr std::size_t y_image = YL::template image<C, H, W>, s_image = SL::template image<C, H, W>;
  detail::for_each_image(n, y_image, [&](std::size_t i) {
    float* yi = y + i * y_image;
    const float* si = s + i * s_image;
    if constexpr (YL::nhwc == SL::nhwc && YL::border == SL::border) {
      for (std::size_t k = 0; k < y_image; ++k) {
        const float v = yi[k] + si[k];
        yi[k] = Relu ? scalar::relu(v) : v;
      }
    } else if constexpr (YL::nhwc && SL::nhwc) {
      // both NHWC, different borders: each image row's W·C values are contiguous in both
      for (std::size_t r = 0; r < H; ++r) {
        float* yr = yi + YL::template at<C, H, W>(0, r, 0);
        const float* sr = si + SL::template at<C, H, W>(0, r, 0);
        for (std::size_t k = 0; k < W * C; ++k) {
          const float v = yr[k] + sr[k];
          yr[k] = Relu ? scalar::relu(v) : v;
        }
      }
    } else {
      for (std::size_t c = 0; c < C; ++c)
        for (std::size_t r = 0; r < H; ++r)
          for (std::size_t x = 0; x < W; ++x) {
            float& v = yi[YL::template at<C, H, W>(c, r, x)];
            v += si[SL::template at<C, H, W>(c, r, x)];
            if constexpr (Relu) v = scalar::relu(v);
          }
    }
  });
}

}  // namespace fusenet::kernels
