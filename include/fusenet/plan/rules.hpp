// SPDX-License-Identifier: MIT
// Why consecutive layers may or may not fuse into one stage: one named predicate per reason.
#pragma once

#include <cstddef>
#include <string_view>

#include "fusenet/shape.hpp"

namespace fusenet {

/// The facts about one layer that fusion decisions read, gathered by pack expansion.
struct layer_facts {
  std::string_view kind;
  std::size_t window = 0;  // pools
  std::size_t step = 0;    // pools
  std::size_t pad = 0;     // pools
};

namespace detail {
template <class Layer>
constexpr layer_facts facts_of() {
  if constexpr (Layer::kind == "max_pool" || Layer::kind == "avg_pool") {
    return {Layer::kind, Layer::window, Layer::step, Layer::pad};
  } else {
    return {Layer::kind};
  }
}
}  // namespace detail

/// A convolution or dense layer can start a fused stage.
constexpr bool fusable_head(const layer_facts& l) {
  return l.kind == "conv2d" || l.kind == "dense" || l.kind == "linear";
}

/// batch_norm after a conv or dense folds into its weights and bias (inference) or into its epilogue's
/// statistics pass (training): W' = W·γ/√(var+ε), b' = (b−mean)·γ/√(var+ε) + β per output channel.
constexpr bool fusable_batch_norm(const layer_facts& l) { return l.kind == "batch_norm"; }

/// relu is applied in registers in the epilogue before the single store.
constexpr bool fusable_activation(const layer_facts& l) { return l.kind == "relu"; }

/// A 2×2, stride-2, unpadded max or average pool reduces the epilogue's tile before the store
/// (the fused kernel's pool window; other pools run as their own stage).
constexpr bool fusable_pool(const layer_facts& l) {
  return (l.kind == "max_pool" || l.kind == "avg_pool") && l.window == 2 && l.step == 2 && l.pad == 0;
}

/// A flatten right before a dense layer costs nothing: the dense stage reads the producer's layout.
constexpr bool fusable_flatten_dense(const layer_facts& flat, const layer_facts& next) {
  return flat.kind == "flatten" && (next.kind == "dense" || next.kind == "linear");
}

/// The facts about a convolution that decide whether the direct bordered-NHWC kernel can run it.
struct conv_facts {
  std::size_t in_channels = 0, out_channels = 0, kernel = 0, stride = 1, dilation = 1, groups = 1;
  std::size_t pad = 0, height = 0, width = 0;
};

/// A convolution runs on the direct kernel (kernels/conv_blocked.hpp) when it is ungrouped, stride 1,
/// undilated, has an odd kernel that fits the padded input, and its output channels fill whole SIMD vectors
/// of vector_width floats (the kernel keeps output channels in the vector lanes).
constexpr bool fusable_direct_conv(const conv_facts& c, std::size_t vector_width) {
  return c.groups == 1 && c.stride == 1 && c.dilation == 1 && c.kernel % 2 == 1 && vector_width > 0 &&
         c.out_channels > 0 && c.out_channels % vector_width == 0 && c.kernel <= c.height + 2 * c.pad &&
         c.kernel <= c.width + 2 * c.pad;
}

}  // namespace fusenet
