// SPDX-License-Identifier: MIT
// batch_pipeline: loads and augments batches on background threads into a bounded ring of preallocated
// buffers while the caller trains on the previous batch; the batches depend only on the seed.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "fusenet/data/batches.hpp"
#include "fusenet/data/sample_source.hpp"
#include "fusenet/data/transforms.hpp"

namespace fusenet::data {

/// Options of a batch_pipeline.
struct pipeline_options {
  batch_options batches{};   ///< batch size, shuffling, seed (also the augmentation's), last-batch policy
  augmentation augment{};    ///< applied to every sample after loading
  std::size_t threads = 1;   ///< loader threads; 0 loads each batch on the caller's thread inside next()
  std::size_t depth = 0;     ///< batches buffered ahead (the ring size); 0 means threads + 2
  std::uint64_t epochs = 1;  ///< epochs to deliver, numbered first_epoch, first_epoch + 1, ...
  std::uint64_t first_epoch = 0;
};

/// One delivered batch: images B×C×H×W, labels B (as torch's cross_entropy takes them), and where it sits.
struct pipeline_batch {
  std::uint64_t epoch = 0;
  std::size_t index = 0;  ///< batch number within the epoch
  xt::xtensor<float, 4> images;
  xt::xtensor<std::int64_t, 1> labels;
};

/// Delivers every batch of `epochs` epochs in order. Batch b of epoch e holds the samples
/// epoch_permutation(n, seed, e)[b·B …] (as batch_sampler gives them), each loaded from the source and augmented
/// with sample_rng::for_sample(seed, e, sample index): so the data are the same for a seed whatever the thread
/// count and timing. The source must outlive the pipeline.
/// A loader error (a bad file) is rethrown by next() when the batch holding the sample is due, after all
/// batches before it were delivered; the destructor stops and joins the threads whatever state they are in.
/// Example: examples/image_folder.cpp
class batch_pipeline {
 public:
  /// Starts the loader threads. Throws std::invalid_argument for a batch size of 0.
  batch_pipeline(const sample_source& source, pipeline_options options);
  batch_pipeline(const batch_pipeline&) = delete;
  batch_pipeline& operator=(const batch_pipeline&) = delete;
  ~batch_pipeline();

  /// Batches in each epoch (the same for every epoch).
  [[nodiscard]] std::size_t batches_per_epoch() const { return per_epoch_; }

  /// The next batch, waiting for it if it is not ready; nullptr after the last one. The batch stays valid until
  /// the next call (its buffer is then refilled). Rethrows the exception that loading one of its samples threw;
  /// the pipeline then delivers nothing more (later calls rethrow it again).
  const pipeline_batch* next();

 private:
  struct slot {
    pipeline_batch batch;
    std::uint64_t job = 0;
    bool ready = false;
    std::exception_ptr error;
  };

  void worker();
  void fill(std::uint64_t job, pipeline_batch& out, std::vector<float>& scratch);
  std::shared_ptr<const std::vector<std::size_t>> order_of(std::uint64_t epoch);

  const sample_source& source_;
  pipeline_options options_;
  sample_dims dims_;
  std::size_t per_epoch_ = 0;
  std::uint64_t total_jobs_ = 0;

  std::mutex mutex_;
  std::condition_variable work_cv_, ready_cv_;
  std::vector<slot> ring_;
  std::uint64_t next_job_ = 0;   // next job a loader claims
  std::uint64_t delivered_ = 0;  // jobs handed to the caller
  std::uint64_t released_ = 0;   // jobs whose buffers the caller gave back
  bool stop_ = false, failed_ = false;
  std::exception_ptr failure_;
  std::map<std::uint64_t, std::shared_ptr<const std::vector<std::size_t>>> orders_;
  std::vector<float> caller_scratch_;
  std::vector<std::thread> threads_;
};

}  // namespace fusenet::data
