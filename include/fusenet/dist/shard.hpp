// SPDX-License-Identifier: MIT
// Data sharding for data-parallel training, as
// torch.utils.data.DistributedSampler: every process draws the same seeded
// per-epoch permutation and the same global batches, and process r of N takes
// the r-th contiguous N-th of each global batch. N processes at batch B/N
// therefore see exactly the global batches of one process at batch B, in the
// same image order (what synchronized BatchNorm's exchange relies on). No MPI
// here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <xtensor/xtensor.hpp>

#include "fusenet/data/batches.hpp"

namespace fusenet::dist {

/// Process `rank` of `ranks`'s part of one global batch: its rank-th contiguous
/// share. Requires: global.size() divisible by ranks (throws
/// std::invalid_argument naming both otherwise).
inline std::span<const std::size_t>
shard_of(std::span<const std::size_t> global, std::size_t rank,
         std::size_t ranks) {
  if (ranks == 0 || rank >= ranks)
    throw std::invalid_argument("fusenet: dist: shard_of: rank out of range");
  if (global.size() % ranks != 0)
    throw std::invalid_argument(
        "fusenet: dist: a global batch of " + std::to_string(global.size()) +
        " samples is not divisible by the " + std::to_string(ranks) +
        " processes; choose a batch that is a multiple of the number of "
        "processes");
  const std::size_t per = global.size() / ranks;
  return global.subspan(rank * per, per);
}

/// The first `limit` samples of an image dataset in global batches of
/// options.batch_size, shuffled per (seed, epoch) as fusenet::dataset_batches;
/// load(b, x, y) gives this process's shard of global batch b. A short last
/// batch is kept only when it divides evenly among the processes (and, as
/// dataset_batches, holds 2 or more). A batch source for fusenet::fit.
/// Requires: the dataset outlives this object; batch_size divisible by ranks
/// (the constructor throws std::invalid_argument otherwise).
class sharded_batches {
public:
  sharded_batches(const data::dataset &d, data::batch_options global,
                  std::size_t rank, std::size_t ranks,
                  std::size_t limit = std::numeric_limits<std::size_t>::max())
      : data_(&d), sampler_(std::min(limit, d.size()), global), rank_(rank),
        ranks_(ranks) {
    if (ranks == 0 || rank >= ranks)
      throw std::invalid_argument(
          "fusenet: dist: sharded_batches: rank out of range");
    if (global.batch_size % ranks != 0)
      throw std::invalid_argument(
          "fusenet: dist: the global batch " +
          std::to_string(global.batch_size) +
          " (--batch) is not divisible by the " + std::to_string(ranks) +
          " processes; choose a multiple of " + std::to_string(ranks));
  }
  void start_epoch(std::uint64_t epoch) { sampler_.start_epoch(epoch); }
  [[nodiscard]] std::size_t num_batches() const {
    const std::size_t all = sampler_.num_batches();
    if (all == 0)
      return 0;
    return sampler_.batch(all - 1).size() % ranks_ == 0 ? all : all - 1;
  }
  template <class Label>
  void load(std::size_t b, xt::xtensor<float, 4> &x,
            xt::xtensor<Label, 1> &y) const {
    if (b >= num_batches())
      throw std::out_of_range("fusenet: dist: sharded_batches: batch " +
                              std::to_string(b) + " requested, epoch has " +
                              std::to_string(num_batches()));
    data::gather(*data_, shard_of(sampler_.batch(b), rank_, ranks_), x, y);
  }
  /// The indices of global batch b (all processes' samples, in order).
  [[nodiscard]] std::span<const std::size_t> global_batch(std::size_t b) const {
    return sampler_.batch(b);
  }

private:
  const data::dataset *data_;
  data::batch_sampler sampler_;
  std::size_t rank_, ranks_;
};

} // namespace fusenet::dist
