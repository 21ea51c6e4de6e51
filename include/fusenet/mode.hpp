// SPDX-License-Identifier: MIT
// The mode tags: the two specializations a network declaration yields, training and inference.
#pragma once

namespace fusenet {

/// Mode tags for model<Net, Mode>, stages<Net, Mode> and describe<Net, Mode>().
namespace mode {
/// Batch statistics, running statistics updated, activations cached for backward.
struct train {};
/// Running statistics folded into the weights, fused stages, no allocation after warm-up.
struct infer {};
}  // namespace mode

}  // namespace fusenet
