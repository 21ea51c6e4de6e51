// SPDX-License-Identifier: MIT
// The view of one trainable tensor that models hand to optimizers.
#pragma once

#include <concepts>
#include <cstddef>
#include <string>
#include <vector>

namespace fusenet {

/// One trainable tensor of a model: its state_dict key, values and accumulated gradient (same
/// size).
struct param_view {
  std::string name;
  float* value;
  float* grad;
  std::size_t size;
};

/// Something that lists its trainable tensors in state_dict order, as models do.
template <class Model>
concept parameter_source = requires(Model& m) {
  { m.parameters() } -> std::convertible_to<std::vector<param_view>>;
};

}  // namespace fusenet
