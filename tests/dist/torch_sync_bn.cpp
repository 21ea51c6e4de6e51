// SPDX-License-Identifier: MIT
// Synchronized BatchNorm against PyTorch, run by mpirun -np 2: a conv + BN +
// ReLU + pool + dense + BN + dense network trained data-parallel at 16 images
// per rank matches the fixtures of gen_sync_bn.py (PyTorch in float64: 2 gloo
// processes with synchronized BatchNorm, checked there to equal one process
// with BatchNorm over the global batch of 32): the first step's logits, every
// step's loss, and after 3 SGD or 3 Adam steps every weight, running statistic
// and num_batches_tracked.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fusenet/dist/all.hpp>
#include <fusenet/fusenet.hpp>
#include <fusenet/io/model_io.hpp>
#include <fusenet/io/npy.hpp>
#include <fusenet/io/safetensors.hpp>
#include <fusenet/train/losses.hpp>
#include <fusenet/train/optimizers.hpp>
#include <string>
#include <vector>
#include <xtensor/xview.hpp>

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {

const std::string dir = std::string(FUSENET_DIST_FIXTURES) + "/sync_bn/";

using net =
    fn::sequential<input<3, 8, 8>, conv2d<16, 3, padding<1>, bias<false>>,
                   batch_norm, relu, max_pool<2>, flatten,
                   dense<32, bias<false>>, batch_norm, relu, dense<10>>;
using trainer = fn::model<net, fn::mode::train>;

/// The largest |got − want| over a tensor, relative to the tensor's largest
/// |want| (so that values near zero, where float32 accumulation leaves an
/// absolute error of about that scale times eps, do not demand more).
double worst_error(const float *got, const float *want, std::size_t n) {
  double scale = 1e-30, worst = 0;
  for (std::size_t i = 0; i < n; ++i)
    scale = std::max(scale, std::abs(static_cast<double>(want[i])));
  for (std::size_t i = 0; i < n; ++i)
    worst = std::max(worst, std::abs(static_cast<double>(got[i]) -
                                     static_cast<double>(want[i])) /
                                scale);
  return worst;
}

template <class Optimizer>
void check_against_torch(const std::string &name, double rel) {
  fn::dist::communicator comm;
  const auto ranks = static_cast<std::size_t>(comm.size()),
             rank = static_cast<std::size_t>(comm.rank());
  REQUIRE(ranks == 2);
  const xt::xtensor<float, 4> x_all = fn::io::load_npy<float>(dir + "x.npy");
  const xt::xtensor<std::int64_t, 1> y_all =
      fn::io::load_npy<std::int64_t>(dir + "labels.npy");
  const std::size_t per = x_all.shape()[0] / ranks;
  const xt::xtensor<float, 4> x =
      xt::view(x_all, xt::range(rank * per, (rank + 1) * per));
  const xt::xtensor<std::int64_t, 1> y =
      xt::view(y_all, xt::range(rank * per, (rank + 1) * per));

  trainer m{3 + rank};
  if (rank == 0)
    fn::load(m, dir + "init.safetensors"); // rank 1's own weights: the
                                           // broadcast must replace them
  Optimizer opt = [&] {
    if constexpr (std::is_same_v<Optimizer, fn::sgd>)
      return fn::sgd{m, {.lr = 0.05f, .momentum = 0.9f}};
    else
      return fn::adam{m, {.lr = 1e-2f}};
  }();
  fn::dist::data_parallel<trainer> dp(comm, m);
  fn::dist::synced_optimizer<trainer, Optimizer> step(dp, opt);
  const auto want_losses = fn::io::load_npy<float>(dir + name + "_losses.npy");
  const auto want_logits = fn::io::load_npy<float>(dir + name + "_logits.npy");
  for (std::size_t s = 0; s < want_losses.size(); ++s) {
    const auto logits = m.forward(x);
    if (s == 0) {
      const xt::xtensor<float, 2> mine =
          xt::view(want_logits, xt::range(rank * per, (rank + 1) * per));
      const double e = worst_error(logits.data(), mine.data(), mine.size());
      CHECK_MESSAGE(e <= 1e-5, "first step's logits: worst error " << e);
    }
    auto [loss, dlogits] = fn::cross_entropy(logits, y);
    const double global =
        comm.sum(static_cast<double>(loss)) / static_cast<double>(ranks);
    CHECK(std::abs(global - static_cast<double>(want_losses(s))) <=
          1e-5 * std::abs(want_losses(s)));
    m.zero_grad();
    m.backward(dlogits);
    step.step();
  }
  const auto want =
      fn::io::read_safetensors(dir + "after_" + name + ".safetensors");
  std::size_t seen = 0;
  double worst = 0;
  for (const auto &t : m.tensors()) {
    CAPTURE(t.name);
    const auto it = want.tensors.find(t.name);
    REQUIRE(it != want.tensors.end());
    ++seen;
    if (t.counter != nullptr) {
      std::int64_t count = 0;
      std::memcpy(&count, it->second.bytes.data(), sizeof count);
      CHECK(*t.counter == count);
      continue;
    }
    REQUIRE(it->second.bytes.size() == t.spec.size() * sizeof(float));
    std::vector<float> w(t.spec.size());
    std::memcpy(w.data(), it->second.bytes.data(), it->second.bytes.size());
    const double e = worst_error(t.value, w.data(), w.size());
    worst = std::max(worst, e);
    CHECK_MESSAGE(e <= rel, t.name << ": worst error " << e);
  }
  CHECK(seen == want.tensors.size());
  if (comm.is_root())
    std::printf("{\"test\": \"torch sync_bn %s\", \"worst_rel\": %.3g}\n",
                name.c_str(), worst);
}

} // namespace

TEST_CASE(
    "sync BatchNorm on 2 ranks matches PyTorch (3 SGD steps, momentum 0.9)") {
  check_against_torch<fn::sgd>("sgd", 1e-5);
}
TEST_CASE("sync BatchNorm on 2 ranks matches PyTorch (3 Adam steps)") {
  check_against_torch<fn::adam>("adam", 1e-5);
}
