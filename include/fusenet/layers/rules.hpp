// SPDX-License-Identifier: MIT
// The shape rules a layer can impose on its input: one constexpr predicate and one concept per rule.
#pragma once

#include <cstddef>

#include "fusenet/shape.hpp"

namespace fusenet {

namespace rule {
constexpr bool spatial(dims in) { return in.rank == 3; }
constexpr bool flat(dims in) { return in.rank == 1; }
constexpr bool groups_divide(dims in, std::size_t out_channels, std::size_t groups) {
  return in.d[0] % groups == 0 && out_channels % groups == 0;
}
// The (dilated) window fits into the padded input in both directions, so the output is not empty.
constexpr bool window_fits(dims in, std::size_t span, std::size_t pad) {
  return span <= in.d[1] + 2 * pad && span <= in.d[2] + 2 * pad;
}
// PyTorch's pooling rule: "pad should be at most half of effective kernel size".
constexpr bool padding_at_most_half(std::size_t window, std::size_t pad) { return 2 * pad <= window; }
}  // namespace rule

/// The input reaching the layer is an image (C×H×W), not flat features.
template <class Layer, class In>
concept input_is_spatial = rule::spatial(In::value);

/// The input reaching the layer is flat features: dense and linear need a flatten before them.
template <class Layer, class In>
concept input_is_flat = rule::flat(In::value);

/// groups divides both the incoming channels and the layer's output channels.
template <class Layer, class In>
concept groups_divide_channels = rule::groups_divide(In::value, Layer::out_channels, Layer::group_count);

/// The (dilated) kernel fits into the padded input, so the convolution has at least one output.
template <class Layer, class In>
concept kernel_fits_input = rule::window_fits(In::value, Layer::window_span, Layer::pad);

/// The pooling window fits into the padded input, so the pooling has at least one output.
template <class Layer, class In>
concept window_fits_input = rule::window_fits(In::value, Layer::window_span, Layer::pad);

/// Pooling padding is at most half the window, as PyTorch requires.
template <class Layer, class In>
concept padding_fits_window = rule::padding_at_most_half(Layer::window_span, Layer::pad);

/// The declared input features of linear<In, Out> equal the flattened size of what reaches it.
template <class Layer, class In>
concept in_features_match = Layer::in_features == In::size;

/// A residual block's output has the shape of its shortcut: its input, or the projection's output.
template <class Layer, class In>
concept block_matches_shortcut = Layer::shapes_agree(In::value);

}  // namespace fusenet
