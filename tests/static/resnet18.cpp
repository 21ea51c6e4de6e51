// SPDX-License-Identifier: MIT
// Static facts of ResNet-18 declared with residual blocks: torchvision's resnet18 has 11,689,512 parameters
// and 1,814,073,344 MACs per 224×224 sample (tests/static/verify_counts.py, line "resnet18: ..."; the script
// builds the same modules as torchvision.models.resnet18 in plain torch.nn).

#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {

/// A basic block that keeps C×H×W: identity shortcut.
template <std::size_t C>
using basic = residual<conv2d<C, 3, padding<1>, bias<false>>, batch_norm, relu,  //
                       conv2d<C, 3, padding<1>, bias<false>>, batch_norm>;
/// A basic block that doubles the channels and halves H×W: 1×1 stride-2 projection on the shortcut.
template <std::size_t C>
using basic_down = residual<conv2d<C, 3, stride<2>, padding<1>, bias<false>>, batch_norm, relu,
                            conv2d<C, 3, padding<1>, bias<false>>, batch_norm,
                            shortcut<conv2d<C, 1, stride<2>, bias<false>>, batch_norm>>;

using resnet18 = fn::sequential<input<3, 224, 224>,                                          //
                                conv2d<64, 7, stride<2>, padding<3>, bias<false>>,           // 0
                                batch_norm, relu, max_pool<3, stride<2>, padding<1>>,        // 1..3
                                basic<64>, relu, basic<64>, relu,                            // 4..7   layer1
                                basic_down<128>, relu, basic<128>, relu,                     // 8..11  layer2
                                basic_down<256>, relu, basic<256>, relu,                     // 12..15 layer3
                                basic_down<512>, relu, basic<512>, relu,                     // 16..19 layer4
                                global_avg_pool, flatten, dense<1000>>;                      // 20..22

static_assert(fn::output_shape<resnet18> == fn::shape<1000>{});
static_assert(fn::param_count<resnet18> == 11'689'512);
static_assert(fn::mac_count<resnet18> == 1'814'073'344);
static_assert(fn::activation_bytes<resnet18> == 32'923'552);

static_assert(fn::shape_after<resnet18, 0> == fn::shape<64, 112, 112>{});
static_assert(fn::shape_after<resnet18, 3> == fn::shape<64, 56, 56>{});
static_assert(fn::shape_after<resnet18, 7> == fn::shape<64, 56, 56>{});
static_assert(fn::shape_after<resnet18, 8> == fn::shape<128, 28, 28>{});
static_assert(fn::shape_after<resnet18, 12> == fn::shape<256, 14, 14>{});
static_assert(fn::shape_after<resnet18, 16> == fn::shape<512, 7, 7>{});
static_assert(fn::shape_after<resnet18, 20> == fn::shape<512, 1, 1>{});
static_assert(fn::shape_after<resnet18, 21> == fn::shape<512>{});

// Per block, as torchvision's layer1[0] (73,728 + 256), layer2[0] with downsample, fc.
static_assert(fn::layer_param_count<resnet18, 0> == 64 * 3 * 7 * 7);
static_assert(fn::layer_param_count<resnet18, 4> == 2 * (64 * 64 * 9 + 2 * 64));
static_assert(fn::layer_param_count<resnet18, 8> ==
              128 * 64 * 9 + 2 * 128 + 128 * 128 * 9 + 2 * 128 + 128 * 64 + 2 * 128);
static_assert(fn::layer_param_count<resnet18, 22> == 512 * 1000 + 1000);
static_assert(fn::layer_mac_count<resnet18, 0> == 112 * 112 * 64 * 3 * 49);  // 118,013,952

}  // namespace
