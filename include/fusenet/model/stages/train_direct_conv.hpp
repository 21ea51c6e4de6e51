// SPDX-License-Identifier: MIT
// The train_direct_conv executor: conv2d → batch_norm [→ relu] [→ 2×2 max pool] with the convolution on the direct
// kernel (kernels/conv2d_direct.hpp), on the shared fused conv + BatchNorm stage (train_conv_bn.hpp). Where the plan
// leaves the input gradient to the GEMM convolution, that runs on dz converted to NCHW.
#pragma once

#include <boost/hana/at.hpp>
#include <cstddef>

#include "fusenet/kernels/conv2d_direct.hpp"
#include "fusenet/kernels/conv2d_gemm.hpp"
#include "fusenet/kernels/layout.hpp"
#include "fusenet/model/stages/train_conv_bn.hpp"

namespace fusenet::detail {

/// The plan decided both that this convolution runs here and whether its input gradient does too.
template <class P, std::size_t S, class F = train_stage_facts<P, S>>
using direct_train_kernel = kernels::conv2d_direct<F::head.in.d[0], F::head.out.d[0], F::head.in.d[1], F::head.in.d[2],
                                                   F::head.window, F::head.pad, F::rec.direct_input_grad, F::head.step>;

template <class P, std::size_t S>
struct train_stage<P, S, executor::train_direct_conv> : train_conv_bn_stage<P, S, direct_train_kernel<P, S>> {
  using base = train_conv_bn_stage<P, S, direct_train_kernel<P, S>>;
  using F = train_stage_facts<P, S>;
  using direct = direct_train_kernel<P, S>;

  template <class Nodes>
  static void backward(Nodes& nodes, const float* dy, float* dx, std::size_t n, train_stage_keep& keep,
                       train_stage_scratch& s, run_context& ctx) {
    if constexpr (F::rec.direct_input_grad) {
      base::backward(nodes, dy, dx, n, keep, s, ctx);
    } else {
      base::backward_then(nodes, dy, nullptr, n, keep, s, ctx, [&](const auto& gradient) {
        if (dx == nullptr) return;
        // the GEMM convolution gives dx from dz in NCHW
        constexpr layer_facts c = F::head;
        const auto e = F::epilogue(n);
        float* bordered = s.at_least(s.dz, direct::dz_image);
        float* planes = s.at_least(s.dz_planes, n * e.channels * e.plane());
        for (std::size_t i = 0; i < n; ++i) {
          gradient.image(i, bordered, direct::dz_border);
          kernels::nhwc_to_nchw<c.out.d[0], c.out.d[1], c.out.d[2], direct::dz_border>(
              bordered, planes + i * e.channels * e.plane(), 1);
        }
        auto& head = boost::hana::at_c<F::st.first>(nodes);
        kernels::conv2d_backward(head.geometry(n), keep.input, head.value(0), planes, dx, nullptr, nullptr,
                                 *ctx.workspace);
      });
    }
  }
};

}  // namespace fusenet::detail
