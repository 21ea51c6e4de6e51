// SPDX-License-Identifier: MIT
// Static facts of the seed network (DESIGN.md): shapes after every layer, parameter and MAC counts per
// layer and in total, both declaration forms. Compiling this file is the test; the numbers are PyTorch's,
// printed by tests/static/verify_counts.py (lines "seed[i]: ..." and "seed: ...").

#include <cstddef>
#include <type_traits>

#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {

using seed = fn::sequential<input<1, 28, 28>,                                           //
                            conv2d<32, 3, padding<1>>, batch_norm, relu, max_pool<2>,  // 0..3
                            conv2d<64, 3, padding<1>>, batch_norm, relu, max_pool<2>,  // 4..7
                            flatten,                                                   // 8
                            dense<128>, batch_norm, relu,                              // 9..11
                            dense<10>>;                                                // 12

static_assert(fn::output_shape<seed> == fn::shape<10>{});
static_assert(!(fn::output_shape<seed> == fn::shape<1, 10, 1>{}), "a flat shape is not a 3-D one");
static_assert(std::is_same_v<std::remove_cv_t<decltype(fn::output_shape<seed>)>, fn::shape<10>>);
static_assert(seed::layer_count == 13, "input is not counted, as in torch.nn.Sequential");

// seed[i]: shape ...
static_assert(fn::shape_after<seed, 0> == fn::shape<32, 28, 28>{});
static_assert(fn::shape_after<seed, 1> == fn::shape<32, 28, 28>{});
static_assert(fn::shape_after<seed, 2> == fn::shape<32, 28, 28>{});
static_assert(fn::shape_after<seed, 3> == fn::shape<32, 14, 14>{});
static_assert(fn::shape_after<seed, 4> == fn::shape<64, 14, 14>{});
static_assert(fn::shape_after<seed, 5> == fn::shape<64, 14, 14>{});
static_assert(fn::shape_after<seed, 6> == fn::shape<64, 14, 14>{});
static_assert(fn::shape_after<seed, 7> == fn::shape<64, 7, 7>{});
static_assert(fn::shape_after<seed, 8> == fn::shape<3136>{});
static_assert(fn::shape_after<seed, 9> == fn::shape<128>{});
static_assert(fn::shape_after<seed, 10> == fn::shape<128>{});
static_assert(fn::shape_after<seed, 11> == fn::shape<128>{});
static_assert(fn::shape_after<seed, 12> == fn::shape<10>{});
static_assert(!(fn::shape_after<seed, 7> == fn::shape<64, 14, 14>{}));

// seed[i]: ... params
static_assert(fn::layer_param_count<seed, 0> == 320);     // 32·1·3·3 + 32
static_assert(fn::layer_param_count<seed, 1> == 64);      // BatchNorm2d(32): weight + bias
static_assert(fn::layer_param_count<seed, 2> == 0);
static_assert(fn::layer_param_count<seed, 3> == 0);
static_assert(fn::layer_param_count<seed, 4> == 18'496);  // 64·32·3·3 + 64
static_assert(fn::layer_param_count<seed, 5> == 128);
static_assert(fn::layer_param_count<seed, 6> == 0);
static_assert(fn::layer_param_count<seed, 7> == 0);
static_assert(fn::layer_param_count<seed, 8> == 0);
static_assert(fn::layer_param_count<seed, 9> == 401'536);  // 128·3136 + 128
static_assert(fn::layer_param_count<seed, 10> == 256);     // BatchNorm1d(128)
static_assert(fn::layer_param_count<seed, 11> == 0);
static_assert(fn::layer_param_count<seed, 12> == 1'290);
static_assert(fn::param_count<seed> == 422'090);

// seed[i]: ... macs (conv: Ho·Wo·Cout·Cin/G·K², dense: In·Out)
static_assert(fn::layer_mac_count<seed, 0> == 225'792);    // 28·28·32·1·9
static_assert(fn::layer_mac_count<seed, 1> == 0);
static_assert(fn::layer_mac_count<seed, 3> == 0);
static_assert(fn::layer_mac_count<seed, 4> == 3'612'672);  // 14·14·64·32·9
static_assert(fn::layer_mac_count<seed, 8> == 0);
static_assert(fn::layer_mac_count<seed, 9> == 401'408);    // 3136·128
static_assert(fn::layer_mac_count<seed, 10> == 0);
static_assert(fn::layer_mac_count<seed, 12> == 1'280);
static_assert(fn::mac_count<seed> == 4'241'152);

// seed: ... activation_bytes (every layer's float32 output per sample)
static_assert(fn::activation_bytes<seed> == 503'336);

// layer_t gives the layers back as declared.
static_assert(std::is_same_v<fn::layer_t<seed, 0>, conv2d<32, 3, padding<1>>>);
static_assert(std::is_same_v<fn::layer_t<seed, 8>, flatten>);
static_assert(std::is_same_v<fn::layer_t<seed, 12>, dense<10>>);
static_assert(std::is_same_v<seed::input_type, input<1, 28, 28>>);

// The expression form builds exactly the same type.
constexpr auto seed_expr = input<1, 28, 28>{} >> conv2d<32, 3, padding<1>>{} >> batch_norm{} >> relu{} >>
                           max_pool<2>{} >> conv2d<64, 3, padding<1>>{} >> batch_norm{} >> relu{} >> max_pool<2>{} >>
                           flatten{} >> dense<128>{} >> batch_norm{} >> relu{} >> dense<10>{};
static_assert(std::is_same_v<std::remove_cv_t<decltype(seed_expr)>, seed>);
static_assert(fn::output_shape<std::remove_cv_t<decltype(seed_expr)>> == fn::shape<10>{});
// The first >> on input<...> already gives a one-layer sequential.
static_assert(std::is_same_v<decltype(input<4>{} >> relu{}), fn::sequential<input<4>, relu>>);
static_assert(!std::is_same_v<decltype(input<4>{} >> relu{}), fn::sequential<input<4>, identity>>);

// The same head with linear<In, Out> stating the features is the same network, up to the layer types.
using seed_linear = fn::sequential<input<1, 28, 28>, conv2d<32, 3, padding<1>>, batch_norm, relu, max_pool<2>,
                                   conv2d<64, 3, padding<1>>, batch_norm, relu, max_pool<2>, flatten,
                                   linear<64 * 7 * 7, 128>, batch_norm, relu, linear<128, 10>>;
static_assert(fn::output_shape<seed_linear> == fn::shape<10>{});
static_assert(fn::param_count<seed_linear> == fn::param_count<seed>);
static_assert(fn::mac_count<seed_linear> == fn::mac_count<seed>);
static_assert(!std::is_same_v<seed_linear, seed>);

// A flat-input network (an MLP on 784 features) needs no flatten.
using mlp = fn::sequential<input<784>, dense<256>, relu, dropout, dense<10>>;
static_assert(fn::output_shape<mlp> == fn::shape<10>{});
static_assert(fn::param_count<mlp> == 784 * 256 + 256 + 256 * 10 + 10);  // torch.nn.Linear weight + bias

}  // namespace
