// SPDX-License-Identifier: MIT
// Seeded per-epoch shuffling and mini-batch gathering into reused buffers.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "fusenet/data/idx.hpp"

namespace fusenet::data {

/// What to do with the final batch of an epoch when the dataset size is not a multiple of the batch size.
/// `keep` yields it whatever its size; `drop_last` drops it (PyTorch's DataLoader drop_last=True);
/// `drop_if_smaller_than_2` (the default) drops it only if it holds a single sample, because BatchNorm in
/// training normalises with the batch variance, which one sample cannot give (PyTorch raises an error there).
enum class last_batch { keep, drop_last, drop_if_smaller_than_2 };

/// A uniform integer in [0, bound) from raw 64-bit draws, by rejection (no modulo bias). Written out instead of
/// std::uniform_int_distribution, whose algorithm differs between standard libraries.
/// Requires: bound > 0.
inline std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t bound) {
  const std::uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound: the biased low values to reject
  for (;;) {
    const std::uint64_t r = rng();
    if (r >= threshold) return r % bound;
  }
}

/// Shuffles in place with Fisher-Yates (Durstenfeld): for i = n-1 … 1, swap element i with a uniform j in [0, i].
/// The result depends only on the engine's state (mt19937_64 is fully specified by the standard).
inline void shuffle(std::span<std::size_t> items, std::mt19937_64& rng) {
  for (std::size_t i = items.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(uniform_below(rng, i));
    std::swap(items[i - 1], items[j]);
  }
}

/// The sample order of one epoch: a permutation of 0 … n-1 that depends only on (seed, epoch), so training can be
/// resumed at any epoch and reproduced on any standard library.
inline std::vector<std::size_t> epoch_permutation(std::size_t n, std::uint64_t seed, std::uint64_t epoch) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  // seed_seq's mixing is specified by the standard, so the engine state is the same everywhere.
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(epoch), static_cast<std::uint32_t>(epoch >> 32)};
  std::mt19937_64 rng(seq);
  shuffle(order, rng);
  return order;
}

/// Options of a batch_sampler.
struct batch_options {
  std::size_t batch_size = 64;                            ///< samples per batch (> 0)
  bool shuffle = true;                                    ///< false: every epoch visits 0 … n-1 in order
  std::uint64_t seed = 0;                                 ///< with the epoch number, decides the order
  last_batch last = last_batch::drop_if_smaller_than_2;  ///< policy for a short final batch
};

/// Splits each epoch's sample order into batches of indices.
/// Example: `batch_sampler s{train.size(), {.batch_size = 64, .seed = 42}};`
/// `for (std::size_t e = 0; e < epochs; ++e) { s.start_epoch(e); for (std::size_t b = 0; b < s.num_batches(); ++b)`
/// `{ gather(train, s.batch(b), x, y); ... } }` with x, y declared once outside the loops.
class batch_sampler {
 public:
  /// A sampler over `n` samples; starts at epoch 0. Throws std::invalid_argument if batch_size is 0.
  batch_sampler(std::size_t n, batch_options options) : n_(n), options_(options) {
    if (options_.batch_size == 0) throw std::invalid_argument("fusenet: batch_sampler: batch_size must be positive");
    start_epoch(0);
  }

  /// Sets the order for `epoch` (a fresh permutation when shuffling).
  void start_epoch(std::uint64_t epoch) {
    if (options_.shuffle) {
      order_ = epoch_permutation(n_, options_.seed, epoch);
    } else {
      order_.resize(n_);
      std::iota(order_.begin(), order_.end(), std::size_t{0});
    }
  }

  /// Number of batches this epoch, after applying the last-batch policy.
  [[nodiscard]] std::size_t num_batches() const {
    const std::size_t full = n_ / options_.batch_size, rest = n_ % options_.batch_size;
    const bool keep_rest = rest > 0 && (options_.last == last_batch::keep ||
                                        (options_.last == last_batch::drop_if_smaller_than_2 && rest >= 2));
    return full + (keep_rest ? 1 : 0);
  }

  /// The sample indices of batch `b` (< num_batches()); the last one may be shorter than batch_size.
  [[nodiscard]] std::span<const std::size_t> batch(std::size_t b) const {
    const std::size_t begin = b * options_.batch_size;
    if (b >= num_batches())
      throw std::out_of_range("fusenet: batch_sampler: batch " + std::to_string(b) + " requested, epoch has " +
                              std::to_string(num_batches()));
    return std::span<const std::size_t>(order_).subspan(begin, std::min(options_.batch_size, n_ - begin));
  }

  /// The whole order of the current epoch (including samples a dropped last batch would have held).
  [[nodiscard]] std::span<const std::size_t> order() const { return order_; }

  /// The options this sampler was built with.
  [[nodiscard]] const batch_options& options() const { return options_; }

 private:
  std::size_t n_;
  batch_options options_;
  std::vector<std::size_t> order_;
};

/// Copies the samples `indices` of `data` into `images` (B×C×H×W) and `labels` (B, converted to Label, e.g.
/// std::int64_t as torch's cross_entropy takes). The buffers are reshaped only when B changes, so a training loop
/// reuses one allocation for all full batches and never copies the whole dataset.
/// Throws std::out_of_range naming the first index not below data.size().
template <class Label>
void gather(const dataset& data, std::span<const std::size_t> indices, xt::xtensor<float, 4>& images,
            xt::xtensor<Label, 1>& labels) {
  const auto& s = data.images.shape();
  const std::size_t per_sample = s[1] * s[2] * s[3];
  for (auto i : indices)
    if (i >= data.size())
      throw std::out_of_range("fusenet: gather: sample index " + std::to_string(i) + " is past the dataset's " +
                              std::to_string(data.size()) + " samples");
  const std::array<std::size_t, 4> shape{indices.size(), s[1], s[2], s[3]};
  if (!std::equal(shape.begin(), shape.end(), images.shape().begin())) images.resize(shape);
  if (labels.size() != indices.size()) labels.resize({indices.size()});
  const float* src = data.images.data();
  float* dst = images.data();
  for (std::size_t k = 0; k < indices.size(); ++k) {
    std::copy_n(src + indices[k] * per_sample, per_sample, dst + k * per_sample);
    labels(k) = static_cast<Label>(data.labels(indices[k]));
  }
}

}  // namespace fusenet::data
