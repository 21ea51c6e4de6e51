// SPDX-License-Identifier: MIT
// The networks the model, plan and gradient tests share (the first two are those of gen_model.py), and a
// seeded random tensor.
#pragma once

#include <cstdint>
#include <fusenet/fusenet.hpp>
#include <random>
#include <vector>

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

/// A ResNet basic-block net: stem conv, an identity block, a stride-2 block with a projection shortcut.
using resnet_net =
    sequential<input<16, 16, 16>, conv2d<32, 3, padding<1>, bias<false>>, batch_norm, relu,
               residual<conv2d<32, 3, padding<1>, bias<false>>, batch_norm, relu, conv2d<32, 3, padding<1>, bias<false>>,
                        batch_norm>,
               relu,
               residual<conv2d<64, 3, stride<2>, padding<1>, bias<false>>, batch_norm, relu,
                        conv2d<64, 3, padding<1>, bias<false>>, batch_norm,
                        shortcut<conv2d<64, 1, stride<2>, bias<false>>, batch_norm>>,
               relu, global_avg_pool, flatten, dense<10>>;

/// gen_model.py's "resnet" fixture: a ResNet at small size, an identity block and a stride-2 projection block.
using resnet_small_net =
    sequential<input<8, 12, 12>, conv2d<16, 3, padding<1>, bias<false>>, batch_norm, relu,
               residual<conv2d<16, 3, padding<1>, bias<false>>, batch_norm, relu, conv2d<16, 3, padding<1>, bias<false>>,
                        batch_norm>,
               relu,
               residual<conv2d<32, 3, stride<2>, padding<1>, bias<false>>, batch_norm, relu,
                        conv2d<32, 3, padding<1>, bias<false>>, batch_norm,
                        shortcut<conv2d<32, 1, stride<2>, bias<false>>, batch_norm>>,
               relu, global_avg_pool, flatten, dense<10>>;

/// gen_model.py's "mobile" fixture: depthwise-separable blocks at stride 1 and 2, a depthwise conv with a bias,
/// one followed by a 2×2 max pool.
using mobile_net =
    sequential<input<3, 16, 16>, conv2d<16, 3, padding<1>, bias<false>>, batch_norm, relu,
               conv2d<16, 3, padding<1>, groups<16>>, batch_norm, relu, conv2d<32, 1, bias<false>>, batch_norm, relu,
               conv2d<32, 3, stride<2>, padding<1>, groups<32>, bias<false>>, batch_norm, relu,
               conv2d<32, 1, bias<false>>, batch_norm, relu, conv2d<32, 3, padding<1>, groups<32>, bias<false>>,
               batch_norm, relu, max_pool<2>, global_avg_pool, flatten, dense<5>>;
}  // namespace nets

using nets::mixed_net;
using nets::mobile_net;
using nets::reference_net;
using nets::resnet_net;
using nets::resnet_small_net;

/// A tensor of standard-normal values from a fixed seed.
template <class Tensor>
Tensor random_tensor(std::vector<std::size_t> shape, std::uint32_t seed) {
  Tensor t = Tensor::from_shape(shape);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : t) v = normal(rng);
  return t;
}

}  // namespace fusenet::test
