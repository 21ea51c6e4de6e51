// SPDX-License-Identifier: MIT
// model<Net, mode::infer> loaded from PyTorch's state_dict equals torch.nn.Sequential(...).eval() (fixtures by
// gen_infer.py): a ResNet-style net (identity and projection residual blocks, stride 2, global pool) and a
// MobileNet-style net (depthwise and pointwise convs, stride 2, a 3×3 max pool with padding, global pool), and a
// net of narrow convolutions (few output channels: the pixel-lane kernel).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fusenet/fusenet.hpp>
#include <fusenet/io/npy.hpp>
#include <string>

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {

const std::string root = std::string(FUSENET_REFERENCE_DIR) + "/infer/fixtures/";

using resnet_small = fn::sequential<
    input<3, 16, 16>, conv2d<16, 3, padding<1>, bias<false>>, batch_norm, relu,
    residual<conv2d<16, 3, padding<1>, bias<false>>, batch_norm, relu, conv2d<16, 3, padding<1>, bias<false>>,
             batch_norm>,
    relu,
    residual<conv2d<32, 3, stride<2>, padding<1>, bias<false>>, batch_norm, relu, conv2d<32, 3, padding<1>, bias<false>>,
             batch_norm, shortcut<conv2d<32, 1, stride<2>, bias<false>>, batch_norm>>,
    relu, global_avg_pool, flatten, dense<10>>;

using mobilenet_small =
    fn::sequential<input<3, 16, 16>, conv2d<16, 3, padding<1>>, batch_norm, relu,
                   conv2d<16, 3, padding<1>, groups<16>, bias<false>>, batch_norm, relu, conv2d<32, 1, bias<false>>,
                   batch_norm, relu, conv2d<32, 3, stride<2>, padding<1>, groups<32>, bias<false>>, batch_norm, relu,
                   conv2d<64, 1>, batch_norm, relu, max_pool<3, stride<2>, padding<1>>, global_avg_pool, flatten,
                   dense<10>>;

// Convolutions with fewer output channels than a vector has lanes: a 5×5 one with BatchNorm and an average pool
// handing NCHW to a stride-2 one, which hands bordered NHWC to a direct conv.
using narrow_small =
    fn::sequential<input<3, 32, 32>, conv2d<6, 5, padding<2>>, batch_norm, relu, avg_pool<2>,
                   conv2d<5, 3, stride<2>, padding<1>>, relu, conv2d<16, 3, padding<1>>, batch_norm, relu,
                   max_pool<2>, flatten, dense<10>>;

// MobileNet-v2's inverted residual (identity shortcut, no ReLU after the add) and ResNet-50's bottleneck (a
// stride-1 1×1 projection): both blocks end in a 1×1 conv on the pointwise kernel, which adds the shortcut.
using bottleneck_small = fn::sequential<
    input<3, 16, 16>, conv2d<16, 3, padding<1>, bias<false>>, batch_norm, relu,
    residual<conv2d<64, 1, bias<false>>, batch_norm, relu, conv2d<64, 3, padding<1>, groups<64>, bias<false>>,
             batch_norm, relu, conv2d<16, 1, bias<false>>, batch_norm>,
    residual<conv2d<16, 1, bias<false>>, batch_norm, relu, conv2d<16, 3, padding<1>, bias<false>>, batch_norm, relu,
             conv2d<32, 1, bias<false>>, batch_norm, shortcut<conv2d<32, 1, bias<false>>, batch_norm>>,
    relu, global_avg_pool, flatten, dense<10>>;

// |fusenet − torch| ≤ 1e-5·|torch| + 1e-5·max|torch|: float32 against the float64 oracle, with folded BN.
template <class Net>
void check_against_torch(const std::string& name) {
  const std::string dir = root + name + "/";
  using model_t = fn::model<Net, fn::mode::infer>;
  model_t m{dir + "weights.safetensors"};
  typename model_t::input_tensor x = fn::io::load_npy<float>(dir + "x.npy");
  const auto want = fn::io::load_npy<float>(dir + "y.npy");
  const auto got = m.forward(x);
  REQUIRE(got.size() == want.size());
  float scale = 0.0f;
  for (float v : want) scale = std::max(scale, std::fabs(v));
  std::size_t bad = 0;
  for (std::size_t i = 0; i < want.size(); ++i)
    if (!(std::fabs(got.data()[i] - want.data()[i]) <= 1e-5f * std::fabs(want.data()[i]) + 1e-5f * scale)) ++bad;
  CHECK(scale > 0.0f);
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("reference infer: a ResNet-style net from PyTorch's state_dict equals torch's eval output") {
  static_assert(fn::model<resnet_small, fn::mode::infer>::executor_of(1) == fn::executor::residual);
  check_against_torch<resnet_small>("resnet_small");
}

TEST_CASE("reference infer: a MobileNet-style net from PyTorch's state_dict equals torch's eval output") {
  check_against_torch<mobilenet_small>("mobilenet_small");
}

TEST_CASE("reference infer: narrow convolutions (pixel-lane kernel) from PyTorch's state_dict equal torch's output") {
  using model = fn::model<narrow_small, fn::mode::infer>;
  static_assert(model::executor_of(0) == fn::executor::pixel_conv);
  static_assert(model::executor_of(1) == fn::executor::pixel_conv);
  static_assert(fn::execution_plan<narrow_small, fn::mode::infer>[0].out_layout == fn::layout::nchw);
  static_assert(fn::execution_plan<narrow_small, fn::mode::infer>[1].out_layout == fn::layout::nhwc);
  check_against_torch<narrow_small>("narrow_small");
}

TEST_CASE("reference infer: inverted-residual and bottleneck blocks from PyTorch's state_dict equal torch's output") {
  // with 16 lanes (AVX-512) both blocks' last 1x1 convs run on the pointwise kernel and add the shortcut there
  using plans1 = fn::detail::residual_plans<fn::detail::network_plan<bottleneck_small, fn::targets::avx512>, 1>;
  using plans2 = fn::detail::residual_plans<fn::detail::network_plan<bottleneck_small, fn::targets::avx512>, 2>;
  static_assert(plans1::block::records[2].exec == fn::executor::pointwise_conv && plans1::fused_add);
  static_assert(!plans1::block::records[2].relu_after_add);
  static_assert(plans2::block::records[2].exec == fn::executor::pointwise_conv && plans2::fused_add);
  static_assert(plans2::shortcut::records[0].exec == fn::executor::pointwise_conv);
  static_assert(plans2::block::records[2].relu_after_add);
  check_against_torch<bottleneck_small>("bottleneck_small");
}
