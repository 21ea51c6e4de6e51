// SPDX-License-Identifier: MIT
// sample_source: what the batch pipeline reads samples from (an in-memory dataset, an image folder, ...).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

#include "fusenet/data/idx.hpp"

namespace fusenet::data {

/// A numbered set of labelled C×H×W samples that several threads may read at once.
class sample_source {
 public:
  virtual ~sample_source() = default;
  /// Number of samples.
  [[nodiscard]] virtual std::size_t size() const = 0;
  /// The shape of every sample: {channels, height, width}.
  [[nodiscard]] virtual std::array<std::size_t, 3> sample_shape() const = 0;
  /// Writes sample `index` (< size()) into `out` (C·H·W floats) and returns its class.
  /// Ensures: thread-safe, and the same output for the same index every time.
  /// Throws what reading the sample throws (file_error naming the file for a bad one).
  virtual std::uint32_t load(std::size_t index, std::span<float> out) const = 0;
};

/// A dataset already in memory (IDX, CIFAR, or an image folder read whole) as a sample_source.
/// Requires: the dataset outlives this object.
class dataset_source final : public sample_source {
 public:
  explicit dataset_source(const dataset& data) : data_(&data) {}
  [[nodiscard]] std::size_t size() const override { return data_->size(); }
  [[nodiscard]] std::array<std::size_t, 3> sample_shape() const override {
    const auto& s = data_->images.shape();
    return {s[1], s[2], s[3]};
  }
  std::uint32_t load(std::size_t index, std::span<float> out) const override {
    const auto& s = data_->images.shape();
    const std::size_t per = s[1] * s[2] * s[3];
    if (index >= size() || out.size() != per)
      throw std::out_of_range("fusenet: dataset_source: sample " + std::to_string(index) + " of " +
                              std::to_string(size()) + " into " + std::to_string(out.size()) + " floats (" +
                              std::to_string(per) + " per sample)");
    std::copy_n(data_->images.data() + index * per, per, out.data());
    return data_->labels(index);
  }

 private:
  const dataset* data_;
};

}  // namespace fusenet::data
