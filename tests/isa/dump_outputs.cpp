// SPDX-License-Identifier: MIT
// Writes what the networks of tests/reference/model/nets.hpp compute from fixed seeds (train-mode logits, loss,
// every parameter gradient, unfused eval logits and model<infer> logits) as .npy files, so that builds for
// different ISAs can be compared (scripts/check_isa.sh runs compare.py on two such directories).
// Usage: dump_outputs DIR

#include <cstdint>
#include <exception>
#include <filesystem>
#include <fusenet/fusenet.hpp>
#include <fusenet/io/npy.hpp>
#include <fusenet/train/losses.hpp>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "reference/model/nets.hpp"

namespace fn = fusenet;

namespace {

template <class Net>
std::vector<std::size_t> batch_shape(std::size_t n) {
  std::vector<std::size_t> s{n};
  for (std::size_t i = 0; i < Net::input_shape.rank; ++i) s.push_back(Net::input_shape.d[i]);
  return s;
}

template <class Tensor>
void save(const std::filesystem::path& file, const Tensor& t) {
  fn::io::save_npy<float>(file.string(), t.data(), std::vector<std::size_t>(t.shape().begin(), t.shape().end()));
}

// One train-mode step's outputs, then the model frozen for inference (its BN running statistics moved by that
// step, so folding them is not the identity) on a second batch. Everything depends only on the seed.
template <class Net>
void dump(const std::filesystem::path& dir, const std::string& name, std::uint32_t seed) {
  using train_model = fn::model<Net, fn::mode::train>;
  using input_tensor = typename train_model::input_tensor;
  constexpr std::size_t batch = 16;
  const auto prefix = [&](const std::string& what) { return dir / (name + "." + what + ".npy"); };

  train_model m{seed};
  m.set_dropout(false);  // the dropout mask comes from the model's RNG, not from the kernels under comparison
  const auto x = fn::test::random_tensor<input_tensor>(batch_shape<Net>(batch), seed + 1);
  xt::xtensor<std::int64_t, 1> labels = xt::xtensor<std::int64_t, 1>::from_shape({batch});
  std::mt19937 rng(seed + 2);
  for (auto& l : labels) l = static_cast<std::int64_t>(rng() % Net::output_dims.size());

  const auto logits = m.forward(x);
  auto [loss, dlogits] = fn::cross_entropy(logits, labels);
  m.zero_grad();
  m.backward(dlogits);
  save(prefix("train_logits"), logits);
  fn::io::save_npy<float>(prefix("loss").string(), &loss, {1});
  for (const auto& t : m.tensors()) {
    if (t.grad == nullptr) continue;
    fn::io::save_npy<float>(prefix("grad." + t.name).string(), t.grad,
                            std::vector<std::size_t>(t.spec.shape.begin(), t.spec.shape.begin() + t.spec.rank));
  }

  const auto x2 = fn::test::random_tensor<input_tensor>(batch_shape<Net>(batch), seed + 3);
  save(prefix("eval_logits"), m.eval_forward(x2));
  fn::model<Net, fn::mode::infer> frozen{m};
  save(prefix("infer_logits"), frozen.forward(x2));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: dump_outputs DIR\n";
    return 2;
  }
  try {
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    dump<fn::test::reference_net>(dir, "reference_net", 11);
    dump<fn::test::mixed_net>(dir, "mixed_net", 12);
    dump<fn::test::resnet_net>(dir, "resnet_net", 13);
  } catch (const std::exception& e) {
    std::cerr << "dump_outputs: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
