// SPDX-License-Identifier: MIT
// The train_depthwise_conv executor: a depthwise conv2d → batch_norm [→ relu] [→ 2×2 max pool] with the channels in
// the lanes (kernels/depthwise_conv_train.hpp), on the shared fused conv + BatchNorm stage (train_conv_bn.hpp).
#pragma once

#include <cstddef>

#include "fusenet/kernels/depthwise_conv_train.hpp"
#include "fusenet/model/stages/train_conv_bn.hpp"

namespace fusenet::detail {

template <class P, std::size_t S, class F = train_stage_facts<P, S>>
using depthwise_train_kernel = kernels::depthwise_conv_train<F::head.in.d[0], F::head.in.d[1], F::head.in.d[2],
                                                             F::head.window, F::head.step, F::head.pad>;

template <class P, std::size_t S>
struct train_stage<P, S, executor::train_depthwise_conv> : train_conv_bn_stage<P, S, depthwise_train_kernel<P, S>> {};

}  // namespace fusenet::detail
