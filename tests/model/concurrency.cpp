// SPDX-License-Identifier: MIT
// One const model<Net, mode::infer> shared by two std::threads, each with its own workspace: every result is
// bit-identical to the single-threaded forward of the same input; and a workspace moved between models computes
// with the model it is given. Build it with -Db_sanitize=thread -Dopenmp=disabled to let ThreadSanitizer watch.

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fusenet/fusenet.hpp>
#include <random>
#include <thread>
#include <vector>

#include "reference/model/nets.hpp"

namespace fn = fusenet;

namespace {

/// Batch sizes the threads cycle through: 1 (no batch parallelism), odd sizes, and the largest last.
constexpr std::size_t batch_sizes[] = {5, 1, 3, 8};
constexpr std::size_t most = 8;

template <class Net>
std::vector<float> random_batch(std::uint32_t seed) {
  std::vector<float> x(most * Net::input_shape.size());
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  return x;
}

/// Two threads, `iterations` forwards each over their own inputs through one const model, compared bit for bit
/// with the forwards of the same inputs run before the threads start (model's own workspace, one thread).
template <class Net>
void check_shared_model(std::uint32_t seed, std::size_t iterations) {
  using infer_model = fn::model<Net, fn::mode::infer>;
  constexpr std::size_t out = Net::output_dims.size();
  fn::model<Net, fn::mode::train> trained{seed};
  infer_model deployed{trained};

  constexpr std::size_t threads = 2;
  std::vector<std::vector<float>> inputs, expected;  // per thread: one input batch, one result per batch size
  for (std::size_t t = 0; t < threads; ++t) {
    inputs.push_back(random_batch<Net>(seed + 100 + static_cast<std::uint32_t>(t)));
    for (std::size_t n : batch_sizes) {
      std::vector<float> y(n * out);
      deployed.forward(inputs[t].data(), n, y.data());  // the non-const overload: the model's own workspace
      expected.push_back(y);
    }
  }
  CHECK(std::memcmp(expected[0].data(), expected[std::size(batch_sizes)].data(), sizeof(float)) != 0);

  const infer_model& shared = deployed;
  std::vector<std::size_t> mismatches(threads, 0), runs(threads, 0);
  auto work = [&](std::size_t t) {
    typename infer_model::workspace ws;
    std::vector<float> y(most * out);
    for (std::size_t i = 0; i < iterations; ++i) {
      const std::size_t k = i % std::size(batch_sizes), n = batch_sizes[k];
      shared.forward(inputs[t].data(), n, y.data(), ws);
      const std::vector<float>& want = expected[t * std::size(batch_sizes) + k];
      if (std::memcmp(y.data(), want.data(), n * out * sizeof(float)) != 0) ++mismatches[t];
      ++runs[t];
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(work, t);
  for (auto& th : pool) th.join();
  for (std::size_t t = 0; t < threads; ++t) {
    CAPTURE(t);
    CHECK(runs[t] == iterations);
    CHECK(mismatches[t] == 0);
  }
}

}  // namespace

TEST_CASE("concurrency: two threads share the reference CNN, each with its own workspace") {
  check_shared_model<fn::test::reference_net>(41, 24);
}

TEST_CASE("concurrency: two threads share a net with reference stages (residual blocks, max_pool, dropout)") {
  // mixed_net's residual blocks and lone pools run as reference stages, whose layer code writes scratch inside
  // its node: each workspace must run its own copy.
  static_assert([] {
    for (std::size_t s = 0; s < fn::stage_count<fn::test::mixed_net, fn::mode::infer>; ++s)
      if (fn::model<fn::test::mixed_net, fn::mode::infer>::executor_of(s) == fn::executor::reference) return true;
    return false;
  }());
  check_shared_model<fn::test::mixed_net>(42, 24);
}

TEST_CASE("concurrency: two threads share the ResNet basic-block net") {
  check_shared_model<fn::test::resnet_net>(43, 16);
}

TEST_CASE("concurrency: a workspace given to another model computes with that model's weights") {
  using net = fn::test::mixed_net;
  using infer_model = fn::model<net, fn::mode::infer>;
  constexpr std::size_t out = net::output_dims.size(), n = 3;
  fn::model<net, fn::mode::train> trained_a{51}, trained_b{52};
  infer_model a{trained_a}, b{trained_b};
  const auto x = random_batch<net>(53);
  std::vector<float> want_a(n * out), want_b(n * out), got(n * out);
  a.forward(x.data(), n, want_a.data());
  b.forward(x.data(), n, want_b.data());
  REQUIRE(want_a != want_b);

  infer_model::workspace ws;
  const infer_model& ca = a;
  const infer_model& cb = b;
  ca.forward(x.data(), n, got.data(), ws);
  CHECK(got == want_a);
  cb.forward(x.data(), n, got.data(), ws);  // ws holds a's reference-stage state: it must copy b's
  CHECK(got == want_b);
  ca.forward(x.data(), n, got.data(), ws);
  CHECK(got == want_a);

  // a copy of b is another model with b's weights; a moved-to model keeps them too
  const infer_model b_copy = b;
  b_copy.forward(x.data(), n, got.data(), ws);
  CHECK(got == want_b);
  const infer_model a_moved = std::move(a);
  a_moved.forward(x.data(), n, got.data(), ws);
  CHECK(got == want_a);
}

TEST_CASE("concurrency: the tensor overload with a workspace equals the one without, bit for bit") {
  using net = fn::test::reference_net;
  using infer_model = fn::model<net, fn::mode::infer>;
  fn::model<net, fn::mode::train> trained{61};
  infer_model deployed{trained};
  const auto x = fn::test::random_tensor<infer_model::input_tensor>({4, 1, 28, 28}, 62);
  infer_model::workspace ws;
  ws.reserve(4);
  const infer_model& shared = deployed;
  CHECK(shared.forward(x, ws) == deployed.forward(x));
}
