// SPDX-License-Identifier: MIT
// fusenet::dist::data_parallel: data-parallel training of a model<Net,
// mode::train> over MPI, as PyTorch's DDP with SyncBatchNorm. At start-up the
// processes compare their networks and take rank 0's parameters and buffers; in
// each step every BatchNorm normalises with the global batch's statistics
// (unless switched to local ones), and the gradients are averaged by
// non-blocking allreduces of fixed buckets, each started during backward as
// soon as the stages it covers are done; synced_optimizer then waits for them
// and every process takes the same step.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "fusenet/detail/batch_exchange.hpp"
#include "fusenet/dist/communicator.hpp"
#include "fusenet/dist/network_hash.hpp"
#include "fusenet/train/param.hpp"

namespace fusenet::dist {

/// How data_parallel trains.
struct options {
  /// Every batch_norm normalises with the statistics of the global batch
  /// (torch.nn.SyncBatchNorm); false: each process uses its own batch's, as
  /// plain DDP.
  bool sync_batch_norm = true;
  /// Gradient bytes per allreduce bucket (buckets hold whole tensors, last
  /// layers first).
  std::size_t bucket_bytes = std::size_t{256} << 10;
};

/// Time spent on gradient allreduces, summed since construction (or the last
/// reset).
struct allreduce_times {
  double exposed_seconds =
      0; ///< waiting for allreduces after backward (what overlap did not hide)
  std::size_t steps = 0;
  std::size_t buckets_in_backward = 0; ///< buckets started during backward
  std::size_t buckets_after =
      0; ///< buckets started after it (by synchronize_gradients)
};

/// Data-parallel training of model m over comm. Constructing it is collective:
/// it checks that every process holds the same network (dist::error naming the
/// ranks otherwise), broadcasts rank 0's parameters, running statistics and
/// counters, and installs the model's hooks (removed by the destructor). Per
/// step: forward (this process's shard), backward (starts the allreduces),
/// synchronize_gradients() (or synced_optimizer::step), optimizer step.
/// Requires: m outlives this object; every process calls the same sequence of
/// steps with batches of equal size. Example: examples/fashion_mnist.cpp
template <class Model> class data_parallel {
public:
  data_parallel(const communicator &comm, Model &m, options o = {})
      : comm_(comm), model_(&m), options_(o) {
    check_same_network();
    broadcast_state();
    make_buckets();
    exchange_.ranks = static_cast<std::size_t>(comm_.size());
    exchange_.gather = &gather_sums;
    exchange_.context = this;
    hook_.ready = &grads_ready;
    hook_.context = this;
    m.set_batch_exchange(o.sync_batch_norm && comm_.size() > 1 ? &exchange_
                                                               : nullptr);
    m.set_grads_ready(&hook_);
  }
  data_parallel(const data_parallel &) = delete;
  data_parallel &operator=(const data_parallel &) = delete;
  ~data_parallel() {
    model_->set_batch_exchange(nullptr);
    model_->set_grads_ready(nullptr);
    for (auto &b : buckets_)
      if (b.started)
        MPI_Wait(&b.request, MPI_STATUS_IGNORE);
  }

  /// Starts the allreduce of every bucket not yet started, waits for all, and
  /// replaces each gradient by its mean over the processes. Every process calls
  /// it once per backward.
  void synchronize_gradients() {
    for (std::size_t i = next_; i < buckets_.size(); ++i)
      start(i), ++times_.buckets_after;
    next_ = buckets_.size();
    const auto t0 = std::chrono::steady_clock::now();
    for (auto &b : buckets_)
      detail::check(MPI_Wait(&b.request, MPI_STATUS_IGNORE),
                    "MPI_Wait (gradient allreduce)");
    times_.exposed_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    const float scale = 1.0f / static_cast<float>(comm_.size());
    for (auto &b : buckets_) {
      std::size_t at = 0;
      for (std::size_t p : b.params) {
        const param_view &v = params_[p];
        for (std::size_t i = 0; i < v.size; ++i)
          v.grad[i] = b.buffer[at + i] * scale;
        at += v.size;
      }
      b.started = false;
    }
    next_ = 0;
    ++times_.steps;
  }

  [[nodiscard]] const communicator &comm() const { return comm_; }
  [[nodiscard]] Model &model() { return *model_; }
  [[nodiscard]] std::size_t bucket_count() const { return buckets_.size(); }
  [[nodiscard]] const allreduce_times &times() const { return times_; }
  void reset_times() { times_ = {}; }

private:
  struct bucket {
    std::vector<std::size_t> params; // indices into params_, last layers first
    std::size_t first_layer =
        0; // the smallest top-level layer index among them
    std::vector<float> buffer;
    MPI_Request request = MPI_REQUEST_NULL;
    bool started = false;
  };

  static std::size_t top_layer_of(const std::string &name) {
    return static_cast<std::size_t>(std::stoul(name.substr(0, name.find('.'))));
  }

  void check_same_network() {
    const auto all = comm_.allgather(network_hash(*model_));
    for (std::size_t r = 1; r < all.size(); ++r)
      if (all[r] != all[0])
        throw error("fusenet: dist: rank " + std::to_string(r) +
                    " holds a different network than rank 0 (network " +
                    "type and tensor shapes hash differently); every process "
                    "must build the same model");
  }

  void broadcast_state() {
    for (auto &t : model_->tensors()) {
      if (t.counter != nullptr)
        comm_.broadcast(t.counter, 1);
      else
        comm_.broadcast(t.value, t.spec.size());
    }
  }

  void make_buckets() {
    params_ = model_->parameters();
    bucket current;
    std::size_t bytes = 0;
    current.first_layer = SIZE_MAX;
    for (std::size_t p = params_.size(); p-- > 0;) {
      current.params.push_back(p);
      current.first_layer =
          std::min(current.first_layer, top_layer_of(params_[p].name));
      bytes += params_[p].size * sizeof(float);
      if (bytes >= options_.bucket_bytes || p == 0) {
        current.buffer.resize(bytes / sizeof(float));
        buckets_.push_back(std::move(current));
        current = bucket{};
        current.first_layer = SIZE_MAX;
        bytes = 0;
      }
    }
  }

  void start(std::size_t i) {
    bucket &b = buckets_[i];
    std::size_t at = 0;
    for (std::size_t p : b.params) {
      const param_view &v = params_[p];
      std::copy(v.grad, v.grad + v.size,
                b.buffer.begin() + static_cast<std::ptrdiff_t>(at));
      at += v.size;
    }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored                                                 \
    "-Wold-style-cast" // Open MPI's MPI_IN_PLACE is ((void *) 1)
    void *const in_place = MPI_IN_PLACE;
#pragma GCC diagnostic pop
    detail::check(
        MPI_Iallreduce(in_place, b.buffer.data(),
                       detail::count_of(b.buffer.size(), "MPI_Iallreduce"),
                       MPI_FLOAT, MPI_SUM, comm_.native(), &b.request),
        "MPI_Iallreduce (gradients)");
    b.started = true;
  }

  // Stages finish last to first; buckets are started in their fixed order (the
  // same on every process, as MPI requires of collectives), each once all its
  // layers are done; a test on the started ones lets MPI progress.
  static void grads_ready(std::size_t first_layer, void *self) {
    auto &d = *static_cast<data_parallel *>(self);
    while (d.next_ < d.buckets_.size() &&
           d.buckets_[d.next_].first_layer >= first_layer)
      d.start(d.next_++), ++d.times_.buckets_in_backward;
    for (std::size_t i = 0; i < d.next_; ++i) {
      int done = 0;
      MPI_Test(
          &d.buckets_[i].request, &done,
          MPI_STATUS_IGNORE); // a completed request becomes MPI_REQUEST_NULL
    }
  }

  // The exchange of synchronized BatchNorm: every process's sums in rank order,
  // after checking that every process sends as many (equal per-process
  // batches), so that a mismatch is an error rather than a corrupted gather.
  static void gather_sums(const double *local, std::size_t count, double *out,
                          void *self) {
    auto &d = *static_cast<data_parallel *>(self);
    const auto counts = d.comm_.allgather(static_cast<std::uint64_t>(count));
    for (std::size_t r = 1; r < counts.size(); ++r)
      if (counts[r] != counts[0])
        throw error("fusenet: dist: synchronized BatchNorm: rank " +
                    std::to_string(r) + " holds a batch of another " +
                    "size than rank 0; every process must train on batches of "
                    "the same size");
    d.comm_.allgather(local, count, out);
  }

  communicator comm_;
  Model *model_;
  options options_;
  std::vector<param_view> params_;
  std::vector<bucket> buckets_;
  std::size_t next_ = 0; // buckets started in this backward
  fusenet::detail::batch_exchange exchange_;
  fusenet::detail::grads_ready_hook hook_;
  allreduce_times times_;
};

/// An optimizer whose step() first waits for data_parallel's gradient
/// allreduces: what fusenet::fit takes in data-parallel training. fit's
/// checkpoints hold the wrapped optimizer's state and only rank 0 writes them
/// (atomically, as save_checkpoint does); to resume, every process loads the
/// same checkpoint into its model and the wrapped optimizer (load_checkpoint)
/// before constructing data_parallel, and passes the progress to fit: the
/// processes are then in one state, and the shards continue the per-epoch
/// order where it stopped. Example: examples/fashion_mnist.cpp
template <class Model, class Optimizer> class synced_optimizer {
public:
  synced_optimizer(data_parallel<Model> &dp, Optimizer &opt)
      : dp_(&dp), opt_(&opt) {}
  void step() {
    dp_->synchronize_gradients();
    opt_->step();
  }
  [[nodiscard]] float lr() const { return opt_->lr(); }
  void set_lr(float lr) { opt_->set_lr(lr); }
  /// The wrapped optimizer (what a checkpoint holds).
  [[nodiscard]] Optimizer &inner() { return *opt_; }
  /// Whether this process writes checkpoints: rank 0 alone.
  [[nodiscard]] bool writes_checkpoints() const {
    return dp_->comm().is_root();
  }

private:
  data_parallel<Model> *dp_;
  Optimizer *opt_;
};

} // namespace fusenet::dist
