// SPDX-License-Identifier: MIT
// What the fused conv → batch_norm [→ relu] [→ 2×2 max pool] training executors share (train_direct_conv,
// train_depthwise_conv): the convolution kernel writes z in NHWC and takes each image's channel moments while it is
// in cache, one NHWC pass normalises, activates and pools; backward hands each image's dz from the epilogue's
// gradient to the kernel, on the thread that then convolves it. The executors differ only in their kernel.
#pragma once

#include <boost/hana/at.hpp>
#include <cstddef>
#include <type_traits>

#include "fusenet/kernels/batch_norm_relu_pool_nhwc.hpp"
#include "fusenet/model/stages/train_common.hpp"

namespace fusenet::detail {

/// The stage over Kernel, which provides forward(x, w, bias, z, n, state, moments), backward_from(dz_of, dx, dw, db,
/// n, state, workspace) and dz_border (the zero border it reads around each image's dz).
template <class P, std::size_t S, class Kernel>
struct train_conv_bn_stage {
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
    Kernel::forward(x, head.value(0), head.bias_ptr(), z, n, keep.conv, b.moments);
    // synchronized BatchNorm: the statistics exchange sits between the head's pass and the normalising pass
    kernels::merge_plane_moments(global_moments(ctx, b.moments, n, e.channels, s), total, e.channels, e.plane(),
                                 b.mean, b.var);
    kernels::batch_norm_relu_pool_nhwc_forward(e, z, b.mean, b.var, norm.value(0), norm.value(1),
                                               static_cast<float>(norm_layer::epsilon), y, keep.code.data(),
                                               keep.picked.data(), norm.batch_mean(), norm.batch_var(),
                                               *ctx.workspace);
    norm.end_batch_statistics(total);
  }

  template <class Nodes>
  static void backward(Nodes& nodes, const float* dy, float* dx, std::size_t n, train_stage_keep& keep,
                       train_stage_scratch& s, run_context& ctx) {
    backward_then(nodes, dy, dx, n, keep, s, ctx, [](const auto&) {});
  }

  /// backward with the kernel's input gradient written to kernel_dx (skipped if nullptr), then then(gradient) while
  /// the epilogue's gradient still lives: a stage whose kernel leaves dx to another path computes it there.
  template <class Nodes, class Then>
  static void backward_then(Nodes& nodes, const float* dy, float* kernel_dx, std::size_t n, train_stage_keep& keep,
                            train_stage_scratch& s, run_context& ctx, Then&& then) {
    auto& head = boost::hana::at_c<first>(nodes);
    auto& norm = boost::hana::at_c<first + 1>(nodes);
    using norm_layer = typename std::remove_reference_t<decltype(norm)>::layer;
    const auto e = F::epilogue(n);
    const kernels::batch_norm_relu_pool_nhwc_gradient<> gradient(
        e, keep.head.data(), norm.value(0), norm.batch_mean(), norm.batch_var(),
        static_cast<float>(norm_layer::epsilon), dy, keep.code.data(), keep.picked.data(), norm.grad(0),
        norm.grad(1), s.grad, ctx.exchange);
    auto dz_of = [&gradient](std::size_t i, float* scratch) {
      gradient.image(i, scratch, Kernel::dz_border);
      return static_cast<const float*>(scratch);
    };
    Kernel::backward_from(dz_of, kernel_dx, head.grad(0), head.bias_grad_ptr(), n, keep.conv, *ctx.workspace);
    then(gradient);
  }
};

}  // namespace fusenet::detail
