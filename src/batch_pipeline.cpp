// SPDX-License-Identifier: MIT
// The loader threads and the ring of batch buffers behind batch_pipeline.
#include <fusenet/data/batch_pipeline.hpp>
#include <stdexcept>
#include <string>

namespace fusenet::data {

batch_pipeline::batch_pipeline(const sample_source& source, pipeline_options options)
    : source_(source), options_(std::move(options)) {
  const auto [c, h, w] = source_.sample_shape();
  dims_ = {c, h, w};
  // batch_sampler validates the options and knows the last-batch policy; its count is the same every epoch.
  per_epoch_ = batch_sampler(source_.size(), options_.batches).num_batches();
  total_jobs_ = per_epoch_ * options_.epochs;
  const std::size_t depth = options_.depth != 0 ? options_.depth : options_.threads + 2;
  ring_.resize(depth);
  for (std::size_t t = 0; t < options_.threads; ++t) threads_.emplace_back([this] { worker(); });
}

batch_pipeline::~batch_pipeline() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

std::shared_ptr<const std::vector<std::size_t>> batch_pipeline::order_of(std::uint64_t epoch) {
  // Called with mutex_ held. Orders of epochs the caller has left are dropped.
  const std::uint64_t oldest = per_epoch_ == 0 ? 0 : options_.first_epoch + released_ / per_epoch_;
  orders_.erase(orders_.begin(), orders_.lower_bound(oldest));
  auto& order = orders_[epoch];
  if (!order) {
    const auto& b = options_.batches;
    std::vector<std::size_t> o;
    if (b.shuffle) {
      o = epoch_permutation(source_.size(), b.seed, epoch);
    } else {
      o.resize(source_.size());
      for (std::size_t i = 0; i < o.size(); ++i) o[i] = i;
    }
    order = std::make_shared<const std::vector<std::size_t>>(std::move(o));
  }
  return order;
}

void batch_pipeline::fill(std::uint64_t job, pipeline_batch& out, std::vector<float>& scratch) {
  const std::uint64_t epoch = options_.first_epoch + job / per_epoch_;
  const auto b = static_cast<std::size_t>(job % per_epoch_);
  std::shared_ptr<const std::vector<std::size_t>> order;
  {
    std::lock_guard lock(mutex_);
    order = order_of(epoch);
  }
  const std::size_t bs = options_.batches.batch_size, begin = b * bs;
  const std::size_t count = std::min(bs, order->size() - begin), per = dims_.size();
  out.epoch = epoch;
  out.index = b;
  // Buffers are allocated once per slot and reused; only a short last batch reshapes them.
  if (out.images.shape()[0] != count || out.images.size() != count * per)
    out.images.resize({count, dims_.channels, dims_.height, dims_.width});
  if (out.labels.size() != count) out.labels.resize({count});
  for (std::size_t k = 0; k < count; ++k) {
    const std::size_t index = (*order)[begin + k];
    const std::span<float> image(out.images.data() + k * per, per);
    out.labels(k) = source_.load(index, image);
    sample_rng rng = sample_rng::for_sample(options_.batches.seed, epoch, index);
    options_.augment.apply(image, dims_, rng, scratch);
  }
}

void batch_pipeline::worker() {
  std::vector<float> scratch;
  std::unique_lock lock(mutex_);
  for (;;) {
    // A job may start once the caller has released the buffer it reuses (job - depth).
    work_cv_.wait(lock, [&] {
      return stop_ || failed_ || next_job_ >= total_jobs_ || next_job_ < released_ + ring_.size();
    });
    if (stop_ || failed_ || next_job_ >= total_jobs_) return;
    const std::uint64_t job = next_job_++;
    slot& s = ring_[job % ring_.size()];
    lock.unlock();
    std::exception_ptr error;
    try {
      fill(job, s.batch, scratch);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    s.job = job;
    s.error = error;
    s.ready = true;
    // Jobs after a failed one are not started: the caller will stop at the failure anyway.
    if (error) failed_ = true;
    ready_cv_.notify_all();
  }
}

const pipeline_batch* batch_pipeline::next() {
  std::unique_lock lock(mutex_);
  if (failure_) std::rethrow_exception(failure_);
  if (released_ < delivered_) {  // the caller is done with the batch it had
    ring_[released_ % ring_.size()].ready = false;
    ++released_;
    work_cv_.notify_all();
  }
  if (delivered_ >= total_jobs_) return nullptr;
  const std::uint64_t job = delivered_;
  slot& s = ring_[job % ring_.size()];
  if (threads_.empty()) {
    // No loader threads: load here, into the same ring slot the threads would have used.
    lock.unlock();
    try {
      fill(job, s.batch, caller_scratch_);
    } catch (...) {
      lock.lock();
      failure_ = std::current_exception();
      throw;
    }
    lock.lock();
    s.job = job;
    s.ready = true;
  } else {
    ready_cv_.wait(lock, [&] { return s.ready && s.job == job; });
    if (s.error) {
      failure_ = s.error;
      std::rethrow_exception(failure_);
    }
  }
  ++delivered_;
  return &s.batch;
}

}  // namespace fusenet::data
