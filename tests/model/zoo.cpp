// SPDX-License-Identifier: MIT
// The benchmark zoo's networks through model<Net, mode::infer> equal the trainer's eval_forward: direct, strided,
// depthwise and pointwise convolutions, residual blocks with identity and projection shortcuts, the global pool,
// networks without BatchNorm, at batches 1, 3 and 17 (below, at and above the thread count and the GEMV batch).

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <fusenet/fusenet.hpp>

#include "../../bench/zoo/nets.hpp"
#include "model/parity.hpp"

namespace fn = fusenet;

TEST_CASE("zoo: LeNet-5 without BatchNorm equals eval_forward") { fn::test::check_parity<fn::zoo::lenet5>(41, {1, 3, 17}); }

TEST_CASE("zoo: VGG-style equals eval_forward") { fn::test::check_parity<fn::zoo::vgg>(42, {1, 3, 17}); }

TEST_CASE("zoo: CIFAR ResNet-20 equals eval_forward") {
  static_assert(fn::model<fn::zoo::cifar_resnet20, fn::mode::infer>::executor_of(1) == fn::executor::residual);
  fn::test::check_parity<fn::zoo::cifar_resnet20>(43, {1, 3, 17});
}

TEST_CASE("zoo: MobileNet-style (depthwise-separable) equals eval_forward") {
  fn::test::check_parity<fn::zoo::mobilenet>(44, {1, 3, 17});
}

TEST_CASE("zoo: the reference network equals eval_forward") {
  fn::test::check_parity<fn::zoo::reference>(45, {1, 3, 17});
}
