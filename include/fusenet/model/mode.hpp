// SPDX-License-Identifier: MIT
// The two specializations a network declaration yields: training and inference.
#pragma once

namespace fusenet {

/// Mode tags for model<Net, Mode>.
namespace mode {
/// Batch statistics, running statistics updated, activations cached for backward.
struct train {};
/// Running statistics folded into the weights, fused stages, no allocation after warm-up.
struct infer {};
}  // namespace mode

/// A network's parameters and the code to run it; specialised per mode.
template <class Net, class Mode>
class model;

}  // namespace fusenet
