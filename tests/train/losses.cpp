// SPDX-License-Identifier: MIT
// cross_entropy and mse: label types, error messages, and gradients against central finite
// differences.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <fusenet/train/losses.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>
#include <xtensor/xrandom.hpp>

namespace {

// 7 samples × 5 classes, logits of order 2, deterministic.
xt::xtensor<float, 2> make_logits() {
  xt::random::seed(7);
  return xt::random::randn<float>({7, 5}) * 2.0f;
}

const xt::xtensor<std::int64_t, 1> labels64 = {3, 0, 4, 1, 1, 2, 4};

// Messages must name what is wrong: every fragment has to appear.
template <class Exception, class F>
void check_throws_naming(F&& f, const std::vector<std::string>& fragments) {
  bool thrown = false;
  try {
    f();
  } catch (const Exception& e) {
    thrown = true;
    const std::string what = e.what();
    for (const auto& frag : fragments) {
      INFO("message: " << what << "; expected to contain: " << frag);
      CHECK(what.find(frag) != std::string::npos);
    }
  }
  CHECK(thrown);
}

}  // namespace

TEST_CASE(
    "auto [loss, dlogits] = cross_entropy(...) destructures into a float and an N × classes "
    "tensor") {
  const auto logits = make_logits();
  auto [loss, dlogits] = fusenet::cross_entropy(logits, labels64);
  static_assert(std::is_same_v<decltype(loss), float>);
  static_assert(std::is_same_v<decltype(dlogits), xt::xtensor<float, 2>>);
  CHECK(std::isfinite(loss));
  CHECK(dlogits.shape()[0] == 7);
  CHECK(dlogits.shape()[1] == 5);
}

TEST_CASE("cross_entropy: uint8 (IDX) and int32 labels give the same result as int64") {
  const auto logits = make_logits();
  const auto ref = fusenet::cross_entropy(logits, labels64);
  const xt::xtensor<std::uint8_t, 1> labels8 = xt::cast<std::uint8_t>(labels64);
  const xt::xarray<std::int32_t> labels32 =
      xt::cast<std::int32_t>(labels64);  // dynamic rank works too
  for (const auto& r :
       {fusenet::cross_entropy(logits, labels8), fusenet::cross_entropy(logits, labels32)}) {
    CHECK(r.loss == ref.loss);
    CHECK(r.grad == ref.grad);
  }
}

TEST_CASE("cross_entropy: a lazy logits expression equals its evaluated value") {
  const auto logits = make_logits();
  const xt::xtensor<float, 2> doubled = logits * 2.0f;
  const auto lazy = fusenet::cross_entropy(logits * 2.0f, labels64);
  const auto eager = fusenet::cross_entropy(doubled, labels64);
  CHECK(lazy.loss == eager.loss);
  CHECK(lazy.grad == eager.grad);
}

TEST_CASE("cross_entropy: loss equals a naive double log-softmax NLL and grad rows sum to zero") {
  const auto logits = make_logits();
  const auto [loss, grad] = fusenet::cross_entropy(logits, labels64);
  double expected = 0.0;
  for (std::size_t i = 0; i < 7; ++i) {
    double sum = 0.0;
    for (std::size_t c = 0; c < 5; ++c) sum += std::exp(static_cast<double>(logits(i, c)));
    expected += std::log(sum) - logits(i, static_cast<std::size_t>(labels64(i)));
    double row = 0.0;
    for (std::size_t c = 0; c < 5; ++c) row += grad(i, c);
    CHECK(std::abs(row) < 1e-7);  // softmax sums to 1, onehot to 1
  }
  expected /= 7.0;
  CHECK(std::abs(loss - expected) <= 1e-6 * std::abs(expected));
}

TEST_CASE("cross_entropy: gradient matches central finite differences of the loss") {
  auto logits = make_logits();
  // Not a structured binding: Clang 14 cannot capture one in the lambda that INFO builds.
  const xt::xtensor<float, 2> grad = fusenet::cross_entropy(logits, labels64).grad;
  // Float loss: rounding error ~1e-7 / (2h) = 5e-6 and truncation ~h^2 = 1e-4 times a small third
  // derivative.
  const float h = 1e-2f;
  for (std::size_t i = 0; i < 7; ++i)
    for (std::size_t c = 0; c < 5; ++c) {
      const float saved = logits(i, c);
      logits(i, c) = saved + h;
      const double up = fusenet::cross_entropy(logits, labels64).loss;
      logits(i, c) = saved - h;
      const double down = fusenet::cross_entropy(logits, labels64).loss;
      logits(i, c) = saved;
      const double numeric = (up - down) / (2.0 * static_cast<double>(h));
      INFO("logit (" << i << ", " << c << "): analytic " << grad(i, c) << ", numeric " << numeric);
      CHECK(std::abs(grad(i, c) - numeric) <= 1e-4);
    }
}

