// SPDX-License-Identifier: MIT
// The common part of layers that keep their input's shape and accept any input.
#pragma once

#include <array>

#include "fusenet/layers/tensor_spec.hpp"
#include "fusenet/shape.hpp"

namespace fusenet::layers::detail {

/// Base of shape-preserving layers: accepts every shape, returns it, stores no tensors, costs no MACs.
struct shape_preserving {
  static constexpr bool accepts(dims in) { return in.valid(); }
  static constexpr dims output(dims in) { return in; }
  template <class In, class Before>
  struct check {};
  static constexpr std::size_t tensor_count = 0;
  static constexpr std::array<tensor_spec, 0> tensors(dims) { return {}; }
  static constexpr std::size_t mac_count(dims) { return 0; }
};

}  // namespace fusenet::layers::detail
