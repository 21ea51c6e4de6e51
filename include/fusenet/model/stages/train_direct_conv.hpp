// SPDX-License-Identifier: MIT
// The train_direct_conv executor: conv2d → batch_norm [→ relu] [→ 2×2 max pool] with the convolution on the direct
// kernel (kernels/conv2d_direct.hpp). z stays in the kernel's NHWC; the convolution takes each image's channel
// moments while it is in cache, one NHWC pass normalises, activates and pools. Backward writes each image's dz
// into the bordered NHWC the kernel reads, on the thread that then convolves it.
#pragma once

#include <boost/hana/at.hpp>
#include <cstddef>
#include <type_traits>

#include "fusenet/kernels/batch_norm_relu_pool_nhwc.hpp"
#include "fusenet/kernels/conv2d_direct.hpp"
#include "fusenet/kernels/conv2d_gemm.hpp"
#include "fusenet/kernels/layout.hpp"
#include "fusenet/model/stages/train_common.hpp"

namespace fusenet::detail {

template <class P, std::size_t S>
struct train_stage<P, S, executor::train_direct_conv> {
  using F = train_stage_facts<P, S>;
  static constexpr layer_facts c = F::head;
  static constexpr std::size_t first = F::st.first;
  /// The plan decided both that this convolution runs here and whether its input gradient does too.
  using direct = kernels::conv2d_direct<c.in.d[0], c.out.d[0], c.in.d[1], c.in.d[2], c.window, c.pad,
                                        F::rec.direct_input_grad, c.step>;

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
    direct::forward(x, head.value(0), head.bias_ptr(), z, n, keep.conv, b.moments);
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
    auto& head = boost::hana::at_c<first>(nodes);
    auto& norm = boost::hana::at_c<first + 1>(nodes);
    using norm_layer = typename std::remove_reference_t<decltype(norm)>::layer;
    const auto e = F::epilogue(n);
    const kernels::batch_norm_relu_pool_nhwc_gradient<> gradient(
        e, keep.head.data(), norm.value(0), norm.batch_mean(), norm.batch_var(),
        static_cast<float>(norm_layer::epsilon), dy, keep.code.data(), keep.picked.data(), norm.grad(0),
        norm.grad(1), s.grad, ctx.exchange);
    auto dz_of = [&gradient](std::size_t i, float* scratch) {
      gradient.image(i, scratch, direct::dz_border);
      return static_cast<const float*>(scratch);
    };
    direct::backward_from(dz_of, F::rec.direct_input_grad ? dx : nullptr, head.grad(0), head.bias_grad_ptr(), n,
                          keep.conv, *ctx.workspace);
    if constexpr (!F::rec.direct_input_grad) {
      if (dx == nullptr) return;
      // the GEMM convolution gives dx from dz in NCHW
      float* bordered = s.at_least(s.dz, direct::dz_image);
      float* planes = s.at_least(s.dz_planes, n * e.channels * e.plane());
      for (std::size_t i = 0; i < n; ++i) {
        gradient.image(i, bordered, direct::dz_border);
        kernels::nhwc_to_nchw<c.out.d[0], c.out.d[1], c.out.d[2], direct::dz_border>(
            bordered, planes + i * e.channels * e.plane(), 1);
      }
      kernels::conv2d_backward(head.geometry(n), keep.input, head.value(0), planes, dx, nullptr, nullptr,
                               *ctx.workspace);
    }
  }
};

}  // namespace fusenet::detail
