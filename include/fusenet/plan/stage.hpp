// SPDX-License-Identifier: MIT
// A stage of a plan: consecutive layers that run as one loop, described as a constexpr value.
#pragma once

#include <cstddef>

namespace fusenet {

/// What a stage computes.
enum class stage_kind {
  conv,    ///< conv2d [+ batch_norm] [+ relu] [+ 2×2 pool]
  dense,   ///< [flatten +] dense/linear [+ batch_norm] [+ relu]
  residual,  ///< inference: residual [+ relu]; the block and the shortcut have execution plans of their own
  single,  ///< any other layer, alone
};

/// The pooling folded into a conv stage's epilogue.
enum class stage_pool { none, max, avg };

/// One stage: layers [first, first + count) of the network and what was folded into it.
struct stage {
  std::size_t first = 0;
  std::size_t count = 0;
  stage_kind kind = stage_kind::single;
  bool flatten = false;  // a dense stage that starts with the flatten before it
  bool batch_norm = false;
  bool relu = false;
  stage_pool pool = stage_pool::none;

  /// Whether more than one layer runs in this stage's loop.
  [[nodiscard]] constexpr bool fused() const { return count > 1; }
  /// Index of the stage's main layer (the conv2d or dense; the layer itself for a single stage).
  [[nodiscard]] constexpr std::size_t main() const { return first + (flatten ? 1 : 0); }
};

}  // namespace fusenet
