// SPDX-License-Identifier: MIT
// A fused training stage, conv2d → batch_norm [→ relu] [→ 2×2 max pool] or dense → batch_norm [→ relu],
// run over the nodes that own its tensors: the convolution also takes each output plane's moments while
// it is in cache, one pass normalises, activates and pools; backward goes back through all of them in
// one pass to dz, then through the convolution or dense layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "fusenet/kernels/batch_norm_relu_pool.hpp"
#include "fusenet/kernels/batch_norm_relu_pool_nhwc.hpp"
#include "fusenet/kernels/batch_stats.hpp"
#include "fusenet/kernels/conv2d_direct.hpp"
#include "fusenet/kernels/conv2d_gemm.hpp"
#include "fusenet/kernels/linear_gemm.hpp"
#include "fusenet/model/node.hpp"
#include "fusenet/plan/stage.hpp"

namespace fusenet::detail {

/// What a fused stage's forward keeps for its backward besides the conv output: per output, the ReLU/pool
/// code and (with the pool) the conv output it came from.
struct fused_stage_cache {
  std::vector<std::uint8_t> code;
  std::vector<float> picked;
  kernels::conv2d_direct_state conv;  // packed weights and NHWC input, when the conv runs on the direct kernel
};

/// The direct-kernel convolution of a conv2d node (kernels/conv2d_direct.hpp), or void when the layer is
/// strided, dilated or grouped, or its padding is not less than its kernel.
template <class Head, bool Conv = is_kind<layer_op::conv2d, typename Head::layer>>
struct direct_conv_for {
  using type = void;
};
template <class Head>
struct direct_conv_for<Head, true> {
  using L = typename Head::layer;
  using type = std::conditional_t<L::step == 1 && L::dil == 1 && L::group_count == 1 && L::pad < L::kernel,
                                  kernels::conv2d_direct<Head::in.d[0], L::out_channels, Head::in.d[1],
                                                         Head::in.d[2], L::kernel, L::pad>,
                                  void>;
};

/// Scratch the fused stages of one chain share (they run one after another, with different sizes).
struct train_stage_scratch {
  std::vector<kernels::plane_moments> moments;
  std::vector<double> mean, var;
  std::vector<float> dz;         // the gradient at the conv or dense output
  std::vector<float> dz_planes;  // dz as NCHW, when a direct conv's input gradient falls back to the GEMM
  std::vector<float> grad;       // the NHWC epilogue's masked output gradient

  /// v with at least `size` elements: grown, never shrunk, so stages of different sizes do not
  /// reallocate and refill it on every step.
  template <class T>
  static T* at_least(std::vector<T>& v, std::size_t size) {
    if (v.size() < size) v.resize(size);
    return v.data();
  }
};

/// Layers [first, first + St.count) of a chain, planned as one training stage St: a conv2d or dense
/// Head, then a batch_norm Norm [, relu] [, 2×2 max pool]. A dense output N×F is the N×F×1×1 case of
/// the convolution's N×C×H×W: the same epilogue kernels run both.
template <stage St, class Head, class Norm>
struct batch_norm_stage {
  static_assert((St.kind == stage_kind::conv || St.kind == stage_kind::dense) && St.batch_norm &&
                St.pool != stage_pool::avg && !St.flatten);
  static constexpr bool conv = St.kind == stage_kind::conv;
  using direct = typename direct_conv_for<Head>::type;
  /// Whether the convolution runs on the direct kernel (else im2col + GEMM), and its input gradient too.
  static constexpr bool direct_forward = [] {
    if constexpr (std::is_void_v<direct>) return false;
    else return direct::forward_supported;
  }();
  static constexpr bool direct_input_grad = [] {
    if constexpr (std::is_void_v<direct>) return false;
    else return direct::input_grad_supported;
  }();

  static kernels::batch_norm_relu_pool_geometry epilogue(std::size_t n) {
    if constexpr (conv) {
      return {n, Head::out.d[0], Head::out.d[1], Head::out.d[2], St.relu, St.pool == stage_pool::max};
    } else {
      return {n, Head::out.size(), 1, 1, St.relu, false};
    }
  }

