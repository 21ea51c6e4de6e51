// SPDX-License-Identifier: MIT
// IDX files (the MNIST family's format), raw or gzipped: u8 images scaled to [0, 1] and u8 labels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <xtensor/xtensor.hpp>

#include "fusenet/io/error.hpp"

namespace fusenet::data {

/// A labelled image set in PyTorch's layout: images N×C×H×W in [0, 1], labels N class indices.
struct dataset {
  xt::xtensor<float, 4> images;
  xt::xtensor<std::uint8_t, 1> labels;

  /// Number of samples N.
  [[nodiscard]] std::size_t size() const { return labels.size(); }
};

/// Reads an IDX image file (magic 0x00000803: u8, N×rows×cols), gzipped or not, into N×1×rows×cols floats
/// x / 255.0f, exactly as torchvision's ToTensor.
/// Throws file_error naming the file for a missing file, a wrong magic (expected and found, in hex), a zero or
/// absurd dimension, truncated data (expected and got bytes), data past the declared end, or a corrupt gzip stream.
xt::xtensor<float, 4> read_idx_images(const std::string& path);

/// Reads an IDX label file (magic 0x00000801: u8, N), gzipped or not. Throws file_error as read_idx_images does.
xt::xtensor<std::uint8_t, 1> read_idx_labels(const std::string& path);

/// Reads an image file and its label file into a dataset.
/// Throws file_error naming both files if their counts differ, and naming the index and value of the first
/// label that is not below `num_classes`.
dataset load_idx_dataset(const std::string& images_path, const std::string& labels_path, std::size_t num_classes);

}  // namespace fusenet::data
