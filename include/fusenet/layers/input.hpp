// SPDX-License-Identifier: MIT
// input<C, H, W> / input<F>: the per-sample shape a network starts from.
#pragma once

#include <type_traits>

#include "fusenet/shape.hpp"

namespace fusenet::layers {

/// The shape of one sample entering the network: input<C, H, W> for images, input<F> for features.
template <std::size_t... D>
struct input {
  static_assert(sizeof...(D) == 1 || sizeof...(D) == 3,
                "fusenet: input<...>: write input<C, H, W> for images or input<F> for features");
  static_assert(((D > 0) && ...), "fusenet: input<...>: every dimension must be at least 1");
  using shape_type = shape<D...>;
  static constexpr dims value = shape<D...>::value;
};

}  // namespace fusenet::layers

namespace fusenet {
template <class T>
struct is_input : std::false_type {};
template <std::size_t... D>
struct is_input<layers::input<D...>> : std::true_type {};
}  // namespace fusenet
