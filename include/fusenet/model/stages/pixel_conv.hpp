// SPDX-License-Identifier: MIT
// The pixel_conv executor: a convolution with fewer output channels than a vector has lanes, output pixels in the
// lanes, bias + ReLU + 2×2 pool in registers (kernels/pixel_conv.hpp), NCHW in.
#pragma once

#include <cstddef>
#include <type_traits>
#include <vector>

#include "fusenet/kernels/pixel_conv.hpp"
#include "fusenet/model/stages/common.hpp"

namespace fusenet::detail {

/// A conv stage on the pixel-lane kernel, folded weights packed once as [Cin][K][K][Cout]. It reads NCHW (the
/// user's input, or an NCHW producer), splits each image into the kernel's column phases in the stage's scratch,
/// and writes the layout and border of its plan record directly.
template <class P, std::size_t S>
class infer_stage<P, S, executor::pixel_conv> {
  using F = infer_stage_facts<P, S>;
  using L = typename F::layer;
  static constexpr std::size_t cin = F::main_in.d[0], h = F::main_in.d[1], w = F::main_in.d[2];
  static constexpr std::size_t cout = L::out_channels, k = L::kernel, pad = L::pad, stride = L::step;
  static constexpr std::size_t window = F::st.pool == stage_pool::none ? 1 : 2;
  using pool = std::conditional_t<F::st.pool == stage_pool::avg, kernels::pool_avg, kernels::pool_max>;
  using act = std::conditional_t<F::st.relu, kernels::act_relu, kernels::act_none>;
  static constexpr bool out_nhwc = F::rec.out_layout == layout::nhwc;
  static_assert(F::rec.in_layout == layout::nchw, "fusenet: plan: the pixel-lane convolution reads NCHW");
  static_assert(F::rec.work_floats >= kernels::pixel_conv_scratch<cin, cout, h, w, k, stride, pad, window>,
                "fusenet: plan: the pixel-lane convolution's scratch holds its column phases");

 public:
  static constexpr std::size_t gemm_floats = 0;
  using state = no_stage_state;

  void load(const tensor_lookup& t, state&) {
    const folded_layer f = fold_stage<P, S>(t);
    weights_.resize(kernels::pixel_packed_size<cin, cout, k>);
    kernels::pack_pixel_weights<cin, cout, k>(f.weight.data(), weights_.data());
    bias_ = f.bias;
  }

  void run(const float* x, float* y, std::size_t n, infer_buffers& buf, state&) const {
    kernels::pixel_conv<cin, cout, h, w, k, stride, pad, window, pool, act, out_nhwc, F::rec.out_border>(
        x, weights_.data(), bias_.data(), y, n, buf.a);
  }

 private:
  std::vector<float> weights_;
  std::vector<float> bias_;
};

}  // namespace fusenet::detail
