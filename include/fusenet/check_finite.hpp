// SPDX-License-Identifier: MIT
// find_non_finite / check_finite: name the first NaN or infinite value among a model's stored tensors.
#pragma once

#include <cmath>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>

#include "fusenet/model/concepts.hpp"

namespace fusenet {

/// Describes the first NaN or ±Inf among m.tensors() (parameters and running statistics, in state_dict order),
/// or nothing when every value is finite. The text names the state_dict key, the flat element index, its
/// multi-index in the tensor's shape and the value, e.g. "tensor '4.running_var' element 3 [3] is nan".
/// A safetensors load copies bytes verbatim (as PyTorch's load_state_dict does), so a file holding NaN loads
/// fine and only poisons the outputs later; call this after load() to fail early instead.
/// Requires: a model<Net, mode::train>. An inference model is frozen from one (or from a file through one), so
/// check that before freezing; its folded weights have no state_dict names to report.
template <state_dict_model Model>
std::optional<std::string> find_non_finite(const Model& m) {
  for (const auto& t : m.tensors()) {
    if (t.value == nullptr) continue;  // num_batches_tracked is an integer counter
    const std::size_t n = t.spec.size();
    for (std::size_t i = 0; i < n; ++i) {
      const float v = t.value[i];
      if (std::isfinite(v)) continue;
      // Row-major multi-index of element i, the order of the safetensors bytes and of torch's tensor.
      std::string index = "]";
      std::size_t rest = i;
      for (std::size_t d = t.spec.rank; d-- > 0;) {
        const std::size_t extent = t.spec.shape[d];
        index.insert(0, (d > 0 ? ", " : "") + std::to_string(rest % extent));
        rest /= extent;
      }
      index.insert(0, "[");
      const char* what = std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
      return "tensor '" + t.name + "' element " + std::to_string(i) + " " + index + " is " + what;
    }
  }
  return std::nullopt;
}

/// Throws std::domain_error with find_non_finite's description if any stored value of m is NaN or ±Inf.
template <state_dict_model Model>
void check_finite(const Model& m) {
  if (auto problem = find_non_finite(m)) throw std::domain_error("fusenet::check_finite: " + *problem);
}

}  // namespace fusenet