  /// Train-mode forward of x: z = head(x) (kept for backward), the batch statistics of z (running
  /// statistics updated), y = the stage's output, record = what backward needs of the ReLU and pool.
  static void forward(Head& head, Norm& norm, const float* x, float* z, float* y, fused_stage_cache& record,
                      train_stage_scratch& s, std::size_t n, run_context& ctx) {
    norm.begin_batch_statistics(n);
    const auto e = epilogue(n);
    auto* moments = s.at_least(s.moments, n * e.channels);
    double* mean = s.at_least(s.mean, e.channels);
    double* var = s.at_least(s.var, e.channels);
    record.code.resize(n * e.channels * e.out_plane());
    if (e.pool) record.picked.resize(record.code.size());
    if constexpr (direct_forward) {
      // z stays in the direct kernel's NHWC; the convolution takes each image's moments while it is in cache.
      direct::forward(x, head.value(0), head.bias_ptr(), z, n, record.conv, moments);
      kernels::merge_plane_moments(moments, n, e.channels, e.plane(), mean, var);
      kernels::batch_norm_relu_pool_nhwc_forward(e, z, mean, var, norm.value(0), norm.value(1),
                                                 static_cast<float>(Norm::layer::epsilon), y, record.code.data(),
                                                 record.picked.data(), norm.batch_mean(), norm.batch_var(),
                                                 *ctx.workspace);
      norm.end_batch_statistics(n);
      return;
    } else if constexpr (conv) {
      kernels::conv2d_forward(head.geometry(n), x, head.value(0), head.bias_ptr(), z, *ctx.workspace, moments);
    } else {
      kernels::linear_forward(n, Head::in.size(), e.channels, x, head.value(0), head.bias_ptr(), z);
      for (std::size_t i = 0; i < n * e.channels; ++i) moments[i] = {static_cast<double>(z[i]), 0.0};
    }
    kernels::merge_plane_moments(moments, n, e.channels, e.plane(), mean, var);
    kernels::batch_norm_relu_pool_forward(e, z, mean, var, norm.value(0), norm.value(1),
                                          static_cast<float>(Norm::layer::epsilon), y, record.code.data(),
                                          record.picked.data(), norm.batch_mean(), norm.batch_var());
    norm.end_batch_statistics(n);
  }

  /// Backward of the last forward, given dy at the stage's output: accumulates the BatchNorm's and the
  /// head's parameter gradients and writes dx unless nullptr.
  static void backward(Head& head, Norm& norm, const float* x, const float* z, const fused_stage_cache& record,
                       const float* dy, float* dx, train_stage_scratch& s, std::size_t n, run_context& ctx) {
    const auto e = epilogue(n);
    if constexpr (direct_forward) {
      // Each image's dz goes straight into the bordered NHWC the direct kernel's backward reads, on the
      // thread that then convolves it, while it is in cache.
      const kernels::batch_norm_relu_pool_nhwc_gradient<> gradient(
          e, z, norm.value(0), norm.batch_mean(), norm.batch_var(), static_cast<float>(Norm::layer::epsilon), dy,
          record.code.data(), record.picked.data(), norm.grad(0), norm.grad(1), s.grad);
      auto dz_of = [&gradient](std::size_t i, float* scratch) {
        gradient.image(i, scratch, direct::grad_pad);
        return static_cast<const float*>(scratch);
      };
      direct::backward_from(dz_of, direct_input_grad ? dx : nullptr, head.grad(0), head.bias_grad_ptr(), n,
                            record.conv, *ctx.workspace);
      if (!direct_input_grad && dx != nullptr) {  // the GEMM convolution gives dx from dz in NCHW
        float* bordered = s.at_least(s.dz, direct::dz_image);
        float* planes = s.at_least(s.dz_planes, n * e.channels * e.plane());
        for (std::size_t i = 0; i < n; ++i) {
          gradient.image(i, bordered, direct::grad_pad);
          kernels::nhwc_to_nchw<Head::out.d[0], Head::out.d[1], Head::out.d[2], direct::grad_pad>(
              bordered, planes + i * e.channels * e.plane(), 1);
        }
        kernels::conv2d_backward(head.geometry(n), x, head.value(0), planes, dx, nullptr, nullptr, *ctx.workspace);
      }
      return;
    }
    float* dz = s.at_least(s.dz, n * e.channels * e.plane());
    kernels::batch_norm_relu_pool_backward(e, z, norm.value(0), norm.batch_mean(), norm.batch_var(),
                                           static_cast<float>(Norm::layer::epsilon), dy, record.code.data(),
                                           record.picked.data(), dz, norm.grad(0), norm.grad(1));
    if constexpr (conv) {
      kernels::conv2d_backward(head.geometry(n), x, head.value(0), dz, dx, head.grad(0), head.bias_grad_ptr(),
                               *ctx.workspace);
    } else {
      kernels::linear_backward(n, Head::in.size(), e.channels, x, head.value(0), dz, dx, head.grad(0),
                               head.bias_grad_ptr());
    }
  }
};

}  // namespace fusenet::detail
