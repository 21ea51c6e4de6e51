// SPDX-License-Identifier: MIT
// The inference plan: stage lists of the reference CNN, the every-layer-kind net and a ResNet basic-block net,
// the describe() text with and without executors, and the direct-conv eligibility predicate both ways.

#include <doctest/doctest.h>

#include <fusenet/fusenet.hpp>
#include <string>

#include "reference/model/nets.hpp"

namespace fn = fusenet;
using namespace fusenet::layers;
using fn::stage_kind;
using fn::stage_pool;

namespace {

/// Field by field comparison, so that a static_assert names the differing stage.
constexpr bool same(const fn::stage& s, std::size_t first, std::size_t count, stage_kind kind, bool flatten, bool bn,
                    bool relu, stage_pool pool) {
  return s.first == first && s.count == count && s.kind == kind && s.flatten == flatten && s.batch_norm == bn &&
         s.relu == relu && s.pool == pool;
}

using reference = fn::test::reference_net;
template <std::size_t S>
constexpr fn::stage ref_stage = fn::stages<reference, fn::mode::infer>[S];
static_assert(fn::stage_count<reference, fn::mode::infer> == 4);
static_assert(same(ref_stage<0>, 0, 4, stage_kind::conv, false, true, true, stage_pool::max));
static_assert(same(ref_stage<1>, 4, 4, stage_kind::conv, false, true, true, stage_pool::max));
static_assert(same(ref_stage<2>, 8, 4, stage_kind::dense, true, true, true, stage_pool::none));
static_assert(same(ref_stage<3>, 12, 1, stage_kind::dense, false, false, false, stage_pool::none));
static_assert(ref_stage<2>.main() == 9 && ref_stage<0>.fused() && !ref_stage<3>.fused());
// training fuses conv + batch_norm + relu + 2×2 max pool and dense + batch_norm + relu; flatten stays apart
template <std::size_t S>
constexpr fn::stage ref_train_stage = fn::stages<reference, fn::mode::train>[S];
static_assert(fn::stage_count<reference, fn::mode::train> == 5);
static_assert(same(ref_train_stage<0>, 0, 4, stage_kind::conv, false, true, true, stage_pool::max));
static_assert(same(ref_train_stage<1>, 4, 4, stage_kind::conv, false, true, true, stage_pool::max));
static_assert(same(ref_train_stage<2>, 8, 1, stage_kind::single, false, false, false, stage_pool::none));  // flatten
static_assert(same(ref_train_stage<3>, 9, 3, stage_kind::dense, false, true, true, stage_pool::none));
static_assert(same(ref_train_stage<4>, 12, 1, stage_kind::single, false, false, false, stage_pool::none));

using mixed = fn::test::mixed_net;
template <std::size_t S>
constexpr fn::stage mixed_stage = fn::stages<mixed, fn::mode::infer>[S];
static_assert(fn::stage_count<mixed, fn::mode::infer> == 13);
// conv2d<8, 3, stride<2>> + batch_norm; leaky_relu does not fuse
static_assert(same(mixed_stage<0>, 0, 2, stage_kind::conv, false, true, false, stage_pool::none));
static_assert(same(mixed_stage<1>, 2, 1, stage_kind::single, false, false, false, stage_pool::none));
// each residual with the relu after it: the add and the ReLU in one pass
static_assert(same(mixed_stage<2>, 3, 2, stage_kind::residual, false, false, true, stage_pool::none));
static_assert(same(mixed_stage<3>, 5, 2, stage_kind::residual, false, false, true, stage_pool::none));
// max_pool<3, stride<1>, padding<1>> and avg_pool<2> after relu: not after a conv, so their own stages
static_assert(same(mixed_stage<4>, 7, 1, stage_kind::single, false, false, false, stage_pool::none));
static_assert(same(mixed_stage<5>, 8, 1, stage_kind::single, false, false, false, stage_pool::none));
static_assert(same(mixed_stage<6>, 9, 1, stage_kind::conv, false, false, false, stage_pool::none));  // conv2d<6, 1>
// flatten before dropout does not fold; linear<24, 16> + batch_norm does, sigmoid does not
static_assert(same(mixed_stage<8>, 11, 1, stage_kind::single, false, false, false, stage_pool::none));
static_assert(same(mixed_stage<10>, 13, 2, stage_kind::dense, false, true, false, stage_pool::none));
static_assert(same(mixed_stage<11>, 15, 1, stage_kind::single, false, false, false, stage_pool::none));
static_assert(same(mixed_stage<12>, 16, 1, stage_kind::dense, false, false, false, stage_pool::none));

// training: conv2d<8, 3, stride<2>> + batch_norm fuses (leaky_relu does not); avg_pool never does
template <std::size_t S>
constexpr fn::stage mixed_train_stage = fn::stages<mixed, fn::mode::train>[S];
static_assert(same(mixed_train_stage<0>, 0, 2, stage_kind::conv, false, true, false, stage_pool::none));
static_assert(same(mixed_train_stage<1>, 2, 1, stage_kind::single, false, false, false, stage_pool::none));
// linear<24, 16> + batch_norm fuses too (sigmoid does not)
static_assert(fn::stage_count<mixed, fn::mode::train> == mixed::layer_count - 2);

using resnet = fusenet::test::resnet_net;
template <std::size_t S>
constexpr fn::stage resnet_stage = fn::stages<resnet, fn::mode::infer>[S];
static_assert(fn::stage_count<resnet, fn::mode::infer> == 5);
static_assert(same(resnet_stage<0>, 0, 3, stage_kind::conv, false, true, true, stage_pool::none));
static_assert(same(resnet_stage<1>, 3, 2, stage_kind::residual, false, false, true, stage_pool::none));
static_assert(same(resnet_stage<2>, 5, 2, stage_kind::residual, false, false, true, stage_pool::none));
static_assert(same(resnet_stage<3>, 7, 1, stage_kind::single, false, false, false, stage_pool::none));  // gap
static_assert(same(resnet_stage<4>, 8, 2, stage_kind::dense, true, false, false, stage_pool::none));

// The direct kernel's predicate, positive and one negative per reason, for AVX-512 and AVX2 targets.
constexpr fn::conv_facts plain{.in_channels = 32, .out_channels = 64, .kernel = 3, .pad = 1, .height = 14, .width = 14};
constexpr fn::conv_facts with(fn::conv_facts c, std::size_t fn::conv_facts::*field, std::size_t value) {
  c.*field = value;
  return c;
}
constexpr fn::target avx512 = fn::targets::avx512, avx2 = fn::targets::avx2;
static_assert(fn::fusable_direct_conv(plain, avx512));
static_assert(fn::fusable_direct_conv(plain, avx2));
static_assert(fn::fusable_direct_conv(with(plain, &fn::conv_facts::in_channels, 1), avx512));  // first layer
static_assert(fn::fusable_direct_conv(with(plain, &fn::conv_facts::kernel, 5), avx512));
static_assert(fn::fusable_direct_conv(with(plain, &fn::conv_facts::stride, 2), avx512));  // ResNet downsampling
static_assert(!fn::fusable_direct_conv(with(plain, &fn::conv_facts::stride, 3), avx512));
static_assert(!fn::fusable_direct_conv(with(plain, &fn::conv_facts::dilation, 2), avx512));
static_assert(!fn::fusable_direct_conv(with(plain, &fn::conv_facts::groups, 2), avx512));
static_assert(!fn::fusable_direct_conv(with(plain, &fn::conv_facts::kernel, 2), avx512));  // even kernel
static_assert(!fn::fusable_direct_conv(with(plain, &fn::conv_facts::out_channels, 24), avx512));
static_assert(fn::fusable_direct_conv(with(plain, &fn::conv_facts::out_channels, 24), avx2));
static_assert(!fn::fusable_direct_conv(with(plain, &fn::conv_facts::kernel, 17), avx512));  // larger than 14 + 2

// The pointwise kernel's predicate: unpadded, unpooled, ungrouped, undilated 1×1 convs at stride 1 whose output
// channels fill whole vectors; one negative per reason.
constexpr fn::conv_facts one_by_one = with(with(plain, &fn::conv_facts::kernel, 1), &fn::conv_facts::pad, 0);
static_assert(fn::fusable_pointwise_conv(one_by_one, avx512) && fn::fusable_pointwise_conv(one_by_one, avx2));
static_assert(!fn::fusable_pointwise_conv(with(one_by_one, &fn::conv_facts::stride, 2), avx512));  // projection
static_assert(!fn::fusable_pointwise_conv(plain, avx512));                                         // 3×3
static_assert(!fn::fusable_pointwise_conv(with(one_by_one, &fn::conv_facts::pad, 1), avx512));
static_assert(!fn::fusable_pointwise_conv(with(one_by_one, &fn::conv_facts::pool, 2), avx512));
static_assert(!fn::fusable_pointwise_conv(with(one_by_one, &fn::conv_facts::groups, 2), avx512));
static_assert(!fn::fusable_pointwise_conv(with(one_by_one, &fn::conv_facts::dilation, 2), avx512));
static_assert(!fn::fusable_pointwise_conv(with(one_by_one, &fn::conv_facts::out_channels, 24), avx512));
static_assert(fn::fusable_pointwise_conv(with(one_by_one, &fn::conv_facts::out_channels, 24), avx2));
// the register tile: 1 input channel keeps a kernel row of weights in registers (K·vectors more). A 7×7 kernel
// with 2 vectors needs 14 + 2 + 1 registers before any pixel, more than AVX2's 16: the tile drops to 1 vector
// (7 + 1 + 1 and 7 pixels). A 13×13 kernel leaves no pixel even then.
constexpr fn::conv_facts stem = with(with(with(plain, &fn::conv_facts::in_channels, 1), &fn::conv_facts::kernel, 7),
                                     &fn::conv_facts::height, 32);
static_assert(fn::direct_conv_tile_fits(with(stem, &fn::conv_facts::width, 32), avx512));
static_assert(fn::direct_conv_tile_fits(with(stem, &fn::conv_facts::width, 32), avx2));
static_assert(fusenet::detail::conv_default_tile(1, 64, 7, 1, 32, 8, 16).vectors == 1);
static_assert(fusenet::detail::conv_default_tile(1, 64, 7, 1, 32, 16, 32).vectors == 2);
static_assert(!fn::direct_conv_tile_fits(with(with(stem, &fn::conv_facts::width, 32), &fn::conv_facts::kernel, 15),
                                         avx2));
static_assert(fn::direct_conv_tile_fits(with(with(stem, &fn::conv_facts::width, 32), &fn::conv_facts::kernel, 15),
                                        avx512));

// applied to whole stages of the nets above, through the execution plan
template <class Net, fn::target T = fn::build_target>
constexpr auto infer_plan = fn::execution_plan<Net, fn::mode::infer, T>;
static_assert(infer_plan<reference, avx512>[0].exec == fn::executor::direct_conv);
static_assert(infer_plan<reference, avx512>[1].exec == fn::executor::direct_conv);
static_assert(infer_plan<reference, avx512>[2].exec == fn::executor::dense);
static_assert(infer_plan<mixed, avx512>[0].exec == fn::executor::gemm_conv);  // 8 channels: no AVX-512 vector
static_assert(infer_plan<mixed, avx2>[0].exec == fn::executor::direct_conv);   // stride 2, one AVX2 vector
static_assert(infer_plan<mixed, avx512>[6].exec == fn::executor::gemm_conv);  // 6 output channels
static_assert(infer_plan<mixed, avx512>[2].exec == fn::executor::residual);
static_assert(infer_plan<mixed, avx512>[4].exec == fn::executor::pool);       // max_pool<3, stride<1>, padding<1>>
static_assert(infer_plan<mixed, avx512>[7].exec == fn::executor::reference);  // tanh
static_assert(infer_plan<resnet, avx512>[0].exec == fn::executor::direct_conv);
static_assert(infer_plan<resnet, fn::targets::sse>[0].exec == fn::executor::direct_conv);

}  // namespace

