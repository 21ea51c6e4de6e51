// SPDX-License-Identifier: MIT
// The benchmark zoo: six classic CNNs as fusenet types, each twinned layer for layer in bench/torch/zoo.py.
#pragma once

// Front end only (shapes and counts), so that including the zoo costs no kernel or model instantiation.
#include "fusenet/introspection.hpp"
#include "fusenet/layers/all.hpp"
#include "fusenet/sequential.hpp"
#include "fusenet/shape.hpp"

namespace fusenet::zoo {

using namespace fusenet::layers;

/// A ResNet basic block of C channels that keeps the input shape: (conv3x3, BN, ReLU, conv3x3, BN) + x.
/// The ReLU after the addition is the next layer of the network, as torchvision's BasicBlock applies it.
template <std::size_t C>
using basic_block = residual<conv2d<C, 3, padding<1>, bias<false>>, batch_norm, relu,
                             conv2d<C, 3, padding<1>, bias<false>>, batch_norm>;

/// A ResNet basic block that halves H and W and changes the channels to C: the first conv has stride 2 and
/// the shortcut is a 1×1 stride-2 projection conv followed by BN (torchvision's `downsample`).
template <std::size_t C>
using basic_block_down =
    residual<conv2d<C, 3, stride<2>, padding<1>, bias<false>>, batch_norm, relu, conv2d<C, 3, padding<1>, bias<false>>,
             batch_norm, shortcut<conv2d<C, 1, stride<2>, bias<false>>, batch_norm>>;

/// The README's MNIST-sized network (the seed network of examples/fashion_mnist.cpp).
using reference = sequential<input<1, 28, 28>,                                          //
                             conv2d<32, 3, padding<1>>, batch_norm, relu, max_pool<2>,  //
                             conv2d<64, 3, padding<1>>, batch_norm, relu, max_pool<2>,  //
                             flatten, dense<128>, batch_norm, relu, dense<10>>;

/// torchvision's resnet18 at 3×224×224: 7×7/2 stem, 3×3/2 max pool, four stages of two basic blocks.
using resnet18 = sequential<input<3, 224, 224>,                                                          //
                            conv2d<64, 7, stride<2>, padding<3>, bias<false>>, batch_norm, relu,         //
                            max_pool<3, stride<2>, padding<1>>,                                          //
                            basic_block<64>, relu, basic_block<64>, relu,                                //
                            basic_block_down<128>, relu, basic_block<128>, relu,                         //
                            basic_block_down<256>, relu, basic_block<256>, relu,                         //
                            basic_block_down<512>, relu, basic_block<512>, relu,                         //
                            global_avg_pool, flatten, dense<1000>>;

/// He et al.'s CIFAR ResNet-20: a 16-channel stem and three stages of three basic blocks (16, 32, 64).
using cifar_resnet20 = sequential<input<3, 32, 32>,                                                         //
                                  conv2d<16, 3, padding<1>, bias<false>>, batch_norm, relu,                 //
                                  basic_block<16>, relu, basic_block<16>, relu, basic_block<16>, relu,      //
                                  basic_block_down<32>, relu, basic_block<32>, relu, basic_block<32>, relu,  //
                                  basic_block_down<64>, relu, basic_block<64>, relu, basic_block<64>, relu,  //
                                  global_avg_pool, flatten, dense<10>>;

/// MobileNet-v1 at CIFAR size: a 3×3 stem, then seven depthwise-separable blocks (depthwise 3×3 + BN + ReLU,
/// pointwise 1×1 + BN + ReLU), three of them with a stride-2 depthwise conv.
using mobilenet = sequential<
    input<3, 32, 32>,                                                                                       //
    conv2d<32, 3, padding<1>, bias<false>>, batch_norm, relu,                                               //
    conv2d<32, 3, padding<1>, groups<32>, bias<false>>, batch_norm, relu,                                   //
    conv2d<64, 1, bias<false>>, batch_norm, relu,                                                           //
    conv2d<64, 3, stride<2>, padding<1>, groups<64>, bias<false>>, batch_norm, relu,                        //
    conv2d<128, 1, bias<false>>, batch_norm, relu,                                                          //
    conv2d<128, 3, padding<1>, groups<128>, bias<false>>, batch_norm, relu,                                 //
    conv2d<128, 1, bias<false>>, batch_norm, relu,                                                          //
    conv2d<128, 3, stride<2>, padding<1>, groups<128>, bias<false>>, batch_norm, relu,                      //
    conv2d<256, 1, bias<false>>, batch_norm, relu,                                                          //
    conv2d<256, 3, padding<1>, groups<256>, bias<false>>, batch_norm, relu,                                 //
    conv2d<256, 1, bias<false>>, batch_norm, relu,                                                          //
    conv2d<256, 3, stride<2>, padding<1>, groups<256>, bias<false>>, batch_norm, relu,                      //
    conv2d<512, 1, bias<false>>, batch_norm, relu,                                                          //
    conv2d<512, 3, padding<1>, groups<512>, bias<false>>, batch_norm, relu,                                 //
    conv2d<512, 1, bias<false>>, batch_norm, relu,                                                          //
    global_avg_pool, flatten, dense<10>>;

/// A VGG-style CIFAR net: three stages of (conv3x3 + BN + ReLU) × 2 and a 2×2 max pool (64, 128, 256 channels).
using vgg = sequential<input<3, 32, 32>,                                                                    //
                       conv2d<64, 3, padding<1>>, batch_norm, relu, conv2d<64, 3, padding<1>>, batch_norm, relu,   //
                       max_pool<2>,                                                                                //
                       conv2d<128, 3, padding<1>>, batch_norm, relu, conv2d<128, 3, padding<1>>, batch_norm, relu,  //
                       max_pool<2>,                                                                                //
                       conv2d<256, 3, padding<1>>, batch_norm, relu, conv2d<256, 3, padding<1>>, batch_norm, relu,  //
                       max_pool<2>,                                                                                //
                       flatten, dense<10>>;

/// LeCun's LeNet-5 with ReLU and max pooling, no BatchNorm.
using lenet5 = sequential<input<1, 28, 28>,                             //
                          conv2d<6, 5, padding<2>>, relu, max_pool<2>,  //
                          conv2d<16, 5>, relu, max_pool<2>,             //
                          flatten, dense<120>, relu, dense<84>, relu, dense<10>>;

static_assert(output_shape<reference> == shape<10>{});
static_assert(output_shape<resnet18> == shape<1000>{});
static_assert(output_shape<cifar_resnet20> == shape<10>{});
static_assert(output_shape<mobilenet> == shape<10>{});
static_assert(output_shape<vgg> == shape<10>{});
static_assert(output_shape<lenet5> == shape<10>{});

}  // namespace fusenet::zoo
