// SPDX-License-Identifier: MIT
// model<Net, mode::infer> against the trainer's unfused eval_forward (the oracle) after a few training steps:
// the reference CNN, the every-layer-kind net, a ResNet basic-block net and a net that crosses every layout
// boundary; loading from a file; one fused direct conv stage against the scalar loops run layer by layer; and a
// NaN pixel reaching the logits as in PyTorch.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <fusenet/fusenet.hpp>
#include <fusenet/kernels/scalar/activations.hpp>
#include <fusenet/kernels/scalar/batch_norm.hpp>
#include <fusenet/kernels/scalar/conv2d.hpp>
#include <fusenet/kernels/scalar/pool.hpp>
#include <fusenet/train/losses.hpp>
#include <fusenet/train/optimizers.hpp>
#include <random>
#include <string>
#include <vector>

#include "model/parity.hpp"
#include "reference/model/nets.hpp"

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {

using fusenet::test::batch_shape;
using fusenet::test::check_close;
using fusenet::test::check_parity;
using fusenet::test::random_tensor;
using fusenet::test::train_a_little;

using resnet_net = fusenet::test::resnet_net;

/// Every layout hand-over: GEMM conv → direct conv (NHWC with border 1), direct → direct with a 5×5 border 2
/// and an average pool, direct → reference layer (NCHW), reference → direct (NHWC), direct → dense, and a
/// GEMM conv with a fused max pool.
using layouts_net =
    fn::sequential<input<3, 17, 17>, conv2d<16, 3, stride<2>, padding<1>, dilation<2>>, batch_norm, relu,  // gemm (dilated) 16×8×8
                   conv2d<16, 3, padding<1>>, relu, avg_pool<2>,                              // direct 16×4×4
                   conv2d<32, 5, padding<2>>, batch_norm,                                     // direct 32×4×4
                   leaky_relu,                                                                // reference
                   conv2d<16, 3, padding<1>>, batch_norm, relu,                               // direct
                   conv2d<6, 3, padding<1>>, relu, max_pool<2>,                               // gemm 6×2×2
                   flatten, dense<10>>;

}  // namespace

TEST_CASE("infer: reference net equals the trainer's eval_forward") {
  using model = fn::model<fn::test::reference_net, fn::mode::infer>;
  static_assert(model::executor_of(0) == fn::executor::direct_conv);
  static_assert(model::executor_of(1) == fn::executor::direct_conv);
  check_parity<fn::test::reference_net>(11);
}

TEST_CASE("infer: mixed net (every layer kind) equals the trainer's eval_forward") {
  check_parity<fn::test::mixed_net>(12);
}

TEST_CASE("infer: ResNet basic blocks equal the trainer's eval_forward") {
  using model = fn::model<resnet_net, fn::mode::infer>;
  static_assert(model::executor_of(0) == fn::executor::direct_conv);
  static_assert(model::executor_of(1) == fn::executor::residual);  // block on its own plan, add + ReLU fused
  static_assert(model::executor_of(2) == fn::executor::residual);  // with the projection shortcut
  check_parity<resnet_net>(13);
}

TEST_CASE("infer: every layout hand-over equals the trainer's eval_forward") {
  using model = fn::model<layouts_net, fn::mode::infer>;
  static_assert(model::executor_of(0) == fn::executor::gemm_conv);
  static_assert(model::executor_of(1) == fn::executor::direct_conv);
  static_assert(model::executor_of(2) == fn::executor::direct_conv);
  static_assert(model::executor_of(3) == fn::executor::reference);
  static_assert(model::executor_of(4) == fn::executor::direct_conv);
  static_assert(model::executor_of(5) == fn::executor::gemm_conv);
  static_assert(model::executor_of(6) == fn::executor::dense);
  check_parity<layouts_net>(14);
}

TEST_CASE("infer: from_file and the path constructor equal freezing the trainer") {
  using net = fn::test::reference_net;
  fn::model<net, fn::mode::train> m{21};
  train_a_little(m, 21);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("fusenet_infer_" + std::to_string(std::random_device{}()) +
                                                 ".safetensors"))
          .string();
  fn::save(m, path);
  fn::model<net, fn::mode::infer> from_trainer{m};
  auto from_file = fn::model<net, fn::mode::infer>::from_file(path);
  fn::model<net, fn::mode::infer> from_path{path};
  std::filesystem::remove(path);
  const auto x = random_tensor<fn::model<net, fn::mode::infer>::input_tensor>(batch_shape<net>(5), 22);
  const auto want = from_trainer.forward(x);
  CHECK(from_file.forward(x) == want);  // same tensors, same code: bit-identical
  CHECK(from_path.forward(x) == want);
}

