// SPDX-License-Identifier: MIT
// The train_gemm_conv and train_dense executors: conv2d (im2col + GEMM) or dense, then batch_norm [→ relu]
// [→ 2×2 max pool] on NCHW. The head gives z and its per-plane moments, one pass normalises with the batch
// statistics, activates and pools; backward goes back through all of them in one pass to dz, then through the head.
// A dense output N×F is the N×F×1×1 case of the convolution's N×C×H×W: the same epilogue kernels run both.
#pragma once

#include <boost/hana/at.hpp>
#include <cstddef>
#include <type_traits>

#include "fusenet/kernels/batch_norm_relu_pool.hpp"
#include "fusenet/kernels/conv2d_gemm.hpp"
#include "fusenet/kernels/linear_gemm.hpp"
#include "fusenet/model/stages/train_common.hpp"

namespace fusenet::detail {

template <class P, std::size_t S, bool Conv>
struct train_batch_norm_stage {
  using F = train_stage_facts<P, S>;
  static constexpr std::size_t first = F::st.first;

  template <class Nodes>
  static void forward(Nodes& nodes, const float* x, float* y, std::size_t n, train_stage_keep& keep,
                      train_stage_scratch& s, run_context& ctx) {
    auto& head = boost::hana::at_c<first>(nodes);
    auto& norm = boost::hana::at_c<first + 1>(nodes);
    using norm_layer = typename std::remove_reference_t<decltype(norm)>::layer;
    const std::size_t total = global_batch(ctx.exchange, n);  // the data-parallel step's, or n
    norm.begin_batch_statistics(total);
    const auto e = F::epilogue(n);
    const fused_forward_buffers b = begin_fused_forward(e, keep, s);
    float* z = keep.head.data();
    if constexpr (Conv) {
      kernels::conv2d_forward(head.geometry(n), x, head.value(0), head.bias_ptr(), z, *ctx.workspace, b.moments);
    } else {
      kernels::linear_forward(n, F::head.in.size(), e.channels, x, head.value(0), head.bias_ptr(), z);
      for (std::size_t i = 0; i < n * e.channels; ++i) b.moments[i] = {static_cast<double>(z[i]), 0.0};
    }
    // synchronized BatchNorm: the statistics exchange sits between the head's pass and the normalising pass
    kernels::merge_plane_moments(global_moments(ctx, b.moments, n, e.channels, s), total, e.channels, e.plane(),
                                 b.mean, b.var);
    kernels::batch_norm_relu_pool_forward(e, z, b.mean, b.var, norm.value(0), norm.value(1),
                                          static_cast<float>(norm_layer::epsilon), y, keep.code.data(),
                                          keep.picked.data(), norm.batch_mean(), norm.batch_var());
    norm.end_batch_statistics(total);
  }

  template <class Nodes>
  static void backward(Nodes& nodes, const float* dy, float* dx, std::size_t n, train_stage_keep& keep,
                       train_stage_scratch& s, run_context& ctx) {
    auto& head = boost::hana::at_c<first>(nodes);
    auto& norm = boost::hana::at_c<first + 1>(nodes);
    using norm_layer = typename std::remove_reference_t<decltype(norm)>::layer;
    const auto e = F::epilogue(n);
    float* dz = s.at_least(s.dz, n * e.channels * e.plane());
    kernels::batch_norm_relu_pool_backward(e, keep.head.data(), norm.value(0), norm.batch_mean(), norm.batch_var(),
                                           static_cast<float>(norm_layer::epsilon), dy, keep.code.data(),
                                           keep.picked.data(), dz, norm.grad(0), norm.grad(1), ctx.exchange);
    if constexpr (Conv) {
      kernels::conv2d_backward(head.geometry(n), keep.input, head.value(0), dz, dx, head.grad(0), head.bias_grad_ptr(),
                               *ctx.workspace);
    } else {
      kernels::linear_backward(n, F::head.in.size(), e.channels, keep.input, head.value(0), dz, dx, head.grad(0),
                               head.bias_grad_ptr());
    }
  }
};

template <class P, std::size_t S>
struct train_stage<P, S, executor::train_gemm_conv> : train_batch_norm_stage<P, S, true> {};
template <class P, std::size_t S>
struct train_stage<P, S, executor::train_dense> : train_batch_norm_stage<P, S, false> {};

}  // namespace fusenet::detail
