// SPDX-License-Identifier: MIT
// sequential<input<...>, layers...>: a network as a flat list of layer types, operator>> to build it,
// and the shape propagation that checks every layer at compile time.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>

#include "fusenet/detail/chain.hpp"
#include "fusenet/detail/type_list.hpp"
#include "fusenet/layers/input.hpp"
#include "fusenet/shape.hpp"

namespace fusenet {

/// Anything usable as a layer of a network: a tag type with a shape rule.
template <class L>
concept layer_kind = requires(dims d) {
  L::kind;
  { L::accepts(d) } -> std::same_as<bool>;
  { L::output(d) } -> std::same_as<dims>;
};

namespace detail {
/// Whether every value is true. A loop over an array, not a fold expression: clang 14 rejects folds over more
/// than 256 elements ("exceeded expression nesting limit of 256"), so a 512-layer network would not compile.
template <std::size_t N>
constexpr bool all_of(const bool (&values)[N]) {
  for (bool v : values)
    if (!v) return false;
  return true;
}

template <class Input>
constexpr dims input_dims() {
  if constexpr (is_input<Input>::value) return Input::value;
  else return dims{};
}
}  // namespace detail

/// A network: input<C, H, W> or input<F>, then the layers in reading order.
/// Every layer's input shape is computed and checked at compile time; see output_shape, summary.
/// Example: examples/fashion_mnist.cpp
template <class... Layers>
struct sequential {
  static_assert(sizeof...(Layers) > 0,
                "fusenet: sequential<>: an empty network; write sequential<input<C, H, W>, layers...>");
  // Placeholders, so that output_shape<sequential<>> and the counts give no errors after the one above.
  using layer_list = detail::type_list<>;
  using chain_type = detail::chain<>;
  static constexpr std::size_t layer_count = 0;
  static constexpr dims input_shape{};
  static constexpr std::array<detail::step_facts, 0> steps{};
  static constexpr bool checked = false;
  static constexpr dims output_dims{};
};

template <class Input, class... Layers>
struct sequential<Input, Layers...> {
  static_assert(is_input<Input>::value,
                "fusenet: sequential<...>: a network starts with input<C, H, W> or input<F>");
  static_assert(sizeof...(Layers) > 0, "fusenet: sequential<input<...>>: the network has no layers after input");
  static_assert(detail::all_of({true, layer_kind<Layers>...}),
                "fusenet: sequential<...>: every entry after input must be a layer");

  using input_type = Input;
  using layer_list = detail::type_list<Layers...>;
  using chain_type = detail::chain<Layers...>;
  static constexpr std::size_t layer_count = sizeof...(Layers);
  static constexpr dims input_shape = detail::input_dims<Input>();
  /// Per layer: input and output shape, and whether the layer accepted its input.
  static constexpr auto steps = chain_type::run(input_shape);
  /// Whether every layer accepts its input; reading it instantiates the checks (a failed one is a compile error).
  static constexpr bool checked = detail::checks_pass<sequential, layer_list>();
  static constexpr dims output_dims = layer_count ? steps[layer_count - 1].out : dims{};
};

template <class... Layers, class Layer>
  requires layer_kind<Layer>
constexpr sequential<Layers..., Layer> operator>>(sequential<Layers...>, Layer) {
  return {};
}

namespace layers {
/// input<...>{} >> layer{} starts the expression form of a network; it builds the same sequential<> type.
template <std::size_t... D, class Layer>
  requires layer_kind<Layer>
constexpr sequential<input<D...>, Layer> operator>>(input<D...>, Layer) {
  return {};
}
}  // namespace layers

}  // namespace fusenet
