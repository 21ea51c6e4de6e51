// SPDX-License-Identifier: MIT
// model<Net, mode::train>: parameters in PyTorch layout with PyTorch's initialisation, train-mode forward
// (batch statistics), backward, evaluation with running statistics, and the views optimizers and I/O use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "fusenet/introspection.hpp"
#include "fusenet/model/stages/train_runner.hpp"
#include "fusenet/model/mode.hpp"
#include "fusenet/train/param.hpp"

namespace fusenet {

namespace detail {
template <dims D>
inline constexpr std::size_t tensor_rank = D.rank + 1;  // batch axis first

template <dims D, class Tensor>
void check_batch_shape(const Tensor& x, const char* what) {
  bool ok = x.dimension() == tensor_rank<D>;
  for (std::size_t i = 0; ok && i < D.rank; ++i) ok = x.shape()[i + 1] == D.d[i];
  if (!ok || x.shape()[0] == 0) {
    std::string got;
    for (std::size_t i = 0; i < x.dimension(); ++i) got += (i ? "\u00d7" : "") + std::to_string(x.shape()[i]);
    throw std::invalid_argument(std::string("fusenet: model: ") + what + " must be N\u00d7" + to_string(D) +
                                " with N \u2265 1, got " + got);
  }
}
}  // namespace detail

/// The trainable specialization: owns parameters, gradients, BatchNorm running statistics and the
/// activations that backward needs. Tensors at the API are xtensor containers in PyTorch's layout.
/// Example: examples/fashion_mnist.cpp
template <class Net>
class model<Net, mode::train> {
  static_assert(Net::checked, "fusenet: model: the network does not type-check (see the error above)");
  using runner_type = detail::train_runner<typename Net::layer_list, Net::input_shape>;

 public:
  using network = Net;
  static constexpr dims input_dims = Net::input_shape;
  static constexpr dims output_dims = Net::output_dims;
  /// N×C×H×W (or N×F) input and output tensors.
  using input_tensor = xt::xtensor<float, detail::tensor_rank<input_dims>>;
  using output_tensor = xt::xtensor<float, detail::tensor_rank<output_dims>>;

  /// Parameters initialised as PyTorch does by default, from a deterministic seed.
  explicit model(std::uint64_t seed = 0) : rng_(seed) { runner_.init(rng_); }

  model(const model&) = delete;  // layers keep pointers into each other's activations
  model& operator=(const model&) = delete;

  /// Train-mode forward: batch statistics, running statistics updated, activations kept for backward.
  output_tensor forward(const input_tensor& x) {
    detail::check_batch_shape<input_dims>(x, "forward input");
    batch_ = x.shape()[0];
    input_ = x;  // keep the input alive: the first layer's backward reads it
    detail::run_context ctx{true, dropout_, &rng_, &workspace_};
    return to_output(runner_.forward(input_.data(), batch_, ctx), batch_);
  }

  /// Evaluation forward: running statistics, no dropout, nothing cached, no state changed.
  output_tensor eval_forward(const input_tensor& x) {
    detail::check_batch_shape<input_dims>(x, "eval_forward input");
    const std::size_t n = x.shape()[0];
    detail::run_context ctx{false, false, &rng_, &workspace_};
    return to_output(eval_runner().forward(x.data(), n, ctx), n);
  }

  /// Accumulates parameter gradients for the last forward, given dL/d(output).
  void backward(const output_tensor& dy) { backward_impl(dy, nullptr); }

  /// As backward, and also returns dL/d(input).
  input_tensor backward_with_input_grad(const output_tensor& dy) {
    input_tensor dx = input_tensor::from_shape(input_.shape());
    backward_impl(dy, dx.data());
    return dx;
  }

  /// Sets every parameter gradient to zero.
  void zero_grad() { runner_.zero_grad(); }

  /// Turns dropout on or off for train-mode forward (eval_forward never drops).
  void set_dropout(bool enabled) { dropout_ = enabled; }

  /// The trainable tensors in state_dict order, for optimizers.
  std::vector<param_view> parameters() {
    std::vector<param_view> out;
    visit_tensors([&](const detail::tensor_ref& t) {
      if (t.grad != nullptr) out.push_back({t.name, t.value, t.grad, t.spec.size()});
    });
    return out;
  }

  /// Every stored tensor (parameters, running statistics, counters) in state_dict order, for I/O.
  std::vector<detail::tensor_ref> tensors() {
    std::vector<detail::tensor_ref> out;
    visit_tensors([&](const detail::tensor_ref& t) { out.push_back(t); });
    return out;
  }

  template <class F>
  void visit_tensors(F&& f) {
    runner_.visit("", f);
  }

 private:
  void backward_impl(const output_tensor& dy, float* dx) {
    if (batch_ == 0) throw std::logic_error("fusenet: model::backward: call forward first");
    detail::check_batch_shape<output_dims>(dy, "backward gradient");
    if (dy.shape()[0] != batch_)
      throw std::invalid_argument("fusenet: model::backward: gradient batch " + std::to_string(dy.shape()[0]) +
                                  " differs from the forward batch " + std::to_string(batch_));
    detail::run_context ctx{true, dropout_, &rng_, &workspace_};
    runner_.backward(dy.data(), dx, batch_, ctx);
  }

  output_tensor to_output(const float* y, std::size_t n) const {
    std::array<std::size_t, detail::tensor_rank<output_dims>> shape{};
    shape[0] = n;
    for (std::size_t i = 0; i < output_dims.rank; ++i) shape[i + 1] = output_dims.d[i];
    output_tensor out = output_tensor::from_shape(shape);
    std::copy(y, y + out.size(), out.begin());
    return out;
  }

  // eval_forward must not disturb the activations cached for backward; the eval path of the runner
  // writes only to its ping-pong buffers, and layers store inputs only in train mode.
  runner_type& eval_runner() { return runner_; }

  runner_type runner_{};
  std::mt19937_64 rng_;
  std::vector<float> workspace_;
  input_tensor input_{};
  std::size_t batch_ = 0;
  bool dropout_ = true;
};

}  // namespace fusenet