TEST_CASE("plan: describe() of the reference net lists its stages, executors and layouts") {
  CHECK(fn::describe<reference, fn::mode::infer, fn::targets::avx512>() ==
        "stage 0: conv2d 1\u219232 3\u00d73 p1 + bn(folded) + relu + max_pool 2 [fused] | direct_conv | nchw -> nhwc+1\n"
        "stage 1: conv2d 32\u219264 3\u00d73 p1 + bn(folded) + relu + max_pool 2 [fused] | direct_conv | nhwc+1 -> nhwc\n"
        "stage 2: flatten + dense 3136\u2192128 + bn(folded) + relu [fused] | dense | nhwc -> nchw\n"
        "stage 3: dense 128\u219210 | dense | nchw -> nchw\n");
}

TEST_CASE("plan: describe() of the reference net in training lists executors and what backward keeps") {
  CHECK(fn::describe<reference, fn::mode::train, fn::targets::avx512>() ==
        "stage 0: conv2d 1\u219232 3\u00d73 p1 + bn(batch stats) + relu + max_pool 2 [fused] | train_direct_conv | "
        "nchw -> nchw | dx: gemm | keeps z + output\n"
        "stage 1: conv2d 32\u219264 3\u00d73 p1 + bn(batch stats) + relu + max_pool 2 [fused] | train_direct_conv | "
        "nchw -> nchw | dx: direct | keeps z + output\n"
        "stage 2: flatten | pass_through | nchw -> nchw\n"
        "stage 3: dense 3136\u2192128 + bn(batch stats) + relu [fused] | train_dense | nchw -> nchw | keeps z + output\n"
        "stage 4: dense 128\u219210 | layer | nchw -> nchw | keeps output\n");
}

