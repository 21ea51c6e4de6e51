// SPDX-License-Identifier: MIT
// Misuse at run time is safe and named: a run-time-ranked or wrongly shaped input is rejected before any copy
// (this suite runs under ASan in the sanitizer build), and the other expression types forward as input_tensor.
#include <doctest/doctest.h>

#include <fusenet/fusenet.hpp>
#include <stdexcept>
#include <string>
#include <xtensor/xarray.hpp>
#include <xtensor/xview.hpp>

#include "io/throws.hpp"

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {
using net = fn::sequential<input<1, 6, 6>, conv2d<2, 3, padding<1>>, batch_norm, relu, flatten, dense<3>>;

}  // namespace

TEST_CASE_TEMPLATE("forward of an xt::xarray is shape-checked before it is copied", Mode, fn::mode::train,
                   fn::mode::infer) {
  fn::model<net, fn::mode::train> trained{3};
  auto make = [&]() -> auto& {
    if constexpr (std::is_same_v<Mode, fn::mode::train>) {
      return trained;
    } else {
      static fn::model<net, fn::mode::infer> deployed{trained};
      return deployed;
    }
  };
  auto& m = make();
  const xt::xarray<float> missing_channel = xt::ones<float>({2, 6, 6});            // rank 3
  const xt::xarray<float> wrong_size = xt::ones<float>({2, 1, 7, 6});              // rank 4, wrong H
  const xt::xarray<float> too_many_axes = xt::ones<float>({2, 1, 6, 6, 1, 1, 1});  // larger than input_tensor
  fusenet::test::check_mentions(fusenet::test::message_of<std::invalid_argument>([&] { m.forward(missing_channel); }),
                 {"N\u00d71\u00d76\u00d76", "2\u00d76\u00d76"});
  fusenet::test::check_mentions(fusenet::test::message_of<std::invalid_argument>([&] { m.forward(wrong_size); }),
                 {"N\u00d71\u00d76\u00d76", "2\u00d71\u00d77\u00d76"});
  fusenet::test::check_mentions(fusenet::test::message_of<std::invalid_argument>([&] { m.forward(too_many_axes); }),
                 {"2\u00d71\u00d76\u00d76\u00d71\u00d71\u00d71"});

  const xt::xarray<float> good = xt::ones<float>({2, 1, 6, 6});
  const xt::xtensor<float, 4> same = good;
  const auto from_array = m.forward(good);
  const auto from_tensor = m.forward(same);
  REQUIRE(from_array.shape() == from_tensor.shape());
  CHECK(from_array == from_tensor);
}

TEST_CASE("both models take xtensor, other expressions and raw pointers, with the same results") {
  fn::model<net, fn::mode::train> trained{5};
  const fn::model<net, fn::mode::train>& frozen_from = trained;
  fn::model<net, fn::mode::infer> deployed{frozen_from};  // freezing reads a const trainer
  xt::xtensor<float, 4> x = xt::linspace<float>(-1.0f, 1.0f, 2 * 36).reshape({2, 1, 6, 6});
  const xt::xtensor<double, 4> x_double = x;  // another value type: converted after the shape check

  const auto eval = trained.eval_forward(x);
  CHECK(trained.eval_forward(x_double) == eval);
  std::vector<float> y(2 * 3);
  trained.eval_forward(x.data(), 2, y.data());
  for (std::size_t i = 0; i < y.size(); ++i) CHECK(y[i] == eval.data()[i]);

  const auto inferred = deployed.forward(x);
  CHECK(deployed.forward(xt::view(x, xt::all())) == inferred);
  std::vector<float> z(2 * 3);
  deployed.forward(x.data(), 2, z.data());
  for (std::size_t i = 0; i < z.size(); ++i) {
    CHECK(z[i] == inferred.data()[i]);
    CHECK(z[i] == doctest::Approx(eval.data()[i]).epsilon(1e-4));
  }

  const auto train_out = trained.forward(x);
  fn::model<net, fn::mode::train> twin{5};
  std::vector<float> t(2 * 3);
  twin.forward(x.data(), 2, t.data());  // the raw-pointer train forward keeps the input for backward
  for (std::size_t i = 0; i < t.size(); ++i) CHECK(t[i] == train_out.data()[i]);
  twin.zero_grad();
  twin.backward(xt::ones<float>({2, 3}));
  CHECK_THROWS_AS(twin.forward(x.data(), 0, t.data()), std::invalid_argument);
}
