// SPDX-License-Identifier: MIT
// flatten: C×H×W becomes C·H·W features, as torch.nn.Flatten.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "fusenet/layers/tensor_spec.hpp"
#include "fusenet/shape.hpp"

namespace fusenet::layers {

/// Turns C×H×W into C·H·W features in PyTorch's (channel-major) order; flat input passes unchanged.
/// Example: examples/fashion_mnist.cpp
struct flatten {
  static constexpr std::string_view kind = "flatten";
  static constexpr bool accepts(dims in) { return in.valid(); }
  static constexpr dims output(dims in) { return features(in.size()); }
  template <class In, class Before>
  struct check {};
  static constexpr std::size_t tensor_count = 0;
  static constexpr std::array<tensor_spec, 0> tensors(dims) { return {}; }
  static constexpr std::size_t mac_count(dims) { return 0; }
  static std::string name() { return "flatten"; }
};

}  // namespace fusenet::layers