TEST_CASE("cross_entropy: stable for logits whose exp overflows float") {
  const xt::xtensor<float, 2> logits = {{1000.0f, 0.0f, -1000.0f}, {-500.0f, 500.0f, 499.0f}};
  const xt::xtensor<std::int64_t, 1> labels = {0, 2};
  const auto [loss, grad] = fusenet::cross_entropy(logits, labels);
  // Row 0: loss 0. Row 1: logsumexp = 500 + log(1 + e^-1), minus 499.
  const double expected = (0.0 + 1.0 + std::log1p(std::exp(-1.0))) / 2.0;
  CHECK(std::abs(loss - expected) <= 1e-6 * expected);
  CHECK(xt::all(xt::isfinite(grad)));
}

TEST_CASE(
    "cross_entropy: a label out of range throws std::out_of_range naming the sample, label and "
    "classes") {
  const auto logits = make_logits();
  xt::xtensor<std::int64_t, 1> bad = labels64;
  bad(2) = 5;
  check_throws_naming<std::out_of_range>([&] { (void)fusenet::cross_entropy(logits, bad); },
                                         {"sample 2", "label 5", "5 classes"});
  bad(2) = 4;
  bad(6) = -1;
  check_throws_naming<std::out_of_range>([&] { (void)fusenet::cross_entropy(logits, bad); },
                                         {"sample 6", "label -1", "5 classes"});
  xt::xtensor<std::uint8_t, 1> bad8 = xt::cast<std::uint8_t>(labels64);
  bad8(0) = 255;
  check_throws_naming<std::out_of_range>([&] { (void)fusenet::cross_entropy(logits, bad8); },
                                         {"sample 0", "label 255", "5 classes"});
}

TEST_CASE("cross_entropy: mismatched batch sizes and wrong ranks throw std::invalid_argument") {
  const auto logits = make_logits();
  const xt::xtensor<std::int64_t, 1> six = {0, 1, 2, 3, 4, 0};
  check_throws_naming<std::invalid_argument>([&] { (void)fusenet::cross_entropy(logits, six); },
                                             {"7 rows", "6 entries"});
  const xt::xarray<float> flat = xt::ones<float>({7});
  check_throws_naming<std::invalid_argument>([&] { (void)fusenet::cross_entropy(flat, labels64); },
                                             {"2-D", "(7)"});
  const xt::xtensor<std::int64_t, 2> labels2 = xt::zeros<std::int64_t>({7, 1});
  check_throws_naming<std::invalid_argument>([&] { (void)fusenet::cross_entropy(logits, labels2); },
                                             {"1-D", "(7, 1)"});
}

TEST_CASE("mse: loss is the mean squared difference and grad matches central finite differences") {
  xt::random::seed(11);
  xt::xtensor<float, 2> pred = xt::random::randn<float>({3, 4});
  const xt::xtensor<float, 2> target = xt::random::randn<float>({3, 4});
  const auto [loss, grad] = fusenet::mse(pred, target);
  static_assert(std::is_same_v<std::remove_const_t<decltype(grad)>, xt::xtensor<float, 2>>);
  double expected = 0.0;
  for (std::size_t i = 0; i < pred.size(); ++i) {
    const double d = static_cast<double>(pred.data()[i]) - target.data()[i];
    expected += d * d;
  }
  expected /= 12.0;
  CHECK(std::abs(loss - expected) <= 1e-6 * expected);
  const float h = 1e-2f;
  for (std::size_t i = 0; i < pred.size(); ++i) {
    const float saved = pred.data()[i];
    pred.data()[i] = saved + h;
    const double up = fusenet::mse(pred, target).loss;
    pred.data()[i] = saved - h;
    const double down = fusenet::mse(pred, target).loss;
    pred.data()[i] = saved;
    CHECK(std::abs(grad.data()[i] - (up - down) / (2.0 * static_cast<double>(h))) <= 1e-4);
  }
}

TEST_CASE("mse: different shapes throw std::invalid_argument naming both") {
  const xt::xtensor<float, 2> a = xt::zeros<float>({3, 4});
  const xt::xtensor<float, 2> b = xt::zeros<float>({4, 3});
  check_throws_naming<std::invalid_argument>([&] { (void)fusenet::mse(a, b); },
                                             {"(3, 4)", "(4, 3)"});
}
