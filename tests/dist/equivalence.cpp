// SPDX-License-Identifier: MIT
// Issue 16's headline test, run by mpirun -np 2: N ranks at batch B/N train as
// one process at batch B. With synchronized BatchNorm the weights, running
// statistics and counters after several Adam steps equal the single-process run
// (the oracle, computed on every rank) bit for bit: every sum over the batch is
// taken in the batch tree of kernels/batch_sum.hpp, of which each rank's shard
// (a power-of-two number of 8-image chunks) is a subtree; residual blocks
// included. With local statistics
// the weights equal a single process that takes each shard's gradient
// separately and averages them (DDP without SyncBN).
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fusenet/dist/all.hpp>
#include <fusenet/fusenet.hpp>
#include <fusenet/train/losses.hpp>
#include <fusenet/train/optimizers.hpp>
#include <random>
#include <string>
#include <vector>
#include <xtensor/xview.hpp>

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {

// The CLI's reference network (fused conv + BN + ReLU + pool stages, fused
// dense + BN + ReLU), biases in front of BatchNorm included: their gradient is
// 0 in exact arithmetic, so what they get is rounding noise that Adam turns
// into steps of ±lr, which only bit-identical gradients reproduce.
using seed_net =
    fn::sequential<input<1, 28, 28>, conv2d<32, 3, padding<1>>, batch_norm,
                   relu, max_pool<2>, conv2d<64, 3, padding<1>>, batch_norm,
                   relu, max_pool<2>, flatten, dense<128>, batch_norm, relu,
                   dense<10>>;
// BatchNorm after ReLU runs layer by layer (2-d and 1-d), besides the fused
// stages.
using mixed_net =
    fn::sequential<input<3, 10, 10>, conv2d<8, 3, padding<1>>, batch_norm, relu,
                   max_pool<2>, conv2d<16, 3, padding<1>>, relu, batch_norm,
                   relu, flatten, dense<24>, batch_norm, relu, dense<12>, relu,
                   batch_norm, dense<10>>;

// Residual basic blocks, BatchNorm inside: an identity block, then a stride-2
// block whose shortcut is a 1×1 projection with its own BatchNorm.
using resnet_net = fn::sequential<
    input<3, 8, 8>, conv2d<16, 3, padding<1>, bias<false>>, batch_norm, relu,
    residual<conv2d<16, 3, padding<1>, bias<false>>, batch_norm, relu,
             conv2d<16, 3, padding<1>, bias<false>>, batch_norm>,
    relu,
    residual<conv2d<32, 3, stride<2>, padding<1>, bias<false>>, batch_norm,
             relu, conv2d<32, 3, padding<1>, bias<false>>, batch_norm,
             shortcut<conv2d<32, 1, stride<2>, bias<false>>, batch_norm>>,
    relu, global_avg_pool, flatten, dense<10>>;

template <class Net> struct data {
  xt::xtensor<float, 4> x;
  xt::xtensor<std::int64_t, 1> y;
};

template <class Net> data<Net> make_batch(std::size_t n, std::uint64_t seed) {
  constexpr auto in = fn::model<Net, fn::mode::train>::input_dims;
  data<Net> d;
  d.x = xt::xtensor<float, 4>::from_shape({n, in.d[0], in.d[1], in.d[2]});
  d.y = xt::xtensor<std::int64_t, 1>::from_shape({n});
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.5f, 1.0f);
  for (auto &v : d.x)
    v = normal(rng);
  for (auto &v : d.y)
    v = static_cast<std::int64_t>(rng() % 10);
  return d;
}

struct comparison {
  double worst = 0; // largest |a − b| / max(|b|, the tensor's mean |b|)
  std::size_t values = 0, identical = 0;
  double worst_stat = 0; // running statistics' worst relative error
  std::size_t counters_differ = 0;
  std::string where;
};

