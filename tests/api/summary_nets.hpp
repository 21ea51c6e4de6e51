// SPDX-License-Identifier: MIT
// The networks of tests/api/summary.cpp: examples/image_folder_net.hpp's ResNet, whose residual blocks made
// summary's table 242 columns wide (issue 13), with a dropout in the portable option form.
#pragma once

#include <fusenet/network.hpp>
#include <string>

namespace summary_test {
using namespace fusenet::layers;

template <std::size_t C>
using basic_block = residual<conv2d<C, 3, padding<1>, bias<false>>, batch_norm, relu,
                             conv2d<C, 3, padding<1>, bias<false>>, batch_norm>;
template <std::size_t C>
using basic_block_down =
    residual<conv2d<C, 3, stride<2>, padding<1>, bias<false>>, batch_norm, relu, conv2d<C, 3, padding<1>, bias<false>>,
             batch_norm, shortcut<conv2d<C, 1, stride<2>, bias<false>>, batch_norm>>;
using resnet = fusenet::sequential<input<3, 32, 32>, conv2d<16, 3, padding<1>, bias<false>>, batch_norm, relu,
                                   basic_block<16>, relu, basic_block_down<32>, relu, basic_block_down<64>, relu,
                                   global_avg_pool, flatten, dropout_with<rate<1, 5>>, dense<10>>;

/// summary<resnet>(), made in its own translation unit (summary_table.cpp).
std::string resnet_table();
}  // namespace summary_test
