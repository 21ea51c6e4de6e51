// SPDX-License-Identifier: MIT
// Static facts of the shape-preserving layers (activations, dropout, batch_norm): they keep any valid shape,
// take PyTorch's default options, and batch_norm counts weight + bias per channel as BatchNorm1d/2d.

#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {

template <class Layer>
constexpr bool keeps_shapes = fn::output_shape<fn::sequential<input<3, 5, 7>, Layer>> == fn::shape<3, 5, 7>{} &&
                              fn::output_shape<fn::sequential<input<9>, Layer>> == fn::shape<9>{} &&
                              !(fn::output_shape<fn::sequential<input<9>, Layer>> == fn::shape<3, 3, 1>{});
static_assert(keeps_shapes<relu> && keeps_shapes<leaky_relu> && keeps_shapes<sigmoid> && keeps_shapes<tanh_>);
static_assert(keeps_shapes<identity> && keeps_shapes<dropout> && keeps_shapes<batch_norm>);

// The portable form of the real-valued options, Num / Den, compiled by GCC and clang alike (the ISA stage builds
// this suite with clang++): eps<1, 1000> is 1e-3.
static_assert(keeps_shapes<leaky_relu_with<slope<1, 5>>> && keeps_shapes<dropout_with<rate<1, 4>>>);
static_assert(keeps_shapes<batch_norm_with<momentum<1, 100>, eps<1, 1000>>>);
static_assert(leaky_relu_with<slope<1, 5>>::negative_slope == 0.2);
static_assert(leaky_relu_with<slope<-1, 5>>::negative_slope == -0.2);
static_assert(dropout_with<rate<1, 4>>::drop_rate == 0.25 && dropout_with<rate<0>>::drop_rate == 0.0);
static_assert(batch_norm_with<momentum<1, 100>, eps<1, 1000>>::epsilon == 1.0 / 1000);
static_assert(batch_norm_with<eps<1, 100000>, momentum<1, 10>>::momentum_value == 1.0 / 10);
static_assert(batch_norm_with<eps<1, 100000>>::epsilon == batch_norm::epsilon, "eps<1, 100000> is PyTorch's 1e-5");
static_assert(batch_norm_with<momentum<1>>::momentum_value == 1.0, "momentum<1>: Den defaults to 1");
static_assert(fn::layers::detail::number_pair<1, 100000>() && !fn::layers::detail::number_pair<1, 0>() &&
              !fn::layers::detail::number_pair<1, -2>() && !fn::layers::detail::number_pair<true, 1>());

// The double form: GCC >= 11 only. Clang 14 does not implement double template arguments ("non-type template
// argument of type 'double' is not yet supported") and does not define this feature-test macro value.
#if __cpp_nontype_template_args >= 201911L
static_assert(keeps_shapes<leaky_relu_with<slope<0.2>>> && keeps_shapes<dropout_with<rate<0.25>>>);
static_assert(keeps_shapes<batch_norm_with<momentum<0.01>, eps<1e-3>>>);

static_assert(leaky_relu_with<slope<0.2>>::negative_slope == 0.2);
static_assert(dropout_with<rate<0.25>>::drop_rate == 0.25);
static_assert(batch_norm_with<momentum<0.01>, eps<1e-3>>::epsilon == 1e-3);
static_assert(batch_norm_with<eps<1e-3>, momentum<0.01>>::momentum_value == 0.01);
static_assert(fn::layers::detail::number_pair<0.5, 1>() && !fn::layers::detail::number_pair<0.5, 2>());
#endif

// PyTorch's defaults: LeakyReLU slope 0.01, Dropout p 0.5, BatchNorm eps 1e-5 and momentum 0.1.
static_assert(leaky_relu::negative_slope == 0.01 && dropout::drop_rate == 0.5);
static_assert(batch_norm::epsilon == 1e-5 && batch_norm::momentum_value == 0.1);

// BatchNorm2d(3) and BatchNorm1d(9): 2·C parameters; running statistics are buffers and not counted.
static_assert(fn::param_count<fn::sequential<input<3, 5, 7>, batch_norm>> == 6);
static_assert(fn::param_count<fn::sequential<input<9>, batch_norm>> == 18);
static_assert(fn::param_count<fn::sequential<input<9>, relu, dropout, sigmoid>> == 0);
static_assert(fn::mac_count<fn::sequential<input<3, 5, 7>, batch_norm, relu>> == 0);

}  // namespace
