// SPDX-License-Identifier: MIT
// The execution plans of five networks beyond and including the reference one, in both modes and for two
// targets: which executor runs each stage and the layouts on every edge (compiling this file is the test).
#include <fusenet/layers/all.hpp>
#include <fusenet/plan/execution.hpp>
#include <fusenet/sequential.hpp>

namespace fn = fusenet;
using namespace fusenet::layers;
using fn::executor;
using fn::layout;

namespace {

constexpr fn::target avx512 = fn::targets::avx512, avx2 = fn::targets::avx2;

template <class Net, fn::target T>
constexpr auto infer = fn::execution_plan<Net, fn::mode::infer, T>;
template <class Net, fn::target T>
constexpr auto train = fn::execution_plan<Net, fn::mode::train, T>;

/// Record r runs on executor e, reading `in` (border bi) and writing `out` (border bo).
constexpr bool is(const fn::stage_record& r, executor e, layout in, std::size_t bi, layout out, std::size_t bo) {
  return r.exec == e && r.in_layout == in && r.in_border == bi && r.out_layout == out && r.out_border == bo;
}
/// Training record r runs on executor e and keeps its output (else writes in place or passes its input on) and
/// `kept` floats per sample besides.
constexpr bool trains(const fn::stage_record& r, executor e, bool keeps_output, std::size_t kept) {
  return r.exec == e && r.keeps_output == keeps_output && r.kept_floats == kept && r.in_layout == layout::nchw &&
         r.out_layout == layout::nchw;
}
/// Every edge of a plan joins equal layouts: what stage s writes is what stage s + 1 reads.
template <std::size_t N>
constexpr bool edges_agree(const std::array<fn::stage_record, N>& p, std::size_t count) {
  for (std::size_t s = 0; s + 1 < count; ++s)
    if (p[s].out_layout != p[s + 1].in_layout || p[s].out_border != p[s + 1].in_border) return false;
  return p[0].in_layout == layout::nchw && p[count - 1].out_layout == layout::nchw;
}

// 1. The reference network: both convs direct, the second writes plain NHWC for the dense stage, whose weight
//    columns are permuted instead of transposing the activations.
using reference = fn::sequential<input<1, 28, 28>, conv2d<32, 3, padding<1>>, batch_norm, relu, max_pool<2>,
                                 conv2d<64, 3, padding<1>>, batch_norm, relu, max_pool<2>, flatten, dense<128>,
                                 batch_norm, relu, dense<10>>;
static_assert(fn::stage_count<reference, fn::mode::infer> == 4);
static_assert(is(infer<reference, avx512>[0], executor::direct_conv, layout::nchw, 0, layout::nhwc, 1));
static_assert(is(infer<reference, avx512>[1], executor::direct_conv, layout::nhwc, 1, layout::nhwc, 0));
static_assert(is(infer<reference, avx512>[2], executor::dense, layout::nhwc, 0, layout::nchw, 0));
static_assert(is(infer<reference, avx512>[3], executor::dense, layout::nchw, 0, layout::nchw, 0));
static_assert(infer<reference, avx512>[2].stream_batch == fn::dense_stream_batch);
static_assert(infer<reference, avx2>[1].exec == executor::direct_conv);
static_assert(edges_agree(infer<reference, avx512>, 4) && edges_agree(infer<reference, avx2>, 4));
// ping-pong slots, the last stage into the caller's output
static_assert(infer<reference, avx512>[0].slot == 0 && infer<reference, avx512>[1].slot == 1 &&
              infer<reference, avx512>[3].slot == 2);
// per-sample floats: 32 × (14 + 2)² bordered for the second conv; 64 × 7 × 7 unbordered for the dense stage
static_assert(infer<reference, avx512>[0].out_floats == 32 * 16 * 16);
static_assert(infer<reference, avx512>[1].out_floats == 64 * 7 * 7);
// training: conv / dense + batch statistics fused (z kept besides the output), flatten passes through, the head
// alone; both convs on the direct kernel, the first one's input gradient (1 channel fills no vector) on the GEMM
static_assert(fn::stage_count<reference, fn::mode::train> == 5);
static_assert(trains(train<reference, avx512>[0], executor::train_direct_conv, true, 32 * 28 * 28));
static_assert(!train<reference, avx512>[0].direct_input_grad && train<reference, avx512>[1].direct_input_grad);
static_assert(trains(train<reference, avx512>[1], executor::train_direct_conv, true, 64 * 14 * 14));
static_assert(trains(train<reference, avx512>[2], executor::pass_through, false, 0));
static_assert(trains(train<reference, avx512>[3], executor::train_dense, true, 128));
static_assert(trains(train<reference, avx512>[4], executor::layer, true, 0));
static_assert(train<reference, avx2>[0].exec == executor::train_direct_conv && train<reference, avx2>[1].direct_input_grad);

// 2. LeNet-5 without BatchNorm: 6 and 16 output channels fill no AVX-512 vector (16 does on AVX2: 2 × 8).
using lenet5 = fn::sequential<input<1, 28, 28>, conv2d<6, 5, padding<2>>, relu, max_pool<2>, conv2d<16, 5>, relu,
                              max_pool<2>, flatten, dense<120>, relu, dense<84>, relu, dense<10>>;
static_assert(fn::stage_count<lenet5, fn::mode::infer> == 5);
// the first conv (6 channels fill no vector) on the pixel-lane kernel writes the NHWC the second, direct, conv reads
static_assert(is(infer<lenet5, avx512>[0], executor::pixel_conv, layout::nchw, 0, layout::nhwc, 0));
static_assert(is(infer<lenet5, avx2>[0], executor::pixel_conv, layout::nchw, 0, layout::nhwc, 0));
static_assert(is(infer<lenet5, avx512>[1], executor::direct_conv, layout::nhwc, 0, layout::nhwc, 0));
static_assert(is(infer<lenet5, avx2>[1], executor::direct_conv, layout::nhwc, 0, layout::nhwc, 0));
static_assert(is(infer<lenet5, avx512>[2], executor::dense, layout::nhwc, 0, layout::nchw, 0));
static_assert(edges_agree(infer<lenet5, avx512>, 5));
// training without BatchNorm: nothing fuses; each ReLU runs in place over the layer before it
static_assert(fn::stage_count<lenet5, fn::mode::train> == lenet5::layer_count);
static_assert(trains(train<lenet5, avx512>[0], executor::layer, true, 0));
static_assert(trains(train<lenet5, avx512>[1], executor::layer, false, 0) && train<lenet5, avx512>[1].in_place);
static_assert(trains(train<lenet5, avx512>[6], executor::pass_through, false, 0));

// 3. VGG-style: conv-BN-ReLU ×2 + pool, three times; bordered NHWC on every edge until the head.
using vgg = fn::sequential<input<3, 32, 32>, conv2d<64, 3, padding<1>>, batch_norm, relu, conv2d<64, 3, padding<1>>,
                           batch_norm, relu, max_pool<2>, conv2d<128, 3, padding<1>>, batch_norm, relu,
                           conv2d<128, 3, padding<1>>, batch_norm, relu, max_pool<2>, conv2d<256, 3, padding<1>>,
                           batch_norm, relu, conv2d<256, 3, padding<1>>, batch_norm, relu, max_pool<2>, flatten,
                           dense<10>>;
static_assert(fn::stage_count<vgg, fn::mode::infer> == 7);
static_assert(is(infer<vgg, avx512>[0], executor::direct_conv, layout::nchw, 0, layout::nhwc, 1));
static_assert(is(infer<vgg, avx512>[3], executor::direct_conv, layout::nhwc, 1, layout::nhwc, 1));
static_assert(is(infer<vgg, avx512>[5], executor::direct_conv, layout::nhwc, 1, layout::nhwc, 0));
static_assert(is(infer<vgg, avx2>[6], executor::dense, layout::nhwc, 0, layout::nchw, 0));
static_assert(edges_agree(infer<vgg, avx512>, 7) && edges_agree(infer<vgg, avx2>, 7));
static_assert(fn::stage_count<vgg, fn::mode::train> == 8);  // six fused convs, flatten, the head
static_assert(trains(train<vgg, avx512>[0], executor::train_direct_conv, true, 64 * 32 * 32));
static_assert(!train<vgg, avx512>[0].direct_input_grad && train<vgg, avx512>[1].direct_input_grad);
static_assert(train<vgg, avx2>[5].exec == executor::train_direct_conv && train<vgg, avx2>[5].direct_input_grad);

// 4. A CIFAR ResNet: bordered NHWC from the stem to the global pool, through identity and projection blocks.
using basic = residual<conv2d<16, 3, padding<1>, bias<false>>, batch_norm, relu, conv2d<16, 3, padding<1>, bias<false>>,
                       batch_norm>;
using down = residual<conv2d<32, 3, stride<2>, padding<1>, bias<false>>, batch_norm, relu,
                      conv2d<32, 3, padding<1>, bias<false>>, batch_norm,
                      shortcut<conv2d<32, 1, stride<2>, bias<false>>, batch_norm>>;
using resnet = fn::sequential<input<3, 32, 32>, conv2d<16, 3, padding<1>, bias<false>>, batch_norm, relu, basic, relu,
                              basic, relu, down, relu, global_avg_pool, flatten, dense<10>>;
static_assert(fn::stage_count<resnet, fn::mode::infer> == 6);
static_assert(is(infer<resnet, avx512>[0], executor::direct_conv, layout::nchw, 0, layout::nhwc, 1));
static_assert(is(infer<resnet, avx512>[1], executor::residual, layout::nhwc, 1, layout::nhwc, 1));
static_assert(is(infer<resnet, avx512>[2], executor::residual, layout::nhwc, 1, layout::nhwc, 1));
// the stride-2 block reads the same bordered NHWC: its 1×1 projection starts its taps inside the border
static_assert(is(infer<resnet, avx512>[3], executor::residual, layout::nhwc, 1, layout::nhwc, 0));
static_assert(is(infer<resnet, avx512>[4], executor::global_pool, layout::nhwc, 0, layout::nchw, 0));
static_assert(edges_agree(infer<resnet, avx512>, 6));
// inside the first identity block: both convs direct, on the residual's own edges
using block1 = fn::detail::residual_plans<fn::detail::network_plan<resnet, avx512>, 1>::block;
static_assert(block1::count == 2);
static_assert(is(block1::records[0], executor::direct_conv, layout::nhwc, 1, layout::nhwc, 1));
static_assert(is(block1::records[1], executor::direct_conv, layout::nhwc, 1, layout::nhwc, 1));
static_assert(std::is_void_v<fn::detail::residual_plans<fn::detail::network_plan<resnet, avx512>, 1>::shortcut>);
// the block's last conv adds the identity shortcut (the block's input, nhwc+1) and applies the ReLU after the
// residual in its epilogue; the first conv adds nothing
static_assert(block1::records[1].adds_shortcut && block1::records[1].shortcut_border == 1 &&
              block1::records[1].relu_after_add && !block1::records[0].adds_shortcut);
static_assert(fn::detail::residual_plans<fn::detail::network_plan<resnet, avx512>, 1>::fused_add);
// the stride-2 block: its convs and the 1×1 stride-2 projection all on the direct kernel, on the block's edges
using down_plans = fn::detail::residual_plans<fn::detail::network_plan<resnet, avx512>, 3>;
static_assert(is(down_plans::block::records[0], executor::direct_conv, layout::nhwc, 1, layout::nhwc, 1));
static_assert(is(down_plans::block::records[1], executor::direct_conv, layout::nhwc, 1, layout::nhwc, 0));
static_assert(is(down_plans::shortcut::records[0], executor::direct_conv, layout::nhwc, 1, layout::nhwc, 0));
// the projection writes the block's output layout (nhwc, no border: the global pool reads it), which the block's
// last conv adds
static_assert(down_plans::fused_add && down_plans::block::records[1].shortcut_border == 0);
// a block that ends in a depthwise conv adds its shortcut after the block, in a pass of its own
using dw_end =
    residual<conv2d<16, 3, padding<1>, bias<false>>, batch_norm, relu, conv2d<16, 3, padding<1>, groups<16>>>;
using dw_net = fn::sequential<input<3, 8, 8>, conv2d<16, 3, padding<1>>, batch_norm, relu, dw_end, relu,
                              global_avg_pool, flatten, dense<10>>;
static_assert(infer<dw_net, avx512>[1].exec == executor::residual &&
              infer<dw_net, avx512>[1].in_layout == layout::nhwc);
using dw_plans = fn::detail::residual_plans<fn::detail::network_plan<dw_net, avx512>, 1>;
static_assert(dw_plans::block::records[1].exec == executor::depthwise_conv && !dw_plans::fused_add);
// training: the residual blocks are layers of their own, with training plans inside; the ReLU after each runs in
// place; the 3×3 convs of an identity block on the direct kernel, the stride-2 block's on the GEMM
static_assert(trains(train<resnet, avx512>[0], executor::train_direct_conv, true, 16 * 32 * 32));
static_assert(trains(train<resnet, avx512>[1], executor::layer, true, 0));
static_assert(trains(train<resnet, avx512>[2], executor::layer, false, 0) && train<resnet, avx512>[2].in_place);
using basic_train = fn::detail::train_plan_of<basic::block_list, fn::chw(16, 32, 32), avx512>;
static_assert(basic_train::count == 2 && trains(basic_train::records[0], executor::train_direct_conv, true, 16 * 32 * 32));
static_assert(basic_train::records[0].direct_input_grad && !basic_train::records[1].st.relu);
using down_train = fn::detail::train_plan_of<down::block_list, fn::chw(16, 32, 32), avx512>;
// the stride-2 3×3 conv and the 1×1 stride-2 projection train on the direct kernel too, input gradient included
// (16 input channels fill an AVX-512 vector)
static_assert(down_train::records[0].exec == executor::train_direct_conv && down_train::records[0].direct_input_grad);
static_assert(down_train::records[1].exec == executor::train_direct_conv);
using down_shortcut_train = fn::detail::train_plan_of<down::shortcut_list, fn::chw(16, 32, 32), avx512>;
static_assert(down_shortcut_train::records[0].exec == executor::train_direct_conv &&
              down_shortcut_train::records[0].direct_input_grad);
static_assert(fn::detail::train_plan_of<down::block_list, fn::chw(16, 32, 32), avx2>::records[0].exec ==
              executor::train_direct_conv);

// 5. MobileNet-style depthwise-separable blocks: depthwise (groups = channels) and pointwise convs alternate on
//    bordered NHWC from the first conv to the global pool, which sums the NHWC pixels into the head's features.
using mobilenet =
    fn::sequential<input<3, 32, 32>, conv2d<32, 3, padding<1>, bias<false>>, batch_norm, relu,
                   conv2d<32, 3, padding<1>, groups<32>, bias<false>>, batch_norm, relu, conv2d<64, 1, bias<false>>,
                   batch_norm, relu, conv2d<64, 3, stride<2>, padding<1>, groups<64>, bias<false>>, batch_norm, relu,
                   conv2d<128, 1, bias<false>>, batch_norm, relu, global_avg_pool, flatten, dense<10>>;
static_assert(fn::stage_count<mobilenet, fn::mode::infer> == 7);
static_assert(is(infer<mobilenet, avx512>[0], executor::direct_conv, layout::nchw, 0, layout::nhwc, 1));
static_assert(is(infer<mobilenet, avx512>[1], executor::depthwise_conv, layout::nhwc, 1, layout::nhwc, 0));
static_assert(is(infer<mobilenet, avx512>[2], executor::pointwise_conv, layout::nhwc, 0, layout::nhwc, 1));  // 1×1
static_assert(is(infer<mobilenet, avx512>[4], executor::pointwise_conv, layout::nhwc, 0, layout::nhwc, 0));
static_assert(is(infer<mobilenet, avx512>[3], executor::depthwise_conv, layout::nhwc, 1, layout::nhwc, 0));  // s2
static_assert(is(infer<mobilenet, avx512>[5], executor::global_pool, layout::nhwc, 0, layout::nchw, 0));
static_assert(infer<mobilenet, avx2>[1].exec == executor::depthwise_conv);
static_assert(infer<mobilenet, avx2>[2].exec == executor::pointwise_conv);
static_assert(infer<mobilenet, fn::targets::sse>[2].exec == executor::pointwise_conv);
// 8 channels fill no AVX-512 vector: that depthwise conv falls back to the GEMM (and reads NCHW)
using narrow = fn::sequential<input<8, 16, 16>, conv2d<8, 3, padding<1>, groups<8>>, relu, flatten, dense<4>>;
static_assert(infer<narrow, avx512>[0].exec == executor::gemm_conv);
static_assert(infer<narrow, avx2>[0].exec == executor::depthwise_conv);
static_assert(edges_agree(infer<mobilenet, avx512>, 7) && edges_agree(infer<mobilenet, avx2>, 7));
static_assert(fn::stage_count<mobilenet, fn::mode::train> == 8);
// training: the depthwise convs (stride 1 and 2) with the channels in the lanes, the 1×1 pointwise ones on the
// direct kernel; the 8-channel depthwise conv fills no AVX-512 vector and trains on the GEMM
static_assert(trains(train<mobilenet, avx512>[1], executor::train_depthwise_conv, true, 32 * 32 * 32));
static_assert(train<mobilenet, avx512>[2].exec == executor::train_direct_conv && train<mobilenet, avx512>[2].direct_input_grad);
static_assert(trains(train<mobilenet, avx512>[3], executor::train_depthwise_conv, true, 64 * 16 * 16));
static_assert(train<mobilenet, avx2>[3].exec == executor::train_depthwise_conv);
static_assert(train<narrow, avx512>[0].exec == executor::layer && train<narrow, avx2>[0].exec == executor::layer);

}  // namespace
