// SPDX-License-Identifier: MIT
// A fused training stage, conv2d → batch_norm [→ relu] [→ 2×2 max pool], run over the nodes that own its
// tensors: the convolution also takes each output plane's moments while it is in cache, one pass
// normalises, activates and pools; backward goes back through all of them in one pass to dz, then
// through the convolution.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fusenet/kernels/batch_norm_relu_pool.hpp"
#include "fusenet/kernels/batch_stats.hpp"
#include "fusenet/kernels/conv2d_gemm.hpp"
#include "fusenet/model/node.hpp"
#include "fusenet/plan/stage.hpp"

namespace fusenet::detail {

/// What a fused stage's forward keeps for its backward besides the conv output: per output, the ReLU/pool
/// code and (with the pool) the conv output it came from.
struct stage_record {
  std::vector<std::uint8_t> code;
  std::vector<float> picked;
};

/// Scratch the fused stages of one chain share (they run one after another, with different sizes).
struct train_stage_scratch {
  std::vector<kernels::plane_moments> moments;
  std::vector<double> mean, var;
  std::vector<float> dz;  // the gradient at the convolution's output

  /// v with at least `size` elements: grown, never shrunk, so stages of different sizes do not
  /// reallocate and refill it on every step.
  template <class T>
  static T* at_least(std::vector<T>& v, std::size_t size) {
    if (v.size() < size) v.resize(size);
    return v.data();
  }
};

/// Layers [first, first + St.count) of a chain, planned as one training stage St (kind conv, with
/// batch_norm): Conv and Norm are the nodes of the conv2d and the batch_norm.
template <stage St, class Conv, class Norm>
struct conv_batch_norm_stage {
  static_assert(St.kind == stage_kind::conv && St.batch_norm && St.pool != stage_pool::avg);

  static kernels::batch_norm_relu_pool_geometry epilogue(std::size_t n) {
    return {n, Conv::out.d[0], Conv::out.d[1], Conv::out.d[2], St.relu, St.pool == stage_pool::max};
  }

  /// Train-mode forward of x: z = conv(x) (kept for backward), the batch statistics of z (running
  /// statistics updated), y = the stage's output, code = what backward needs of the ReLU and pool.
  static void forward(Conv& conv, Norm& norm, const float* x, float* z, float* y, stage_record& record,
                      train_stage_scratch& s, std::size_t n, run_context& ctx) {
    norm.begin_batch_statistics(n);
    const auto e = epilogue(n);
    auto* moments = s.at_least(s.moments, n * e.channels);
    double* mean = s.at_least(s.mean, e.channels);
    double* var = s.at_least(s.var, e.channels);
    record.code.resize(n * e.channels * e.out_plane());
    if (e.pool) record.picked.resize(record.code.size());
    kernels::conv2d_forward(conv.geometry(n), x, conv.value(0), conv.bias_ptr(), z, *ctx.workspace, moments);
    kernels::merge_plane_moments(moments, n, e.channels, e.plane(), mean, var);
    kernels::batch_norm_relu_pool_forward(e, z, mean, var, norm.value(0), norm.value(1),
                                          static_cast<float>(Norm::layer::epsilon), y, record.code.data(), record.picked.data(),
                                          norm.batch_mean(), norm.batch_var());
    norm.end_batch_statistics(n);
  }

  /// Backward of the last forward, given dy at the stage's output: accumulates the BatchNorm's and the
  /// convolution's parameter gradients and writes dx unless nullptr.
  static void backward(Conv& conv, Norm& norm, const float* x, const float* z, const stage_record& record,
                       const float* dy, float* dx, train_stage_scratch& s, std::size_t n, run_context& ctx) {
    const auto e = epilogue(n);
    float* dz = s.at_least(s.dz, n * e.channels * e.plane());
    kernels::batch_norm_relu_pool_backward(e, z, norm.value(0), norm.batch_mean(), norm.batch_var(),
                                           static_cast<float>(Norm::layer::epsilon), dy, record.code.data(), record.picked.data(), dz,
                                           norm.grad(0), norm.grad(1));
    kernels::conv2d_backward(conv.geometry(n), x, conv.value(0), dz, dx, conv.grad(0), conv.bias_grad_ptr(),
                             *ctx.workspace);
  }
};

}  // namespace fusenet::detail
