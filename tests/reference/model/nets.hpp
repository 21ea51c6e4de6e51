// SPDX-License-Identifier: MIT
// The two networks of tests/reference/model/gen_model.py in fusenet's syntax, shared by the model tests.
#pragma once

#include <fusenet/fusenet.hpp>

namespace fusenet::test {

namespace nets {
using namespace fusenet::layers;

/// The MNIST-sized CNN of the issue: conv/BN/ReLU/pool twice, then a BN'd dense head.
using reference_net =
    sequential<input<1, 28, 28>, conv2d<32, 3, padding<1>>, batch_norm, relu, max_pool<2>, conv2d<64, 3, padding<1>>,
               batch_norm, relu, max_pool<2>, flatten, dense<128>, batch_norm, relu, dense<10>>;

/// Every layer kind and conv option at small size: stride, dilation, groups, no bias, both residual forms.
using mixed_net = sequential<
    input<3, 15, 15>, conv2d<8, 3, stride<2>>, batch_norm, leaky_relu,
    residual<conv2d<8, 3, padding<2>, dilation<2>, groups<2>, bias<false>>, batch_norm, relu,
             conv2d<8, 3, padding<1>, bias<false>>, batch_norm>,
    relu,
    residual<conv2d<12, 3, stride<2>, padding<1>, bias<false>>, batch_norm, relu, conv2d<12, 3, padding<1>, bias<false>>,
             batch_norm, shortcut<conv2d<12, 1, stride<2>, bias<false>>, batch_norm>>,
    relu, max_pool<3, stride<1>, padding<1>>, avg_pool<2>, conv2d<6, 1>, tanh_, flatten, dropout, linear<24, 16>,
    batch_norm, sigmoid, dense<5>>;
}  // namespace nets

using nets::mixed_net;
using nets::reference_net;

}  // namespace fusenet::test
