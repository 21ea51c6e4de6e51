// SPDX-License-Identifier: MIT
// fusenet's cross_entropy and mse against torch.nn.functional (fixtures from gen_train.py).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <fusenet/io/npy.hpp>
#include <fusenet/train/losses.hpp>
#include <string>

namespace {

const std::string dir = std::string(FUSENET_REFERENCE_DIR) + "/train/fixtures/";

// fusenet accumulates in double and torch in float: 1e-6 relative on the loss, 1e-7 absolute + 1e-5
// relative on gradients (their entries are O(1/N), small ones lose relative precision in torch's
// float softmax).
constexpr double loss_rel = 1e-6;
constexpr double grad_abs = 1e-7;
constexpr double grad_rel = 1e-5;

template <class Grad>
void check_result(const fusenet::basic_loss_result<Grad>& r, const std::string& name) {
  const auto loss = fusenet::io::load_npy<float>(dir + name + "_loss.npy");
  const auto grad = fusenet::io::load_npy<float>(dir + name + "_grad.npy");
  INFO(name << " loss: fusenet " << r.loss << ", torch " << loss(0));
  CHECK(std::abs(r.loss - loss(0)) <= loss_rel * std::abs(loss(0)));
  REQUIRE(r.grad.shape()[0] == grad.shape()[0]);
  REQUIRE(r.grad.shape()[1] == grad.shape()[1]);
  for (std::size_t i = 0; i < grad.size(); ++i) {
    const double want = grad.data()[i];
    INFO(name << " grad[" << i << "]: fusenet " << r.grad.data()[i] << ", torch " << want);
    CHECK(std::abs(r.grad.data()[i] - want) <= grad_abs + grad_rel * std::abs(want));
  }
}

}  // namespace

TEST_CASE("cross_entropy with int64 labels matches F.cross_entropy") {
  const auto labels = fusenet::io::load_npy<std::int64_t>(dir + "ce_labels.npy");
  for (const std::string name : {"ce", "ce_large"}) {
    const xt::xtensor<float, 2> logits = fusenet::io::load_npy<float>(dir + name + "_logits.npy");
    check_result(fusenet::cross_entropy(logits, labels), name);
  }
}

TEST_CASE("mse matches F.mse_loss") {
  const auto pred = fusenet::io::load_npy<float>(dir + "mse_pred.npy");
  const auto target = fusenet::io::load_npy<float>(dir + "mse_target.npy");
  check_result(fusenet::mse(pred, target), "mse");
}
