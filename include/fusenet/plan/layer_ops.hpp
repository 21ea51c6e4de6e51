// SPDX-License-Identifier: MIT
// What operation a layer type performs, recognised by its template (never by its name string), so that a plan
// rule cannot silently miss a layer through a typo.
#pragma once

#include <cstddef>

#include "fusenet/layers/all.hpp"

namespace fusenet {

/// The operation of a layer kind, for the planner and the layer runner (a kind not listed is `other`).
enum class layer_op {
  conv2d, dense, batch_norm, relu, leaky_relu, sigmoid, tanh, identity, dropout,
  max_pool, avg_pool, global_avg_pool, flatten, residual, other
};

namespace detail {
template <class Layer>
struct op_of_layer {
  static constexpr layer_op value = layer_op::other;
};
template <std::size_t Out, std::size_t Kernel, class... Options>
struct op_of_layer<layers::conv2d<Out, Kernel, Options...>> {
  static constexpr layer_op value = layer_op::conv2d;
};
template <std::size_t Out, class... Options>
struct op_of_layer<layers::dense<Out, Options...>> {
  static constexpr layer_op value = layer_op::dense;
};
template <std::size_t In, std::size_t Out, class... Options>
struct op_of_layer<layers::linear<In, Out, Options...>> {
  static constexpr layer_op value = layer_op::dense;
};
template <class... Options>
struct op_of_layer<layers::batch_norm_with<Options...>> {
  static constexpr layer_op value = layer_op::batch_norm;
};
template <>
struct op_of_layer<layers::relu> {
  static constexpr layer_op value = layer_op::relu;
};
template <class... Options>
struct op_of_layer<layers::leaky_relu_with<Options...>> {
  static constexpr layer_op value = layer_op::leaky_relu;
};
template <>
struct op_of_layer<layers::sigmoid> {
  static constexpr layer_op value = layer_op::sigmoid;
};
template <>
struct op_of_layer<layers::tanh_> {
  static constexpr layer_op value = layer_op::tanh;
};
template <>
struct op_of_layer<layers::identity> {
  static constexpr layer_op value = layer_op::identity;
};
template <class... Options>
struct op_of_layer<layers::dropout_with<Options...>> {
  static constexpr layer_op value = layer_op::dropout;
};
template <std::size_t K, class... Options>
struct op_of_layer<layers::max_pool<K, Options...>> {
  static constexpr layer_op value = layer_op::max_pool;
};
template <std::size_t K, class... Options>
struct op_of_layer<layers::avg_pool<K, Options...>> {
  static constexpr layer_op value = layer_op::avg_pool;
};
template <>
struct op_of_layer<layers::global_avg_pool> {
  static constexpr layer_op value = layer_op::global_avg_pool;
};
template <>
struct op_of_layer<layers::flatten> {
  static constexpr layer_op value = layer_op::flatten;
};
template <class... Layers>
struct op_of_layer<layers::residual<Layers...>> {
  static constexpr layer_op value = layer_op::residual;
};
}  // namespace detail

/// The operation of Layer (layer_op::other for kinds the planner does not fuse).
template <class Layer>
inline constexpr layer_op op_of = detail::op_of_layer<Layer>::value;

}  // namespace fusenet
