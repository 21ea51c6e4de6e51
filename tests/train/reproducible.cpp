// SPDX-License-Identifier: MIT
// Training is bit-reproducible: the same seed, batches and thread count give bit-identical parameters, running
// statistics and counters after a few Adam steps; so do 1 and 2 threads, as the kernels split work without
// changing any summation order.

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <fusenet/fusenet.hpp>
#include <fusenet/train/losses.hpp>
#include <fusenet/train/optimizers.hpp>
#include <random>
#include <string>
#include <vector>

#include "reference/model/nets.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fn = fusenet;

namespace {


/// Every stored tensor of a model (values, running statistics, counters) as raw bytes, in state_dict order.
struct snapshot {
  std::vector<std::string> names;
  std::vector<std::vector<unsigned char>> bytes;
  std::size_t counters = 0;  // num_batches_tracked entries: equal for any two runs of the same length
  std::vector<float> losses;
};

template <class Model>
snapshot take(Model& m) {
  snapshot s;
  for (const auto& t : m.tensors()) {
    const auto* p = t.counter != nullptr ? static_cast<const void*>(t.counter) : static_cast<const void*>(t.value);
    const std::size_t size = t.counter != nullptr ? sizeof(std::int64_t) : t.spec.size() * sizeof(float);
    s.counters += t.counter != nullptr ? 1 : 0;
    s.names.push_back(t.name);
    s.bytes.emplace_back(static_cast<const unsigned char*>(p), static_cast<const unsigned char*>(p) + size);
  }
  return s;
}

/// Adam steps on seeded batches of 32 from a model of Net seeded with `seed`, with OpenMP limited to `threads`. A
/// batch of 32 is large enough for the conv, batch norm and pool kernels to split their work over 2 threads.
template <class Net = fusenet::test::reference_net>
snapshot train(std::uint64_t seed, [[maybe_unused]] int threads, int steps = 4) {
#ifdef _OPENMP
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
#endif
  using train_model = fn::model<Net, fn::mode::train>;
  constexpr std::size_t batch = 32;
  constexpr std::size_t classes = train_model::output_dims.d[0];
  std::vector<std::size_t> shape{batch};
  for (std::size_t i = 0; i < train_model::input_dims.rank; ++i) shape.push_back(train_model::input_dims.d[i]);
  train_model m{seed};
  fn::adam opt{m, {.lr = 1e-2f}};
  std::mt19937 rng(1234);
  std::vector<float> losses;
  for (int step = 0; step < steps; ++step) {
    const auto x =
        fusenet::test::random_tensor<typename train_model::input_tensor>(shape, static_cast<std::uint32_t>(100 + step));
    xt::xtensor<std::int64_t, 1> labels = xt::xtensor<std::int64_t, 1>::from_shape({batch});
    for (auto& l : labels) l = static_cast<std::int64_t>(rng() % classes);
    opt.zero_grad();
    auto [loss, dlogits] = fn::cross_entropy(m.forward(x), labels);
    m.backward(dlogits);
    opt.step();
    losses.push_back(loss);
  }
  snapshot state = take(m);
  state.losses = losses;
#ifdef _OPENMP
  omp_set_num_threads(saved);
#endif
  return state;
}

/// Tensors of a and b whose bytes differ (memcmp, so -0.0 against 0.0 or two NaN payloads count as different).
std::vector<std::string> differing(const snapshot& a, const snapshot& b) {
  std::vector<std::string> out;
  REQUIRE(a.names == b.names);
  for (std::size_t i = 0; i < a.names.size(); ++i) {
    const bool same =
        a.bytes[i].size() == b.bytes[i].size() && std::memcmp(a.bytes[i].data(), b.bytes[i].data(), a.bytes[i].size()) == 0;
    if (!same) out.push_back(a.names[i]);
  }
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

TEST_CASE("same seed and 2 threads: bit-identical state after 4 Adam steps") {
  const snapshot a = train(7, 2);
  const snapshot b = train(7, 2);
  // The comparison means something only if training moved every tensor: each differs from the initial state.
  const snapshot initial = train(7, 2, 0);
  CHECK(differing(a, initial).size() == a.names.size());
  CHECK_MESSAGE(differing(a, b).empty(), "tensors that differ: " << joined(differing(a, b)));
  CHECK(a.losses == b.losses);
}

TEST_CASE("same seed: 1 thread and 2 threads give the bit-identical state") {
  const snapshot one = train(7, 1);
  const snapshot two = train(7, 2);
  CHECK_MESSAGE(differing(one, two).empty(), "tensors that differ: " << joined(differing(one, two)));
  CHECK(one.losses == two.losses);
}

TEST_CASE("a different seed gives a different state (the seed reaches the initialisation)") {
  const snapshot a = train(7, 2);
  const snapshot b = train(8, 2);
  CHECK(differing(a, b).size() == a.names.size() - a.counters);
}

TEST_CASE_TEMPLATE("ResNet- and MobileNet-style nets: 1 and 2 threads give the bit-identical state", Net,
                   fusenet::test::resnet_small_net, fusenet::test::mobile_net) {
  const snapshot one = train<Net>(7, 1);
  const snapshot two = train<Net>(7, 2);
  const snapshot initial = train<Net>(7, 2, 0);
  CHECK(differing(two, initial).size() == two.names.size());
  CHECK_MESSAGE(differing(one, two).empty(), "tensors that differ: " << joined(differing(one, two)));
  CHECK(one.losses == two.losses);
}