/// Compares every value (only the parameters when `parameters_only`).
template <class M> comparison compare(M &a, M &b, bool parameters_only) {
  comparison c;
  auto ta = a.tensors(), tb = b.tensors();
  REQUIRE(ta.size() == tb.size());
  for (std::size_t t = 0; t < ta.size(); ++t) {
    if (ta[t].counter) {
      c.counters_differ += *ta[t].counter != *tb[t].counter;
      continue;
    }
    const bool stat = ta[t].name.ends_with("running_mean") ||
                      ta[t].name.ends_with("running_var");
    if (parameters_only && stat)
      continue;
    double scale = 0; // the tensor's mean |value|: the floor of the relative
                      // error's denominator
    for (std::size_t i = 0; i < ta[t].spec.size(); ++i)
      scale += std::abs(static_cast<double>(tb[t].value[i]));
    scale = std::max(scale / static_cast<double>(ta[t].spec.size()), 1e-6);
    for (std::size_t i = 0; i < ta[t].spec.size(); ++i) {
      const double x = ta[t].value[i], y = tb[t].value[i];
      const double rel = std::abs(x - y) / std::max(std::abs(y), scale);
      if (stat)
        c.worst_stat = std::max(c.worst_stat, rel);
      if (rel > c.worst)
        c.worst = rel, c.where = ta[t].name + " " + std::to_string(x) + " vs " +
                                 std::to_string(y);
      ++c.values;
      c.identical +=
          std::memcmp(&ta[t].value[i], &tb[t].value[i], sizeof(float)) == 0;
    }
  }
  return c;
}

template <class Net>
void check_equivalence(bool sync, std::size_t global, std::size_t steps,
                       const char *what) {
  using M = fn::model<Net, fn::mode::train>;
  fn::dist::communicator comm;
  const auto ranks = static_cast<std::size_t>(comm.size()),
             rank = static_cast<std::size_t>(comm.rank());
  const std::size_t per = global / ranks;
  M single{7}, distributed{static_cast<std::uint64_t>(
                   100 + rank)}; // different seeds: the broadcast must fix them
  fn::adam opt_single{single, {.lr = 1e-3f}},
      opt_dist{distributed, {.lr = 1e-3f}};
  fn::dist::data_parallel<M> dp(
      comm, distributed, {.sync_batch_norm = sync, .bucket_bytes = 64 << 10});
  // rank 0's initial weights are seed 100's: give the oracle the same
  {
    M seed0{100};
    auto from = seed0.tensors();
    auto to = single.tensors();
    for (std::size_t t = 0; t < to.size(); ++t)
      if (to[t].value)
        std::copy(from[t].value, from[t].value + to[t].spec.size(),
                  to[t].value);
  }
  double worst_loss = 0;
  fn::dist::synced_optimizer<M, fn::adam> step_dist(dp, opt_dist);
  for (std::size_t s = 0; s < steps; ++s) {
    const auto batch = make_batch<Net>(global, 1000 + s);
    // the oracle: one process, the whole batch (sync) or each shard's gradient
    // averaged (local statistics)
    double loss_single = 0;
    single.zero_grad();
    if (sync) {
      auto [loss, dlogits] =
          fn::cross_entropy(single.forward(batch.x), batch.y);
      single.backward(dlogits);
      loss_single = loss;
    } else {
      // each shard's gradient on its own (zero_grad, forward, backward), then
      // their mean
      auto params = single.parameters();
      std::vector<std::vector<float>> total(params.size());
      for (std::size_t r = 0; r < ranks; ++r) {
        const xt::xtensor<float, 4> xs =
            xt::view(batch.x, xt::range(r * per, (r + 1) * per));
        const xt::xtensor<std::int64_t, 1> ys =
            xt::view(batch.y, xt::range(r * per, (r + 1) * per));
        auto [loss, dlogits] = fn::cross_entropy(single.forward(xs), ys);
        single.zero_grad();
        single.backward(dlogits);
        for (std::size_t p = 0; p < params.size(); ++p) {
          total[p].resize(params[p].size);
          for (std::size_t i = 0; i < params[p].size; ++i)
            total[p][i] += params[p].grad[i];
        }
        loss_single += loss / static_cast<double>(ranks);
      }
      for (std::size_t p = 0; p < params.size(); ++p)
        for (std::size_t i = 0; i < params[p].size; ++i)
          params[p].grad[i] = total[p][i] / static_cast<float>(ranks);
    }
    opt_single.step();
    // data parallel: this rank's shard
    const xt::xtensor<float, 4> x =
        xt::view(batch.x, xt::range(rank * per, (rank + 1) * per));
    const xt::xtensor<std::int64_t, 1> y =
        xt::view(batch.y, xt::range(rank * per, (rank + 1) * per));
    auto [loss, dlogits] = fn::cross_entropy(distributed.forward(x), y);
    distributed.zero_grad();
    distributed.backward(dlogits);
    step_dist.step();
    const double loss_dist = comm.sum(loss) / static_cast<double>(ranks);
    worst_loss = std::max(worst_loss, std::abs(loss_dist - loss_single) /
                                          std::abs(loss_single));
  }
  const comparison c = compare(distributed, single, !sync);
  // every rank holds the same model, bit for bit
  const auto hashes = comm.allgather([&] {
    std::uint64_t h = 14695981039346656037ull;
    for (const auto &t : distributed.tensors())
      if (t.value && (sync || !(t.name.ends_with("running_mean") ||
                                t.name.ends_with("running_var"))))
        fn::dist::detail::fnv1a(h, t.value, t.spec.size() * sizeof(float));
    return h;
  }());
  if (comm.is_root())
    std::printf(
        "{\"test\": \"%s\", \"ranks\": %zu, \"global_batch\": %zu, \"steps\": "
        "%zu, \"worst_loss_rel\": %.3g, \"worst_value_rel\": %.3g, \"values\": "
        "%zu, \"bit_identical_values\": %zu, \"buckets\": %zu, "
        "\"buckets_started_in_backward\": %zu, \"worst_running_stat_rel\": "
        "%.3g}\n",
        what, ranks, global, steps, worst_loss, c.worst, c.values, c.identical,
        dp.bucket_count(), dp.times().buckets_in_backward, c.worst_stat);
  if (comm.is_root() && c.identical != c.values)
    std::printf("worst value: %s\n", c.where.c_str());
  // The reported loss is each rank's mean over its images, averaged over the
  // ranks afterwards: grouped otherwise than the oracle's mean, within
  // rounding.
  CHECK(worst_loss <= 1e-6);
  // Weights, running statistics (with sync BatchNorm) and counters: bit for
  // bit.
  CHECK(c.identical == c.values);
  CHECK(c.worst == 0.0);
  if (sync)
    CHECK(c.counters_differ ==
          0); // with local statistics the oracle counts each shard's forward
  for (auto h : hashes)
    CHECK(h == hashes[0]);
}

} // namespace

