// SPDX-License-Identifier: MIT
// Compile-time facts about a network: shapes after each layer, parameter, MAC and activation counts.
#pragma once

#include <cstddef>

#include "fusenet/sequential.hpp"

namespace fusenet {

namespace detail {
template <class Net>
constexpr auto checked_output_shape() {
  // The copy into a local works around an internal compiler error of GCC 12 on shape_t<Net::output_dims>.
  constexpr dims out = Net::output_dims;
  if constexpr (Net::checked) return shape_t<out>{};
  else return invalid_shape{};
}
}  // namespace detail

/// The per-sample shape the network produces, e.g. shape<10>{}; checks every layer on first use.
template <class Net>
inline constexpr auto output_shape = detail::checked_output_shape<Net>();

/// The per-sample shape after layer I (counting from 0, input not counted, as PyTorch's Sequential).
template <class Net, std::size_t I>
  requires(I < Net::layer_count)
inline constexpr auto shape_after = typename detail::step_at<Net, I>::out_shape{};

/// Trainable parameters (weights and biases; BatchNorm running statistics are buffers and do not count).
template <class Net>
inline constexpr std::size_t param_count = Net::checked ? Net::chain_type::param_count(Net::input_shape) : 0;

/// Multiply-accumulates of one sample's forward pass (convolutions and dense layers).
template <class Net>
inline constexpr std::size_t mac_count = Net::checked ? Net::chain_type::mac_count(Net::input_shape) : 0;

/// Bytes of float32 activations one sample produces across all layers (what a trainer caches per sample).
template <class Net>
inline constexpr std::size_t activation_bytes =
    Net::checked ? Net::chain_type::activation_floats(Net::input_shape) * sizeof(float) : 0;

/// The type of layer I (counting from 0, input not counted).
template <class Net, std::size_t I>
using layer_t = detail::type_at_t<I, typename Net::layer_list>;

/// Trainable parameters of layer I alone.
template <class Net, std::size_t I>
  requires(I < Net::layer_count)
inline constexpr std::size_t layer_param_count = detail::layer_param_count<layer_t<Net, I>>(Net::steps[I].in);

/// Multiply-accumulates of layer I alone, per sample.
template <class Net, std::size_t I>
  requires(I < Net::layer_count)
inline constexpr std::size_t layer_mac_count = layer_t<Net, I>::mac_count(Net::steps[I].in);

}  // namespace fusenet
