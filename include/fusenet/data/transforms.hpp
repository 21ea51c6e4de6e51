// SPDX-License-Identifier: MIT
// Seeded image transforms on one C×H×W sample: random crop with padding, random horizontal flip, per-channel
// normalisation, and the channel mean / std of a dataset to normalise with.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "fusenet/data/sample_source.hpp"

namespace fusenet::data {

/// The shape of one sample.
struct sample_dims {
  std::size_t channels = 0, height = 0, width = 0;
  [[nodiscard]] std::size_t size() const { return channels * height * width; }
};

/// The random numbers of one sample's augmentation: SplitMix64 (Steele, Lea, Flood 2014), fully specified, so a
/// (seed, epoch, sample) triple gives the same draws on every platform and in every thread.
class sample_rng {
 public:
  explicit sample_rng(std::uint64_t state) : state_(state) {}

  /// The generator of sample `index` in `epoch` of a run seeded with `seed`: the three are mixed through
  /// SplitMix64 steps, so neighbouring samples get unrelated streams.
  static sample_rng for_sample(std::uint64_t seed, std::uint64_t epoch, std::uint64_t index) {
    sample_rng r(seed ^ 0x6a09e667f3bcc909ull);
    r.state_ = r.next() ^ epoch;
    r.state_ = r.next() ^ index;
    return r;
  }

  /// The next 64 random bits.
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  /// A uniform integer in [0, bound), by rejection (no modulo bias). Requires: bound > 0.
  std::uint64_t below(std::uint64_t bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    for (;;) {
      const std::uint64_t r = next();
      if (r >= threshold) return r % bound;
    }
  }

  /// A uniform float in [0, 1) from the top 24 bits.
  float uniform() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }

 private:
  std::uint64_t state_;
};

/// Crops the window at (top, left) out of the image padded by `padding` zeros on every side, in place
/// (torchvision's RandomCrop(size, padding) with fill 0, once the offsets are drawn).
/// Requires: top, left ≤ 2·padding. `scratch` is resized as needed and may be reused between calls.
inline void pad_and_crop(std::span<float> image, sample_dims s, std::size_t padding, std::size_t top,
                         std::size_t left, std::vector<float>& scratch) {
  if (top > 2 * padding || left > 2 * padding)
    throw std::invalid_argument("fusenet: pad_and_crop: offset (" + std::to_string(top) + ", " + std::to_string(left) +
                                ") outside [0, " + std::to_string(2 * padding) + "]");
  scratch.assign(image.begin(), image.end());
  for (std::size_t c = 0; c < s.channels; ++c)
    for (std::size_t y = 0; y < s.height; ++y)
      for (std::size_t x = 0; x < s.width; ++x) {
        // Output (y, x) reads padded (y + top, x + left), i.e. source (y + top - padding, x + left - padding).
        const std::size_t sy = y + top, sx = x + left;
        const bool inside = sy >= padding && sx >= padding && sy - padding < s.height && sx - padding < s.width;
        image[(c * s.height + y) * s.width + x] =
            inside ? scratch[(c * s.height + sy - padding) * s.width + sx - padding] : 0.0f;
      }
}

/// Draws top, then left, uniformly in [0, 2·padding] and applies pad_and_crop.
inline void random_crop(std::span<float> image, sample_dims s, std::size_t padding, sample_rng& rng,
                        std::vector<float>& scratch) {
  if (padding == 0) return;
  const auto top = static_cast<std::size_t>(rng.below(2 * padding + 1));
  const auto left = static_cast<std::size_t>(rng.below(2 * padding + 1));
  pad_and_crop(image, s, padding, top, left, scratch);
}

/// Mirrors every row in place (x becomes width − 1 − x).
inline void horizontal_flip(std::span<float> image, sample_dims s) {
  for (std::size_t row = 0; row < s.channels * s.height; ++row)
    std::reverse(image.begin() + static_cast<std::ptrdiff_t>(row * s.width),
                 image.begin() + static_cast<std::ptrdiff_t>((row + 1) * s.width));
}

/// Flips with probability 1/2: one draw, flip if uniform() < 0.5 (torchvision: torch.rand(1) < p).
inline void random_horizontal_flip(std::span<float> image, sample_dims s, sample_rng& rng) {
  if (rng.uniform() < 0.5f) horizontal_flip(image, s);
}

/// Per-channel mean and standard deviation.
struct channel_stats {
  std::vector<float> mean, std;
};

/// In place, x ← (x − mean[c]) / std[c] for every value of channel c (torchvision's Normalize).
/// Throws std::invalid_argument if mean or std do not have one entry per channel, or a std is not positive.
inline void normalize(std::span<float> image, sample_dims s, const channel_stats& stats) {
  if (stats.mean.size() != s.channels || stats.std.size() != s.channels)
    throw std::invalid_argument("fusenet: normalize: " + std::to_string(stats.mean.size()) + " means and " +
                                std::to_string(stats.std.size()) + " stds for " + std::to_string(s.channels) +
                                " channels");
  const std::size_t plane = s.height * s.width;
  for (std::size_t c = 0; c < s.channels; ++c) {
    if (!(stats.std[c] > 0.0f))
      throw std::invalid_argument("fusenet: normalize: std of channel " + std::to_string(c) + " must be positive");
    const float m = stats.mean[c], inv = 1.0f / stats.std[c];
    for (float& v : image.subspan(c * plane, plane)) v = (v - m) * inv;
  }
}

/// The mean and the population standard deviation (divided by the count, as numpy's std) of each channel over
/// every pixel of every sample, accumulated in double. Reads the samples one at a time.
/// Throws std::invalid_argument for an empty source; what source.load throws.
inline channel_stats compute_channel_stats(const sample_source& source) {
  const auto [c, h, w] = source.sample_shape();
  if (source.size() == 0) throw std::invalid_argument("fusenet: compute_channel_stats: the data set is empty");
  std::vector<double> sum(c, 0.0), sum_sq(c, 0.0);
  std::vector<float> sample(c * h * w);
  for (std::size_t i = 0; i < source.size(); ++i) {
    source.load(i, sample);
    for (std::size_t ch = 0; ch < c; ++ch)
      for (std::size_t p = 0; p < h * w; ++p) {
        const double v = sample[ch * h * w + p];
        sum[ch] += v;
        sum_sq[ch] += v * v;
      }
  }
  const double count = static_cast<double>(source.size() * h * w);
  channel_stats stats;
  for (std::size_t ch = 0; ch < c; ++ch) {
    const double mean = sum[ch] / count;
    stats.mean.push_back(static_cast<float>(mean));
    stats.std.push_back(static_cast<float>(std::sqrt(std::max(0.0, sum_sq[ch] / count - mean * mean))));
  }
  return stats;
}

/// The training-time augmentation of one sample, applied in torchvision's usual order: random crop (if
/// crop_padding > 0), random horizontal flip (if enabled), normalisation (if stats given).
struct augmentation {
  std::size_t crop_padding = 0;
  bool horizontal_flip = false;
  channel_stats normalize_with{};  ///< empty: no normalisation

  /// Applies the transforms with draws from `rng` (crop top, crop left, flip: in that order).
  void apply(std::span<float> image, sample_dims s, sample_rng& rng, std::vector<float>& scratch) const {
    random_crop(image, s, crop_padding, rng, scratch);
    if (horizontal_flip) random_horizontal_flip(image, s, rng);
    if (!normalize_with.mean.empty()) normalize(image, s, normalize_with);
  }
};

}  // namespace fusenet::data
