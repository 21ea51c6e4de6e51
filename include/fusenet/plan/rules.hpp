// SPDX-License-Identifier: MIT
// Why consecutive layers may or may not fuse into one stage, and which kernel may run a stage: one named
// predicate per reason, each existing once.
#pragma once

#include <cstddef>

#include "fusenet/detail/direct_conv_tile.hpp"
#include "fusenet/detail/pixel_conv_tile.hpp"
#include "fusenet/plan/layer_ops.hpp"
#include "fusenet/shape.hpp"
#include "fusenet/target.hpp"

namespace fusenet {

/// The facts about one layer that fusion and executor decisions read, gathered by pack expansion.
struct layer_facts {
  layer_op op = layer_op::other;
  dims in{}, out{};        // the layer's input and output shape (empty inside a residual block's own plan)
  std::size_t window = 0;  // pools: window; conv2d: kernel
  std::size_t step = 1;    // pools, conv2d: stride
  std::size_t pad = 0;     // pools, conv2d: padding
  std::size_t dilation = 1, groups = 1;  // conv2d
};

namespace detail {
template <class Layer>
constexpr layer_facts facts_of(dims in, dims out) {
  constexpr layer_op op = op_of<Layer>;
  if constexpr (op == layer_op::max_pool || op == layer_op::avg_pool) {
    return {op, in, out, Layer::window, Layer::step, Layer::pad};
  } else if constexpr (op == layer_op::conv2d) {
    return {op, in, out, Layer::kernel, Layer::step, Layer::pad, Layer::dil, Layer::group_count};
  } else {
    return {op, in, out};
  }
}
}  // namespace detail

/// A convolution or dense layer can start a fused stage.
constexpr bool fusable_head(const layer_facts& l) { return l.op == layer_op::conv2d || l.op == layer_op::dense; }

/// batch_norm after a conv or dense folds into its weights and bias (inference) or into its epilogue's
/// statistics pass (training): W' = W·γ/√(var+ε), b' = (b−mean)·γ/√(var+ε) + β per output channel.
constexpr bool fusable_batch_norm(const layer_facts& l) { return l.op == layer_op::batch_norm; }

/// relu is applied in registers in the epilogue before the single store.
constexpr bool fusable_activation(const layer_facts& l) { return l.op == layer_op::relu; }

/// A 2×2, stride-2, unpadded max or average pool reduces the epilogue's tile before the store
/// (the fused kernel's pool window; other pools run as their own stage).
constexpr bool fusable_pool(const layer_facts& l) {
  return (l.op == layer_op::max_pool || l.op == layer_op::avg_pool) && l.window == 2 && l.step == 2 && l.pad == 0;
}

/// Training fuses only the max pool: its backward needs the argmax code the epilogue records.
constexpr bool fusable_train_pool(const layer_facts& l) { return fusable_pool(l) && l.op == layer_op::max_pool; }

/// A flatten right before a dense layer costs nothing: the dense stage reads the producer's layout (its weights'
/// columns are permuted once to match it).
constexpr bool fusable_flatten_dense(const layer_facts& flat, const layer_facts& next) {
  return flat.op == layer_op::flatten && next.op == layer_op::dense;
}

/// flatten and identity pass their input on unchanged: no copy forward, the gradient unchanged backward.
constexpr bool passes_through(const layer_facts& l) { return l.op == layer_op::flatten || l.op == layer_op::identity; }

/// The facts about a convolution that decide whether the direct bordered-NHWC kernel can run it.
struct conv_facts {
  std::size_t in_channels = 0, out_channels = 0, kernel = 0, stride = 1, dilation = 1, groups = 1;
  std::size_t pad = 0, height = 0, width = 0;
  std::size_t pool = 1;  // the pool window fused into the epilogue (1: none, 2: 2×2)
};

/// The convolution facts of a conv2d layer followed by a fused pool of window `pool`.
constexpr conv_facts conv_facts_of(const layer_facts& l, std::size_t pool) {
  return {l.in.d[0], l.out.d[0], l.window, l.step, l.dilation, l.groups, l.pad, l.in.d[1], l.in.d[2], pool};
}

/// The direct kernel's geometry (kernels/conv_blocked.hpp): ungrouped, stride 1 or 2, undilated, an odd kernel
/// that fits the padded input, output channels that fill whole SIMD vectors of the target (they sit in the lanes).
constexpr bool direct_conv_geometry(const conv_facts& c, const target& t) {
  return c.groups == 1 && (c.stride == 1 || c.stride == 2) && c.dilation == 1 && c.kernel % 2 == 1 &&
         t.vector_width > 0 &&
         c.out_channels > 0 && c.out_channels % t.vector_width == 0 && c.kernel <= c.height + 2 * c.pad &&
         c.kernel <= c.width + 2 * c.pad;
}

/// The direct kernel's register tile (accumulators + weight vectors + 1 broadcast) fits the target's register
/// file; a tile that does not would spill silently at half speed, so such a convolution is not run directly.
constexpr bool direct_conv_tile_fits(const conv_facts& c, const target& t) {
  return detail::direct_conv_default_cols(c.in_channels, c.out_channels, c.width, c.kernel, c.pad, c.stride, c.pool,
                                          t.vector_width, t.vector_registers) > 0;
}

/// The depthwise kernel's geometry (kernels/depthwise_conv.hpp): one filter per channel (groups = input channels
/// = output channels), stride 1 or 2, undilated, no pool fused after it, the kernel fitting the padded input, and
/// channels that fill whole SIMD vectors of the target (they sit in the lanes); its smallest tile (one vector,
/// one pixel, a kernel row of weights) fits the register file.
constexpr bool fusable_depthwise_conv(const conv_facts& c, const target& t) {
  return c.groups > 1 && c.groups == c.in_channels && c.groups == c.out_channels && (c.stride == 1 || c.stride == 2) &&
         c.dilation == 1 && c.pool == 1 && t.vector_width > 0 && c.out_channels % t.vector_width == 0 &&
         c.kernel <= c.height + 2 * c.pad && c.kernel <= c.width + 2 * c.pad &&
         detail::depthwise_tile_registers(1, 1, c.kernel) <= t.vector_registers;
}

/// The pointwise kernel (kernels/pointwise_conv.hpp) runs an ungrouped, undilated, unpadded 1×1 convolution at
/// stride 1 with no pool fused after it as a GEMM over all the batch's pixels, when its output channels fill whole
/// SIMD vectors of the target (they sit in the lanes) and a tile fits the register file. The direct kernel tiles
/// only the pixels of one output row (4 of them on a 4×4 map); the pixel GEMM measured 0–20 % faster on
/// MobileNet's 1×1 convs, at batch 1 and 64. A strided 1×1 (a ResNet projection) reads a bordered input pixel by
/// pixel, where the pointwise kernel measured 0–10 % slower than the direct one, so it stays direct.
constexpr bool fusable_pointwise_conv(const conv_facts& c, const target& t) {
  return c.groups == 1 && c.kernel == 1 && c.pad == 0 && c.dilation == 1 && c.pool == 1 && c.stride == 1 &&
         detail::pointwise_default_tile(c.out_channels, t.vector_width, t.vector_registers).pixels > 0;
}

/// A convolution runs on the direct kernel when both its geometry and its register tile suit the target.
constexpr bool fusable_direct_conv(const conv_facts& c, const target& t) {
  return direct_conv_geometry(c, t) && direct_conv_tile_fits(c, t);
}

/// The pixel-lane kernel (kernels/pixel_conv.hpp) runs an ungrouped, undilated convolution with fewer output
/// channels than a vector has lanes (they fill no channel vector: LeNet's 6-channel first conv), output pixels of
/// a row in the lanes, when its output rows (after the pool) fill at least half a vector and its tile fits.
/// It reads NCHW (it splits each image into column phases itself) and writes either layout.
constexpr bool fusable_pixel_conv(const conv_facts& c, const target& t) {
  if (c.groups != 1 || c.dilation != 1 || c.stride == 0 || t.vector_width == 0 || c.out_channels == 0 ||
      c.out_channels >= t.vector_width || c.kernel > c.height + 2 * c.pad || c.kernel > c.width + 2 * c.pad)
    return false;
  const std::size_t wpo = ((c.width + 2 * c.pad - c.kernel) / c.stride + 1) / c.pool;
  const std::size_t hpo = ((c.height + 2 * c.pad - c.kernel) / c.stride + 1) / c.pool;
  return hpo > 0 && 2 * wpo >= t.vector_width &&
         detail::pixel_default_tile(c.out_channels, wpo, c.pool, t.vector_width, t.vector_registers).channels > 0;
}

/// Training runs a convolution with batch statistics on the direct kernel (kernels/conv2d_direct.hpp) when the
/// inference kernel takes it without a pool at stride 1 or 2 and its padding is below its kernel (so that its
/// input gradient is a convolution of the stride-spread dz padded by K − 1 − P ≥ 0). Otherwise it trains on
/// im2col + GEMM.
constexpr bool trainable_direct_conv(const conv_facts& c, const target& t) {
  conv_facts unpooled = c;
  unpooled.pool = 1;
  return (c.stride == 1 || c.stride == 2) && c.pad < c.kernel && fusable_direct_conv(unpooled, t);
}

/// A depthwise convolution (groups = channels, multiplier 1, stride 1 or 2) trains with the channels in the lanes
/// (kernels/depthwise_conv_train.hpp) where the inference kernel takes its unpooled geometry (a pool after it runs
/// in the BatchNorm epilogue) and one kernel row's taps, the dz vector and a temporary fit the register file. On
/// im2col + GEMM it is C GEMMs with one output channel each.
constexpr bool trainable_depthwise_conv(const conv_facts& c, const target& t) {
  conv_facts unpooled = c;
  unpooled.pool = 1;
  return fusable_depthwise_conv(unpooled, t) && c.kernel + 2 <= t.vector_registers;
}

/// The input gradient of a directly trained convolution: dz (Cout channels on the Ho×Wo output, spread by the
/// stride and padded by K − 1 − P) convolved with the flipped, transposed weights into Cin channels. It runs on the direct kernel too
/// when that convolution is one the kernel takes (Cin fills whole vectors, its tile fits); else on the GEMM.
constexpr bool trainable_direct_input_grad(const conv_facts& c, const target& t) {
  if (!trainable_direct_conv(c, t)) return false;
  // dz spread by the stride over H + 2P − K + 1 rows and columns (Ho × Wo at stride 1), see conv2d_direct.hpp
  const std::size_t dh = c.height + 2 * c.pad - c.kernel + 1, dw = c.width + 2 * c.pad - c.kernel + 1;
  const conv_facts transposed{c.out_channels, c.in_channels, c.kernel, 1, 1, 1, c.kernel - 1 - c.pad, dh, dw, 1};
  return fusable_direct_conv(transposed, t);
}

}  // namespace fusenet
