// SPDX-License-Identifier: MIT
// The small CIFAR-sized ResNet that examples/image_folder.cpp trains (and bench/pipeline_bench.cpp times).
#pragma once

#include <fusenet/fusenet.hpp>

namespace image_folder_example {

using namespace fusenet::layers;

/// A ResNet basic block of C channels: (conv3x3, BN, ReLU, conv3x3, BN) + x; the ReLU after the sum is the
/// next layer, as in torchvision's BasicBlock.
template <std::size_t C>
using basic_block = residual<conv2d<C, 3, padding<1>, bias<false>>, batch_norm, relu,
                             conv2d<C, 3, padding<1>, bias<false>>, batch_norm>;

/// A basic block that halves H and W and widens to C channels, with a 1×1 stride-2 projection shortcut.
template <std::size_t C>
using basic_block_down =
    residual<conv2d<C, 3, stride<2>, padding<1>, bias<false>>, batch_norm, relu, conv2d<C, 3, padding<1>, bias<false>>,
             batch_norm, shortcut<conv2d<C, 1, stride<2>, bias<false>>, batch_norm>>;

/// Up to this many classes: the head has a fixed number of outputs, and a folder with fewer classes leaves
/// the extra logits unused (training pushes them down).
inline constexpr std::size_t max_classes = 10;

/// 3×32×32 → stem (16) → blocks at 16×32², 32×16², 64×8² → global average pool → 10 logits.
using net = fusenet::sequential<input<3, 32, 32>,                                         //
                                conv2d<16, 3, padding<1>, bias<false>>, batch_norm, relu,  //
                                basic_block<16>, relu,                                     //
                                basic_block_down<32>, relu,                                //
                                basic_block_down<64>, relu,                                //
                                global_avg_pool, flatten, dense<max_classes>>;
static_assert(fusenet::output_shape<net> == fusenet::shape<max_classes>{});

}  // namespace image_folder_example
