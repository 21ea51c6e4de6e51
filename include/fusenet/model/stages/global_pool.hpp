// SPDX-License-Identifier: MIT
// The global_pool executor: global average pooling (nn.AdaptiveAvgPool2d(1)) of NHWC or NCHW activations.
#pragma once

#include <cstddef>

#include "fusenet/kernels/global_avg_pool.hpp"
#include "fusenet/kernels/scalar/pool.hpp"
#include "fusenet/model/stages/common.hpp"

namespace fusenet::detail {

/// A global average pool reading its producer's layout as written (unbordered): NHWC sums channel vectors pixel
/// by pixel, NCHW sums each plane. The C×1×1 result is the same in both layouts.
template <class P, std::size_t S>
class infer_stage<P, S, executor::global_pool> {
  using F = infer_stage_facts<P, S>;
  static constexpr std::size_t c = F::in.d[0], pixels = F::in.d[1] * F::in.d[2];
  static_assert(F::rec.in_border == 0, "fusenet: plan: a global pool reads unbordered activations");

 public:
  static constexpr std::size_t gemm_floats = 0;
  using state = no_stage_state;

  void load(const tensor_lookup&, state&) {}

  void run(const float* x, float* y, std::size_t n, infer_buffers& buf, state&) const {
    float* out = F::rec.out_layout == layout::nhwc ? buf.a : y;
    if constexpr (F::rec.in_layout == layout::nhwc) kernels::global_avg_pool_nhwc<c, pixels>(x, out, n);
    else kernels::scalar::global_avg_pool_forward(n, c, pixels, x, out);
    if constexpr (F::rec.out_layout == layout::nhwc) hand_over<P, S>(buf.a, y, n);
  }
};

}  // namespace fusenet::detail
