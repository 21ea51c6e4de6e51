// SPDX-License-Identifier: MIT
// Static facts of without_t<Net, Kind>: the seed network's BatchNorm-free twin, a ResNet-style network with
// projection shortcuts, nested blocks, other kinds (dropout, relu, max_pool), the bias rule, and the counts.
// Each twin is compared with the network written out by hand, so the expected types are independent of the
// transform; the parameter counts are those of torch.nn.Sequential(<the same layers>).

#include <cstddef>
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
#include <fusenet/without.hpp>
#include <type_traits>

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {

// The seed network (DESIGN.md) and its BatchNorm-free twin written out by hand.
using seed = fn::sequential<input<1, 28, 28>,                                          //
                            conv2d<32, 3, padding<1>>, batch_norm, relu, max_pool<2>,  //
                            conv2d<64, 3, padding<1>>, batch_norm, relu, max_pool<2>,  //
                            flatten, dense<128>, batch_norm, relu, dense<10>>;
using seed_without_bn = fn::sequential<input<1, 28, 28>,                              //
                                       conv2d<32, 3, padding<1>>, relu, max_pool<2>,  //
                                       conv2d<64, 3, padding<1>>, relu, max_pool<2>,  //
                                       flatten, dense<128>, relu, dense<10>>;
static_assert(std::is_same_v<fn::without_t<seed, batch_norm>, seed_without_bn>);
static_assert(fn::without_t<seed, batch_norm>::checked, "the twin's shapes are checked like any network");
static_assert(fn::output_shape<fn::without_t<seed, batch_norm>> == fn::shape<10>{});
static_assert(fn::without_t<seed, batch_norm>::layer_count == seed::layer_count - 3);
// torch: 422090 parameters with the three BatchNorms (tests/static/seed_network.cpp), 422090 - 2 * (32 + 64 + 128)
// = 421642 without.
static_assert(fn::param_count<seed> == 422'090);
static_assert(fn::param_count<fn::without_t<seed, batch_norm>> == 421'642);
static_assert(fn::mac_count<fn::without_t<seed, batch_norm>> == fn::mac_count<seed>, "BN costs no MACs");
static_assert(fn::count_layers_of_kind<seed, batch_norm> == 3);
static_assert(fn::count_layers_of_kind<fn::without_t<seed, batch_norm>, batch_norm> == 0);
static_assert(fn::count_layers_of_kind<seed, relu> == 3 && fn::count_layers_of_kind<seed, conv2d<1, 1>> == 2,
              "a kind is matched by name: every conv2d<...> is a conv2d");
// A network without the kind is its own twin.
static_assert(std::is_same_v<fn::without_t<seed_without_bn, batch_norm>, seed_without_bn>);
static_assert(std::is_same_v<fn::without_t<seed, dropout>, seed>);

// The bias rule: a conv2d/dense declared bias<false> right
// before a removed BatchNorm gets its bias back; a bias<false> layer not followed by BN keeps bias<false>.
using custom_bn = fn::sequential<input<3, 8, 8>, conv2d<8, 3, padding<1>, bias<false>, stride<1>>, batch_norm, relu,
                                 conv2d<4, 1, bias<false>>, relu, flatten, dense<16, bias<false>>, batch_norm, relu,
                                 linear<16, 10, bias<false>>, batch_norm>;
using custom_bn_twin = fn::sequential<input<3, 8, 8>, conv2d<8, 3, padding<1>, stride<1>>, relu,
                                      conv2d<4, 1, bias<false>>, relu, flatten, dense<16>, relu, linear<16, 10>>;
static_assert(std::is_same_v<fn::without_t<custom_bn, batch_norm>, custom_bn_twin>);
static_assert(fn::layer_t<custom_bn_twin, 0>::has_bias && !fn::layer_t<custom_bn_twin, 2>::has_bias);
static_assert(!fn::layer_t<custom_bn, 0>::has_bias && fn::layer_t<fn::without_t<custom_bn, batch_norm>, 0>::has_bias);
// 3*8*9 + 8 (bias back) + 8*4 + (4*8*8)*16 + 16 + 16*10 + 10 = 4538
static_assert(fn::param_count<custom_bn_twin> == 4'538);

// A ResNet-style network: stem, an identity block, a downsampling block with a projection shortcut, head.
using resnet = fn::sequential<input<3, 16, 16>, conv2d<16, 3, padding<1>, bias<false>>, batch_norm, relu,
                              residual<conv2d<16, 3, padding<1>, bias<false>>, batch_norm, relu,
                                       conv2d<16, 3, padding<1>, bias<false>>, batch_norm>,
                              relu,
                              residual<conv2d<32, 3, stride<2>, padding<1>, bias<false>>, batch_norm, relu,
                                       conv2d<32, 3, padding<1>, bias<false>>, batch_norm,
                                       shortcut<conv2d<32, 1, stride<2>, bias<false>>, batch_norm>>,
                              relu, global_avg_pool, flatten, dense<10>>;
using resnet_without_bn = fn::sequential<
    input<3, 16, 16>, conv2d<16, 3, padding<1>>, relu,
    residual<conv2d<16, 3, padding<1>>, relu, conv2d<16, 3, padding<1>>>, relu,
    residual<conv2d<32, 3, stride<2>, padding<1>>, relu, conv2d<32, 3, padding<1>>, shortcut<conv2d<32, 1, stride<2>>>>,
    relu, global_avg_pool, flatten, dense<10>>;
static_assert(std::is_same_v<fn::without_t<resnet, batch_norm>, resnet_without_bn>);
static_assert(fn::output_shape<fn::without_t<resnet, batch_norm>> == fn::shape<10>{});
static_assert(fn::count_layers_of_kind<resnet, batch_norm> == 6, "1 in the stem, 2 in each block, 1 in the shortcut");
static_assert(fn::count_layers_of_kind<resnet_without_bn, batch_norm> == 0);
// Without BN each of the 6 convs gains a bias and the 6 BNs lose 2 * channels:
// + (16 + 16 + 16 + 32 + 32 + 32) - 2 * (16 + 16 + 16 + 32 + 32 + 32) = -144.
static_assert(fn::param_count<fn::without_t<resnet, batch_norm>> + 144 == fn::param_count<resnet>);

// A projection left empty becomes the identity shortcut; only the block's layers then remain.
using bn_shortcut = fn::sequential<input<8, 4, 4>, residual<conv2d<8, 3, padding<1>>, relu, shortcut<batch_norm>>>;
static_assert(std::is_same_v<fn::without_t<bn_shortcut, batch_norm>,
                             fn::sequential<input<8, 4, 4>, residual<conv2d<8, 3, padding<1>>, relu>>>);

// Nested blocks and other kinds: dropout, relu, max_pool.
using nested =
    fn::sequential<input<4, 8, 8>,
                   residual<conv2d<4, 3, padding<1>>, dropout, residual<relu, conv2d<4, 3, padding<1>>, dropout>, relu>,
                   max_pool<2>, flatten, dropout, dense<10>>;
static_assert(
    std::is_same_v<fn::without_t<nested, dropout>,
                   fn::sequential<input<4, 8, 8>,
                                  residual<conv2d<4, 3, padding<1>>, residual<relu, conv2d<4, 3, padding<1>>>, relu>,
                                  max_pool<2>, flatten, dense<10>>>);
static_assert(fn::count_layers_of_kind<nested, dropout> == 3);
static_assert(std::is_same_v<
              fn::without_t<nested, relu>,
              fn::sequential<input<4, 8, 8>,
                             residual<conv2d<4, 3, padding<1>>, dropout, residual<conv2d<4, 3, padding<1>>, dropout>>,
                             max_pool<2>, flatten, dropout, dense<10>>>);
static_assert(std::is_same_v<fn::without_t<nested, max_pool<3>>,
                             fn::sequential<input<4, 8, 8>,
                                            residual<conv2d<4, 3, padding<1>>, dropout,
                                                     residual<relu, conv2d<4, 3, padding<1>>, dropout>, relu>,
                                            flatten, dropout, dense<10>>>);
static_assert(fn::output_shape<fn::without_t<nested, max_pool<2>>> == fn::shape<10>{});
// Removing dropout does not touch biases (only a removed BatchNorm makes a bias<false> layer regain one).
using no_bias_dropout = fn::sequential<input<5>, dense<4, bias<false>>, dropout, dense<2>>;
static_assert(
    std::is_same_v<fn::without_t<no_bias_dropout, dropout>, fn::sequential<input<5>, dense<4, bias<false>>, dense<2>>>);

// The kind predicate, positive and negative.
#ifndef __clang__  // clang 14: "non-type template argument of type 'double' is not yet supported"
// Options do not change a kind: batch_norm_with<eps<...>> is a batch_norm, dropout_with<rate<...>> a dropout.
static_assert(fn::same_layer_kind<batch_norm_with<eps<1e-3>, momentum<0.01>>, batch_norm>);
static_assert(std::is_same_v<fn::without_t<fn::sequential<input<6>, dense<4, bias<false>>, batch_norm_with<eps<1e-3>>,
                                                          relu, dropout_with<rate<0.2>>, dense<2>>,
                                           batch_norm>,
                             fn::sequential<input<6>, dense<4>, relu, dropout_with<rate<0.2>>, dense<2>>>);
static_assert(
    std::is_same_v<fn::without_t<fn::sequential<input<6>, dropout_with<rate<0.2>>, dense<2>, dropout>, dropout>,
                   fn::sequential<input<6>, dense<2>>>);
#endif
static_assert(!fn::same_layer_kind<relu, batch_norm>);
static_assert(!fn::same_layer_kind<max_pool<2>, avg_pool<2>>);
static_assert(!fn::same_layer_kind<shortcut<batch_norm>, batch_norm>, "a shortcut is not a layer");
static_assert(!fn::same_layer_kind<input<1, 28, 28>, batch_norm>, "input is not a layer");

}  // namespace
