// SPDX-License-Identifier: MIT
// The direct_conv executor: conv (stride 1 or 2) + bias + ReLU + 2×2 pool in registers on bordered NHWC
// (kernels/conv_blocked.hpp).
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "fusenet/kernels/conv_blocked.hpp"
#include "fusenet/kernels/layout.hpp"
#include "fusenet/model/stages/common.hpp"

namespace fusenet::detail {

/// A conv stage on the direct kernel, folded weights packed once as [Cout/V][K][K][Cin][V]. It reads the bordered
/// NHWC its producer wrote (or converts the user's NCHW when it is the first stage) and writes the layout and
/// border of its plan record (NHWC directly; NCHW through a scratch image).
template <class P, std::size_t S>
class infer_stage<P, S, executor::direct_conv> {
  using F = infer_stage_facts<P, S>;
  using L = typename F::layer;
  static constexpr std::size_t cin = F::main_in.d[0], h = F::main_in.d[1], w = F::main_in.d[2];
  static constexpr std::size_t cout = L::out_channels, k = L::kernel, pad = L::pad, stride = L::step;
  static constexpr std::size_t window = F::st.pool == stage_pool::none ? 1 : 2;
  using pool = std::conditional_t<F::st.pool == stage_pool::avg, kernels::pool_avg, kernels::pool_max>;
  using act = std::conditional_t<F::st.relu, kernels::act_relu, kernels::act_none>;
  static_assert(F::rec.in_layout == layout::nhwc || S == 0, "fusenet: plan: a direct conv reads bordered NHWC");
  static_assert(F::rec.in_layout == layout::nchw || F::rec.in_border >= pad,
                "fusenet: plan: the producer of a direct conv writes at least its padding as the border");
  // the border of the image the kernel reads: the producer's, or the padding when this stage converts NCHW
  static constexpr std::size_t in_border = F::rec.in_layout == layout::nhwc ? F::rec.in_border : pad;
  // a residual block's last conv adds the block's shortcut in its epilogue when the plan says so
  using shortcut = std::conditional_t<F::rec.adds_shortcut,
                                      kernels::add_shortcut<F::rec.shortcut_border, F::rec.relu_after_add>,
                                      kernels::no_shortcut>;
  static_assert(!F::rec.adds_shortcut || (window == 1 && F::rec.out_layout == layout::nhwc),
                "fusenet: plan: a conv adds a shortcut only unpooled, into bordered NHWC");

 public:
  static constexpr std::size_t gemm_floats = 0;
  using state = no_stage_state;

  void load(const tensor_lookup& t, state&) {
    const folded_layer f = fold_stage<P, S>(t);
    weights_.resize(kernels::packed_weights_size<cin, cout, k>);
    kernels::pack_conv_weights<cin, cout, k>(f.weight.data(), weights_.data());
    bias_ = f.bias;
  }

  void run(const float* x, float* y, std::size_t n, infer_buffers& buf, state&) const {
    assert(!F::rec.adds_shortcut || buf.shortcut != nullptr);
    run_nhwc<P, S, pad>(x, y, n, buf, [&](const float* in, float* out, auto border) {
      kernels::conv_stride_bias_relu_pool<stride, in_border, cin, cout, h, w, k, pad, window, pool, act,
                                          decltype(border)::value, xsimd::default_arch, shortcut>(
          in, weights_.data(), bias_.data(), out, n, buf.shortcut);
    });
  }

 private:
  kernels::aligned_vector<float> weights_;
  std::vector<float> bias_;
};

}  // namespace fusenet::detail
