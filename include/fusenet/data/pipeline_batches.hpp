// SPDX-License-Identifier: MIT
// pipeline_batches: a batch_pipeline as the batch source fusenet::fit and fusenet::evaluate take.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <xtensor/xtensor.hpp>

#include "fusenet/data/batch_pipeline.hpp"
#include "fusenet/io/error.hpp"

namespace fusenet::data {

/// Feeds fit / evaluate (start_epoch, num_batches, load) from a batch_pipeline, so that batches are decoded and
/// augmented in the background while the model trains. fit asks for the batches of each epoch in order, which is
/// what the pipeline prefetches; asking for another epoch or batch restarts the pipeline there (evaluate starts
/// at epoch 0 on every call; a resumed run starts mid-epoch), so any order is served, only more slowly.
/// A loader error is rethrown as file_error with the epoch and batch appended.
/// Example: examples/image_folder.cpp
class pipeline_batches {
 public:
  /// Batches of `source`; options.first_epoch and options.epochs bound the epochs served without a restart.
  /// Requires: the source outlives this object.
  pipeline_batches(const sample_source& source, pipeline_options options)
      : source_(&source), options_(std::move(options)),
        per_epoch_(batch_sampler(source.size(), options_.batches).num_batches()) {}

  /// Makes `epoch` the one load() serves.
  void start_epoch(std::uint64_t epoch) { epoch_ = epoch; }

  [[nodiscard]] std::size_t num_batches() const { return per_epoch_; }

  /// Copies batch b of the current epoch into x (B×C×H×W) and y, reshaping them only when B changes.
  template <class Label>
  void load(std::size_t b, xt::xtensor<float, 4>& x, xt::xtensor<Label, 1>& y) {
    if (!pipeline_ || next_epoch_ != epoch_ || next_index_ > b) restart();
    const pipeline_batch* batch = nullptr;
    try {
      while (next_index_ <= b) {
        batch = pipeline_->next();
        if (batch == nullptr) {  // past the pipeline's last epoch: start one more
          restart();
          continue;
        }
        ++next_index_;
      }
    } catch (const file_error& e) {
      throw file_error(std::string(e.what()) + " (epoch " + std::to_string(epoch_ + 1) + ", batch " +
                       std::to_string(b + 1) + " of " + std::to_string(per_epoch_) + ")");
    }
    if (next_index_ == per_epoch_) {  // the pipeline moves on to the next epoch
      ++next_epoch_;
      next_index_ = 0;
    }
    const auto& s = batch->images.shape();
    const std::array<std::size_t, 4> shape{s[0], s[1], s[2], s[3]};
    if (!std::equal(shape.begin(), shape.end(), x.shape().begin())) x.resize(shape);
    std::copy(batch->images.begin(), batch->images.end(), x.begin());
    if (y.size() != batch->labels.size()) y.resize({batch->labels.size()});
    std::transform(batch->labels.begin(), batch->labels.end(), y.begin(), [](std::int64_t l) { return static_cast<Label>(l); });
  }

 private:
  // A fresh pipeline whose first batch is batch 0 of epoch_, running to the end of the configured epochs.
  void restart() {
    pipeline_.reset();  // joins the old loaders before the new ones start
    pipeline_options o = options_;
    const std::uint64_t end = options_.first_epoch + options_.epochs;
    o.first_epoch = epoch_;
    o.epochs = end > epoch_ ? end - epoch_ : 1;
    pipeline_ = std::make_unique<batch_pipeline>(*source_, o);
    next_epoch_ = epoch_;
    next_index_ = 0;
  }

  const sample_source* source_;
  pipeline_options options_;
  std::size_t per_epoch_;
  std::uint64_t epoch_ = 0, next_epoch_ = 0;
  std::size_t next_index_ = 0;
  std::unique_ptr<batch_pipeline> pipeline_;
};

}  // namespace fusenet::data