TEST_CASE("infer: a fused direct conv stage equals conv → BN → ReLU → max pool run by the scalar loops") {
  using net = fn::sequential<input<3, 10, 10>, conv2d<32, 3, padding<1>>, batch_norm, relu, max_pool<2>>;
  using model = fn::model<net, fn::mode::infer>;
  static_assert(fn::stage_count<net, fn::mode::infer> == 1);
  static_assert(model::executor_of(0) == fn::executor::direct_conv);
  fn::model<net, fn::mode::train> m{31};
  {  // running statistics and affine parameters away from their initial 0 / 1
    std::mt19937 rng(33);
    std::uniform_real_distribution<float> u(0.5f, 1.5f);
    for (const auto& r : m.tensors())
      if (r.name.rfind("1.", 0) == 0 && r.value != nullptr)
        for (std::size_t i = 0; i < r.spec.size(); ++i) r.value[i] = r.name == "1.running_mean" ? u(rng) - 1.0f : u(rng);
  }
  model deployed{m};
  constexpr std::size_t n = 3;
  const auto x = random_tensor<model::input_tensor>(batch_shape<net>(n), 32);

  std::map<std::string, const float*> t;
  for (const auto& r : m.tensors()) t[r.name] = r.value;
  namespace sk = fn::kernels::scalar;
  std::vector<float> conv(n * 32 * 10 * 10), bn(conv.size()), act(conv.size()), pooled(n * 32 * 5 * 5);
  std::vector<std::uint32_t> argmax(pooled.size());
  sk::conv2d_forward<float>({n, 3, 10, 10, 32, 3, 1, 1, 1, 1}, x.data(), t.at("0.weight"), t.at("0.bias"),
                            conv.data());
  sk::batch_norm_eval_forward<float>({n, 32, 100}, conv.data(), t.at("1.weight"), t.at("1.bias"),
                                     t.at("1.running_mean"), t.at("1.running_var"), 1e-5f, bn.data());
  sk::relu_forward(bn.size(), bn.data(), act.data());
  sk::max_pool2d_forward<float>({n, 32, 10, 10, 2, 2, 0}, act.data(), pooled.data(), argmax.data());

  xt::xtensor<float, 4> want = xt::xtensor<float, 4>::from_shape({n, 32, 5, 5});
  std::copy(pooled.begin(), pooled.end(), want.begin());
  check_close(deployed.forward(x), want);
}

namespace {

/// Sample 1 of a batch of 2 gets one NaN pixel. PyTorch's ReLU and max pool keep NaN and every later conv or
/// dense output reads it, so all of sample 1's logits are NaN; sample 0 is untouched, so all of its are finite.
template <class Net>
void check_nan_reaches_logits(std::uint32_t seed) {
  using train_model = fn::model<Net, fn::mode::train>;
  train_model m{seed};
  train_a_little(m, seed);
  fn::model<Net, fn::mode::infer> deployed{m};
  auto x = random_tensor<typename train_model::input_tensor>(batch_shape<Net>(2), seed + 1);
  x(1, 0, 5, 7) = std::numeric_limits<float>::quiet_NaN();
  const auto got = deployed.forward(x);
  const auto oracle = m.eval_forward(x);  // the trainer's layer-by-layer path says the same
  constexpr std::size_t classes = Net::output_dims.size();
  for (std::size_t c = 0; c < classes; ++c) {
    CAPTURE(c);
    CHECK(std::isfinite(got(0, c)));
    CHECK(std::isnan(got(1, c)));
    CHECK(std::isnan(oracle(1, c)));
  }
}

}  // namespace

TEST_CASE("infer: a NaN input pixel gives NaN logits, not finite numbers (ReLU and max pool keep NaN)") {
  SUBCASE("direct conv stages with ReLU and max pool, dense head") {
    check_nan_reaches_logits<fn::test::reference_net>(71);
  }
  SUBCASE("GEMM conv with fused max pool, reference leaky_relu, average pool") {
    check_nan_reaches_logits<layouts_net>(72);
  }
  SUBCASE("ResNet: residual blocks as reference stages") { check_nan_reaches_logits<resnet_net>(73); }
}
