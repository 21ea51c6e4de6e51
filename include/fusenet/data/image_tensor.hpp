// SPDX-License-Identifier: MIT
// A decoded image as the C×H×W floats a network's input asks for: channel conversion, then resize or crop.
#pragma once

#include <cstddef>
#include <span>

#include "fusenet/data/image_decode.hpp"

namespace fusenet::data {

/// How an image whose size differs from the network's input is brought to that size.
enum class fit {
  /// Bilinear resampling to exactly H × W (aspect ratio not kept), as torch.nn.functional.interpolate with
  /// mode='bilinear', align_corners=False, antialias=False.
  resize,
  /// The centre H × W window, as torchvision's CenterCrop: offsets round((size - target) / 2) (half to even),
  /// and zero padding where the image is smaller than the window.
  center_crop,
};

/// The network's input: channels (1 grey, 3 RGB), height, width, and how other sizes are fitted.
struct image_format {
  std::size_t channels = 3, height = 32, width = 32;
  fit how = fit::resize;

  /// Floats per image: channels × height × width.
  [[nodiscard]] std::size_t size() const { return channels * height * width; }
};

/// Writes `image` into `out` (format.size() floats, C×H×W, values pixel / 255 as torchvision's ToTensor).
/// Grey becomes RGB by repeating it; RGB becomes grey with Pillow's convert('L') weights
/// (R·19595 + G·38470 + B·7471 + 2^15) >> 16. Then the image is fitted to format.height × format.width.
/// Throws std::invalid_argument if format.channels is not 1 or 3 or `out` has the wrong size.
void to_tensor(const decoded_image& image, const image_format& format, std::span<float> out);

}  // namespace fusenet::data