TEST_CASE("sync BatchNorm: N ranks at B/N equal one process at B (reference "
          "network)") {
  check_equivalence<seed_net>(true, 32, 5, "sync_bn seed_net");
}
TEST_CASE("sync BatchNorm: N ranks at B/N equal one process at B "
          "(layer-by-layer BatchNorm too)") {
  check_equivalence<mixed_net>(true, 16, 5, "sync_bn mixed_net");
}
TEST_CASE("sync BatchNorm: N ranks at B/N equal one process at B (residual "
          "blocks, projection shortcut)") {
  check_equivalence<resnet_net>(true, 32, 4, "sync_bn resnet_net");
}
TEST_CASE("local BatchNorm: N ranks equal one process averaging each shard's "
          "gradient") {
  check_equivalence<seed_net>(false, 32, 5, "local_bn seed_net");
}

TEST_CASE("the batch tree: a power-of-two shard of chunks sums to a subtree of "
          "the whole batch's sum") {
  namespace fk = fusenet::kernels;
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (std::size_t images : {8u, 16u, 40u, 64u, 96u}) {
    std::vector<double> v(images);
    for (auto &x : v)
      x = normal(rng);
    // batch_sum (a stack) equals add_pairwise on the chunks' floats
    fk::batch_sum all;
    std::vector<float> chunks(fk::batch_chunks(images));
    for (std::size_t n = 0; n < images; ++n) {
      all.add(v[n]);
    }
    for (std::size_t c = 0; c < chunks.size(); ++c) {
      double s = 0;
      for (std::size_t n = c * fk::batch_chunk;
           n < std::min(images, (c + 1) * fk::batch_chunk); ++n)
        s += v[n];
      chunks[c] = static_cast<float>(s);
    }
    const float total = all.total();
    fk::add_pairwise(chunks.data(), chunks.size(), 1, 1);
    CHECK(total == chunks[0]);
    // two halves of a power-of-two number of chunks each: their sum, added
    const std::size_t half = images / 2;
    if (half % fk::batch_chunk != 0 ||
        !std::has_single_bit(half / fk::batch_chunk))
      continue;
    fk::batch_sum first, second;
    for (std::size_t n = 0; n < images; ++n)
      (n < half ? first : second).add(v[n]);
    CHECK(first.total() + second.total() == total);
  }
}
