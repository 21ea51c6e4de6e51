// SPDX-License-Identifier: MIT
// What every training stage executor shares: its plan record and layer facts, what it keeps between forward and
// backward, and the scratch the stages of one chain share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fusenet/kernels/batch_norm_relu_pool.hpp"
#include "fusenet/kernels/batch_stats.hpp"
#include "fusenet/kernels/conv2d_direct.hpp"
#include "fusenet/model/node.hpp"
#include "fusenet/plan/execution.hpp"

namespace fusenet::detail {

/// The compile-time facts of training stage S of plan P (detail::train_plan_of: a network's layers, or a residual's
/// block or shortcut): its record and the shapes of its first layer, the conv or dense of a fused stage.
template <class P, std::size_t S>
struct train_stage_facts {
  static constexpr stage_record rec = P::records[S];
  static constexpr stage st = rec.st;
  static constexpr layer_facts head = P::facts[st.first];

  /// The fused epilogue's geometry: the conv output N×C×H×W, or a dense output N×F as N×F×1×1.
  static kernels::batch_norm_relu_pool_geometry epilogue(std::size_t n) {
    if constexpr (st.kind == stage_kind::conv)
      return {n, head.out.d[0], head.out.d[1], head.out.d[2], st.relu, st.pool == stage_pool::max};
    else
      return {n, head.out.size(), 1, 1, st.relu, false};
  }
};

/// What a training stage keeps from its forward for its backward, besides its output buffer.
struct train_stage_keep {
  const float* input = nullptr;     // the stage's input (a fused stage's head reads it in backward)
  std::vector<float> head;          // a fused stage's conv or dense output z (the record's kept_floats per sample)
  std::vector<std::uint8_t> code;   // per stage output: what the ReLU and the pool let through
  std::vector<float> picked;        // with the pool: the z each output came from
  kernels::conv2d_direct_state conv;  // train_direct_conv: packed weights and the bordered NHWC input
};

/// Scratch the fused stages of one chain share (they run one after another, with different sizes).
struct train_stage_scratch {
  std::vector<kernels::plane_moments> moments;
  std::vector<double> mean, var;
  std::vector<float> dz;         // the gradient at the conv or dense output
  std::vector<float> dz_planes;  // dz as NCHW, when a direct conv's input gradient runs on the GEMM
  std::vector<float> grad;       // the NHWC epilogue's masked output gradient
  std::vector<double> local_sums, all_sums;         // synchronized BatchNorm: moments sent and received
  std::vector<kernels::plane_moments> all_moments;  // every process's plane moments, global image order

  /// v with at least `size` elements: grown, never shrunk, so stages of different sizes do not
  /// reallocate and refill it on every step.
  template <class T>
  static T* at_least(std::vector<T>& v, std::size_t size) {
    if (v.size() < size) v.resize(size);
    return v.data();
  }
};

/// The per-channel statistics buffers of a fused forward, and its kept ReLU / pool record sized for geometry e.
struct fused_forward_buffers {
  kernels::plane_moments* moments;  // per image and channel
  double* mean;
  double* var;
};
inline fused_forward_buffers begin_fused_forward(const kernels::batch_norm_relu_pool_geometry& e,
                                                 train_stage_keep& keep, train_stage_scratch& s) {
  keep.code.resize(e.batch * e.channels * e.out_plane());
  if (e.pool) keep.picked.resize(keep.code.size());
  return {s.at_least(s.moments, e.batch * e.channels), s.at_least(s.mean, e.channels), s.at_least(s.var, e.channels)};
}

/// The plane moments (n images × C) of the global batch: these, or in synchronized BatchNorm (ctx.exchange set)
/// every process's, in global image order, so that merge_plane_moments gives the statistics of the whole batch.
inline const kernels::plane_moments* global_moments(const run_context& ctx, const kernels::plane_moments* local,
                                                    std::size_t n, std::size_t channels, train_stage_scratch& s) {
  if (ctx.exchange == nullptr) return local;
  s.local_sums.resize(2 * n * channels);
  for (std::size_t i = 0; i < n * channels; ++i)
    s.local_sums[2 * i] = local[i].sum, s.local_sums[2 * i + 1] = local[i].m2;
  ctx.exchange->all(s.local_sums, s.all_sums);
  s.all_moments.resize(s.all_sums.size() / 2);
  for (std::size_t i = 0; i < s.all_moments.size(); ++i)
    s.all_moments[i] = {s.all_sums[2 * i], s.all_sums[2 * i + 1]};
  return s.all_moments.data();
}

/// The executor of training stage S of plan P, as its record names it; each specialization lives in model/stages/
/// and provides forward(nodes, x, y, n, keep, scratch, ctx) and backward(nodes, dy, dx, n, keep, scratch, ctx) over
/// the chain's nodes (a hana tuple, layer i at index i).
template <class P, std::size_t S, executor E = P::records[S].exec>
struct train_stage;

}  // namespace fusenet::detail
