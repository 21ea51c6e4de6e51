// SPDX-License-Identifier: MIT
// Static facts of conv2d: every option in any order gives PyTorch's output shape, parameter and MAC counts,
// and each shape rule answers true and false as a predicate. Numbers: tests/static/verify_counts.py ("conv_*").

#include <type_traits>

#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {

template <class Input, class Layer>
using one = fn::sequential<Input, Layer>;

// Defaults are PyTorch's: padding 0, stride 1, dilation 1, groups 1, bias true.
using plain = conv2d<8, 3>;
static_assert(plain::pad == 0 && plain::step == 1 && plain::dil == 1 && plain::group_count == 1 && plain::has_bias);
static_assert(fn::output_shape<one<input<3, 10, 12>, plain>> == fn::shape<8, 8, 10>{});  // out = in - k + 1
static_assert(fn::param_count<one<input<3, 10, 12>, plain>> == 8 * 3 * 9 + 8);

// conv_stride_padding: Conv2d(3, 16, 3, stride=2, padding=1) on 3×32×32 → 16×16×16, 448 params, 110592 MACs.
using stride_padding = one<input<3, 32, 32>, conv2d<16, 3, stride<2>, padding<1>>>;
using padding_stride = one<input<3, 32, 32>, conv2d<16, 3, padding<1>, stride<2>>>;
static_assert(fn::output_shape<stride_padding> == fn::shape<16, 16, 16>{});
static_assert(fn::output_shape<padding_stride> == fn::shape<16, 16, 16>{});
static_assert(fn::param_count<stride_padding> == 448 && fn::param_count<padding_stride> == 448);
static_assert(fn::mac_count<stride_padding> == 110'592 && fn::mac_count<padding_stride> == 110'592);
static_assert(!std::is_same_v<stride_padding, padding_stride>, "option order is kept in the type, as declared");

// conv_dilation: Conv2d(8, 16, 5, stride=3, padding=3, dilation=2) on 8×20×20 → 16×6×6, 3216 params, 115200 MACs.
using dilated_a = one<input<8, 20, 20>, conv2d<16, 5, dilation<2>, padding<3>, stride<3>>>;
using dilated_b = one<input<8, 20, 20>, conv2d<16, 5, stride<3>, dilation<2>, padding<3>>>;
static_assert(fn::output_shape<dilated_a> == fn::shape<16, 6, 6>{});
static_assert(fn::output_shape<dilated_b> == fn::shape<16, 6, 6>{});
static_assert(fn::param_count<dilated_a> == 3'216 && fn::mac_count<dilated_a> == 115'200);
static_assert(conv2d<16, 5, dilation<2>>::window_span == 9, "dilated span = D*(K-1) + 1");

// conv_groups_nobias: Conv2d(8, 4, 3, padding=2, groups=4, bias=False) on 8×10×12 → 4×12×14, 72 params.
using grouped_a = one<input<8, 10, 12>, conv2d<4, 3, groups<4>, bias<false>, padding<2>>>;
using grouped_b = one<input<8, 10, 12>, conv2d<4, 3, bias<false>, padding<2>, groups<4>>>;
static_assert(fn::output_shape<grouped_a> == fn::shape<4, 12, 14>{});
static_assert(fn::output_shape<grouped_b> == fn::shape<4, 12, 14>{});
static_assert(fn::param_count<grouped_a> == 72 && fn::param_count<grouped_b> == 72);
static_assert(fn::mac_count<grouped_a> == 12'096);
static_assert(!conv2d<4, 3, bias<false>>::has_bias && conv2d<4, 3, bias<true>>::has_bias);

// conv_kernel_equals_input: Conv2d(3, 5, 7) on 3×7×7 → 5×1×1, 740 params, 735 MACs.
using full_kernel = one<input<3, 7, 7>, conv2d<5, 7>>;
static_assert(fn::output_shape<full_kernel> == fn::shape<5, 1, 1>{});
static_assert(fn::param_count<full_kernel> == 740 && fn::mac_count<full_kernel> == 735);

// conv_depthwise: Conv2d(16, 32, 3, stride=2, dilation=3, groups=16) on 16×9×9 → 32×2×2, 320 params, 1152 MACs.
using depthwise = one<input<16, 9, 9>, conv2d<32, 3, groups<16>, stride<2>, dilation<3>>>;
static_assert(fn::output_shape<depthwise> == fn::shape<32, 2, 2>{});
static_assert(fn::param_count<depthwise> == 320 && fn::mac_count<depthwise> == 1'152);

// conv_1x1_stride: Conv2d(6, 6, 1, stride=4) on 6×9×10 → 6×3×3, 42 params, 324 MACs.
using pointwise = one<input<6, 9, 10>, conv2d<6, 1, stride<4>>>;
static_assert(fn::output_shape<pointwise> == fn::shape<6, 3, 3>{});
static_assert(fn::param_count<pointwise> == 42 && fn::mac_count<pointwise> == 324);

// The output-size formula itself, against PyTorch's floor((in + 2p - d(k-1) - 1)/s) + 1.
static_assert(fn::window_output(32, 3, 2, 1) == 16);
static_assert(fn::window_output(20, 5, 3, 3, 2) == 6);
static_assert(fn::window_output(7, 7, 1, 0) == 1);
static_assert(fn::window_output(6, 7, 1, 0) == 0, "a window larger than the input leaves no output");

// Rules, positive and negative side by side.
static_assert(fn::input_is_spatial<plain, fn::shape<3, 5, 5>>);
static_assert(!fn::input_is_spatial<plain, fn::shape<75>>);
static_assert(fn::kernel_fits_input<conv2d<8, 7>, fn::shape<3, 7, 7>>);
static_assert(!fn::kernel_fits_input<conv2d<8, 7>, fn::shape<3, 6, 7>>);
static_assert(!fn::kernel_fits_input<conv2d<8, 7>, fn::shape<3, 7, 6>>, "width is checked too");
static_assert(fn::kernel_fits_input<conv2d<8, 7, padding<1>>, fn::shape<3, 5, 5>>, "padding counts");
static_assert(!fn::kernel_fits_input<conv2d<8, 3, dilation<3>>, fn::shape<3, 6, 6>>, "dilated span 7 > 6");
static_assert(fn::kernel_fits_input<conv2d<8, 3, dilation<3>>, fn::shape<3, 7, 7>>);
static_assert(fn::groups_divide_channels<conv2d<8, 3, groups<4>>, fn::shape<12, 5, 5>>);
static_assert(!fn::groups_divide_channels<conv2d<8, 3, groups<4>>, fn::shape<6, 5, 5>>,
              "4 does not divide 6 input channels");
static_assert(!fn::groups_divide_channels<conv2d<6, 3, groups<4>>, fn::shape<12, 5, 5>>, "4 does not divide 6 filters");

// Accepting is the conjunction of the rules, also through the value-level interface.
static_assert(plain::accepts(fn::chw(3, 3, 3)));
static_assert(!plain::accepts(fn::chw(3, 2, 3)));
static_assert(!plain::accepts(fn::features(27)));
static_assert(fn::layer_kind<plain> && fn::layer_kind<conv2d<8, 3, padding<1>, stride<2>, dilation<2>, groups<2>>>);

}  // namespace