TEST_CASE("plan: describe() in training shows a residual block's inner training plans") {
  const std::string text = fn::describe<mixed, fn::mode::train, fn::targets::avx512>();
  CHECK(text.find("| layer | nchw -> nchw | keeps output\n  block:\n    stage 0: ") != std::string::npos);
  CHECK(text.find("relu | layer | nchw -> nchw | in place\n") != std::string::npos);
}

TEST_CASE("plan: describe() shows a residual block's add fused into the epilogue of its last conv") {
  const std::string text = fn::describe<resnet, fn::mode::infer, fn::targets::avx512>();
  INFO(text);
  CHECK(text.find("+ bn(folded) + shortcut + relu [fused] | direct_conv") != std::string::npos);
}

TEST_CASE("plan: the inference model's describe() is the plan of this build's target") {
  CHECK(fn::model<reference, fn::mode::infer>::describe() == fn::describe<reference, fn::mode::infer>());
  CHECK(fn::model<mixed, fn::mode::infer>::describe() == fn::describe<mixed, fn::mode::infer>());
}

TEST_CASE("plan: describe() of the every-layer-kind net shows residual blocks with their inner plans") {
  // for AVX-512: 8 output channels fill no vector, so the stride-2 conv runs on the GEMM
  const std::string mixed_text = fn::describe<mixed, fn::mode::infer, fn::targets::avx512>();
  CHECK(mixed_text.find("stage 0: conv2d 3\u21928 3\u00d73 s2 + bn(folded) [fused] | gemm_conv | nchw -> nchw\n") == 0);
  CHECK(mixed_text.find("stage 1: leaky_relu") != std::string::npos);
  CHECK(mixed_text.find("stage 2: residual + relu [fused] | residual | nchw -> nchw\n  block:\n    stage 0: ") !=
        std::string::npos);
  CHECK(mixed_text.find("  shortcut:\n    stage 0: conv2d 8\u219212 1\u00d71 s2 + bn(folded) [fused] | gemm_conv") !=
        std::string::npos);
  CHECK(mixed_text.find("stage 12: dense 16\u21925 | dense | nchw -> nchw\n") != std::string::npos);
  // for AVX2 the same conv fills one 8-float vector and runs on the direct kernel
  CHECK(fn::describe<mixed, fn::mode::infer, fn::targets::avx2>().find(
            "stage 0: conv2d 3\u21928 3\u00d73 s2 + bn(folded) [fused] | direct_conv | nchw -> nchw\n") == 0);
}
