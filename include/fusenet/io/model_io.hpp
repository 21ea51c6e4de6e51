// SPDX-License-Identifier: MIT
// save(m, path) / load(m, path): a model's tensors as safetensors with torch.nn.Sequential state_dict keys.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fusenet/io/error.hpp"
#include "fusenet/io/safetensors.hpp"
#include "fusenet/model/concepts.hpp"

namespace fusenet {

/// Writes every tensor of m (parameters, running statistics, num_batches_tracked) to path, under the
/// keys PyTorch's state_dict uses ("0.weight", "1.running_mean", ...). The write is atomic.
/// Requires: a model<Net, mode::train> (state_dict_model); an inference model is rejected at compile time.
/// Example: examples/fashion_mnist.cpp
template <state_dict_model Model>
void save(const Model& m, const std::string& path) {
  io::safetensors_file file;
  for (const auto& t : m.tensors()) {
    if (t.counter != nullptr) {
      file.tensors[t.name] = io::make_i64_scalar(*t.counter);
    } else {
      std::vector<std::size_t> shape(t.spec.shape.begin(), t.spec.shape.begin() + static_cast<std::ptrdiff_t>(t.spec.rank));
      file.tensors[t.name] = io::make_f32(shape, t.value);
    }
  }
  file.metadata["format"] = "pt";
  io::write_safetensors(path, file);
}

/// Reads a safetensors file written by save() or by PyTorch (safetensors.torch.save_file(net.state_dict())).
/// Every key's presence, dtype and shape is checked against the network first; on any error
/// (weights_mismatch or file_error naming the file and key) the model is left unchanged.
/// Requires: a model<Net, mode::train>; for inference, construct model<Net, mode::infer>{path} instead.
template <state_dict_model Model>
void load(Model& m, const std::string& path) {
  const io::safetensors_file file = io::read_safetensors(path);
  auto tensors = m.tensors();
  std::vector<std::string> names;
  for (const auto& t : tensors) names.push_back(t.name);
  io::check_keys(file, names, path);
  // Stage everything first so that a mismatch in the last tensor leaves the model untouched.
  std::vector<std::vector<float>> staged(tensors.size());
  std::vector<std::int64_t> counters(tensors.size(), 0);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    const auto& entry = file.tensors.at(t.name);
    try {
      if (t.counter != nullptr) {
        counters[i] = io::read_i64_scalar(entry, t.name);
      } else {
        staged[i].resize(t.spec.size());
        io::copy_f32(entry, std::span<const std::size_t>(t.spec.shape.data(), t.spec.rank), staged[i].data(), t.name);
      }
    } catch (const weights_mismatch& e) {
      throw weights_mismatch(path + ": " + e.what());
    }
  }
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].counter != nullptr) *tensors[i].counter = counters[i];
    else std::copy(staged[i].begin(), staged[i].end(), tensors[i].value);
  }
}

/// An inference model has no state_dict: BatchNorm is folded into its weights and they are repacked, and
/// keeping a second copy of the trained tensors would double its memory. Save the trainer it was frozen from.
template <class Net>
void save(const model<Net, mode::infer>&, const std::string&) {
  static_assert(detail::always_false<Net>,
                "fusenet: save: a model<Net, mode::infer> holds folded weights, not the state_dict; save the "
                "model<Net, mode::train> it was frozen from");
}

/// Loading into an inference model: construct it from the file instead, model<Net, mode::infer>{path}.
template <class Net>
void load(model<Net, mode::infer>&, const std::string&) {
  static_assert(detail::always_false<Net>,
                "fusenet: load: write model<Net, mode::infer>{path} (or from_file(path)) to load weights for "
                "inference");
}

}  // namespace fusenet
