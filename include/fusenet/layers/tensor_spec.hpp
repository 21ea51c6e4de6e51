// SPDX-License-Identifier: MIT
// What a layer stores: the name, role and shape of each of its tensors, as PyTorch's state_dict names them.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace fusenet {

/// Whether a stored tensor is learned, a running statistic, or a step counter.
enum class tensor_role { parameter, buffer, counter };

/// One tensor a layer stores: state_dict suffix ("weight", "running_mean"), role and shape.
struct tensor_spec {
  std::string_view name;
  tensor_role role = tensor_role::parameter;
  std::size_t rank = 0;  // 0 for a scalar (num_batches_tracked)
  std::array<std::size_t, 4> shape{};

  [[nodiscard]] constexpr std::size_t size() const {
    std::size_t s = 1;
    for (std::size_t i = 0; i < rank; ++i) s *= shape[i];
    return s;
  }
};

}  // namespace fusenet
