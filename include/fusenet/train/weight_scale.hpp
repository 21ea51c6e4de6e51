// SPDX-License-Identifier: MIT
// scale_weights: multiply a model's initial conv and dense weights by a factor, to study sensitivity to the init.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace fusenet {

/// Multiplies every weight kernel and matrix of m by `factor`: the parameters named "<...>weight" of rank 2 or
/// more, i.e. conv2d's O×I×KH×KW and dense/linear's Out×In weights. Biases and BatchNorm's γ (rank 1) and the
/// running statistics are left alone, so factor 1 keeps PyTorch's default init and 0.1 or 10 scale it.
/// Call it right after constructing the model (before the optimizer's first step).
/// Returns the number of tensors scaled. Throws std::invalid_argument for a factor that is not finite and > 0.
/// Example: examples/bn_ablation.cpp
template <class Model>
std::size_t scale_weights(Model& m, float factor) {
  if (!(factor > 0.0f) || factor == factor * 2.0f)  // rejects 0, negatives, NaN and inf
    throw std::invalid_argument("fusenet: scale_weights: factor must be finite and > 0, got " + std::to_string(factor));
  std::size_t scaled = 0;
  for (const auto& t : m.tensors()) {
    const std::string& n = t.name;
    const bool is_weight = n.size() >= 6 && n.compare(n.size() - 6, 6, "weight") == 0;
    if (t.value == nullptr || t.grad == nullptr || t.spec.rank < 2 || !is_weight) continue;
    for (std::size_t i = 0; i < t.spec.size(); ++i) t.value[i] *= factor;
    ++scaled;
  }
  return scaled;
}

}  // namespace fusenet
