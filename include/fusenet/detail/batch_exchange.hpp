// SPDX-License-Identifier: MIT
// The two hooks data-parallel training (fusenet/dist) gives a train model, as
// plain function pointers so that kernels and models stay free of MPI: an
// exchange of per-image BatchNorm sums between processes (synchronized
// BatchNorm), and a call when a stage's parameter gradients are final during
// backward (gradient allreduce).
#pragma once

#include <cstddef>
#include <vector>

namespace fusenet::detail {

/// Per-image sums taken on every process of a data-parallel job, for BatchNorm
/// over the global batch. gather(local, count, out, context) writes every
/// process's `count` doubles into out in process order (out holds ranks ×
/// count). Process r holds images r·n … (r+1)·n − 1 of the global batch, so the
/// gathered sums are in global image order and adding them in that order gives
/// the single-process sums bit for bit.
struct batch_exchange {
  std::size_t ranks = 1;
  void (*gather)(const double *local, std::size_t count, double *out,
                 void *context) = nullptr;
  void *context = nullptr;

  /// local's values from every process, process order, in out (resized to ranks
  /// × local.size()).
  void all(const std::vector<double> &local, std::vector<double> &out) const {
    out.resize(ranks * local.size());
    gather(local.data(), local.size(), out.data(), context);
  }
};

/// Called by a top-level training runner during backward after each stage:
/// every parameter gradient of the layers first_layer … (counting from 0 in the
/// network's layer list) is final for this backward.
struct grads_ready_hook {
  void (*ready)(std::size_t first_layer, void *context) = nullptr;
  void *context = nullptr;
};

/// The global batch of a data-parallel step in which this process holds n
/// samples.
inline std::size_t global_batch(const batch_exchange *e, std::size_t n) {
  return e ? e->ranks * n : n;
}

} // namespace fusenet::detail
