// SPDX-License-Identifier: MIT
// model<Net, mode::train>: parameters in PyTorch layout with PyTorch's initialisation, train-mode forward
// (batch statistics), backward, evaluation with running statistics, and the views optimizers and I/O use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>
#include <xtensor/xexpression.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xutils.hpp>

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

/// Stands in for the runners of a network that failed its checks. The failed check has already raised the
/// one error that names the layer, its input and the rule; building the real runners on invalid shapes would
/// add dozens more, and a static_assert here would come first (GCC and clang instantiate the checks' function
/// bodies at the end of the translation unit). Never run: constructing it throws, should a network ever fail
/// without a diagnostic.
struct unchecked_runner {
  struct states {};
  struct buffers {
    template <class... A>
    void reserve(A&&...) {}
  };
  unchecked_runner() { throw std::logic_error("fusenet: model: the network does not type-check"); }
  template <class... A>
  void init(A&&...) {}
  template <class... A>
  const float* forward(A&&...) {
    return nullptr;
  }
  template <class... A>
  void backward(A&&...) {}
  void zero_grad() {}
  template <class... A>
  void visit(A&&...) {}
  template <class... A>
  void load(A&&...) {}
  template <class... A>
  void run(A&&...) const {}
};

/// A network that passed its checks. A requires-expression, not Net::checked itself: clang 14 marks a class whose
/// static_assert failed (sequential<>) invalid, and reading its members directly would be one more error.
template <class Net>
concept checked_network = requires { requires Net::checked; };

/// The input and output shapes a model declares: the network's, or one feature for a network that failed its
/// checks, so that code using the model (a loss on its output, say) adds no error of its own.
/// (if constexpr, so that an unchecked Net's members are never named.)
template <class Net>
constexpr dims declared_input() {
  if constexpr (checked_network<Net>) return Net::input_shape;
  else return features(1);
}
template <class Net>
constexpr dims declared_output() {
  if constexpr (checked_network<Net>) return Net::output_dims;
  else return features(1);
}

/// The trainer's runner, chosen lazily: naming train_runner<typename Net::layer_list, ...> for an unchecked Net
/// would already be an error under clang.
template <class Net, bool Checked = checked_network<Net>>
struct train_runner_of {
  using type = unchecked_runner;
};
template <class Net>
struct train_runner_of<Net, true> {
  using type = train_runner<typename Net::layer_list, Net::input_shape>;
};

/// The shape {n, D...} of a batch of n samples.
template <dims D>
std::array<std::size_t, tensor_rank<D>> batch_shape(std::size_t n) {
  std::array<std::size_t, tensor_rank<D>> shape{};
  shape[0] = n;
  for (std::size_t i = 0; i < D.rank; ++i) shape[i + 1] = D.d[i];
  return shape;
}

/// An xtensor expression other than the model's own input_tensor type: an xarray, a view, another value type.
template <class E, class Tensor>
concept other_expression =
    xt::is_xexpression<std::remove_cvref_t<E>>::value && !std::same_as<std::remove_cvref_t<E>, Tensor>;

/// x as the model's input tensor type, its shape checked before anything is copied: xtensor's converting
/// assignment resizes by the source's shape and would overrun a fixed-rank destination (ASan) otherwise.
/// A fixed rank other than the network's is a compile error; its note names E, the tensor type passed.
/// (A static_assert here, not in a helper class: clang 14 would mark this function invalid after the helper's
/// failure and report every further call as "no matching function".)
template <class Tensor, dims D, class E>
Tensor to_input_tensor(const E& x, const char* what) {
  constexpr std::size_t got = xt::get_rank<std::remove_cvref_t<E>>::value;  // SIZE_MAX: known at run time
  static_assert(got == SIZE_MAX || got == tensor_rank<D>,
                "fusenet: model::forward: the rank of the tensor (E in the note) is not the network's, batch axis + input "
                "shape; a forgotten batch or channel axis?");
  if constexpr (got == SIZE_MAX || got == tensor_rank<D>) {
    check_batch_shape<D>(x, what);
    Tensor t = Tensor::from_shape(batch_shape<D>(x.shape()[0]));
    t = x;
    return t;
  } else {
    return Tensor{};
  }
}
}  // namespace detail

/// One stored tensor of a model, writable: its state_dict key, shape, values, gradient (nullptr for running
/// statistics) and, for num_batches_tracked, the counter instead of values. model::tensors() returns these.
using tensor_ref = detail::tensor_ref;

/// One stored tensor of a model, read-only (model::tensors() const, used by save and check_finite).
struct const_tensor_ref {
  std::string name;
  tensor_spec spec;
  const float* value = nullptr;           // nullptr for the counter
  const std::int64_t* counter = nullptr;  // num_batches_tracked
};

/// The trainable specialization: owns parameters, gradients, BatchNorm running statistics and the
/// activations that backward needs. Tensors at the API are xtensor containers in PyTorch's layout.
/// Example: examples/fashion_mnist.cpp
template <class Net>
class model<Net, mode::train> {
  // No static_assert(Net::checked): the network's own check reports a failure, naming the layer (see
  // unchecked_runner).
  using runner_type = typename detail::train_runner_of<Net>::type;

 public:
  using network = Net;
  static constexpr dims input_dims = detail::declared_input<Net>();
  static constexpr dims output_dims = detail::declared_output<Net>();
  /// N×C×H×W (or N×F) input and output tensors.
  using input_tensor = xt::xtensor<float, detail::tensor_rank<input_dims>>;
  using output_tensor = xt::xtensor<float, detail::tensor_rank<output_dims>>;

  /// Parameters initialised as PyTorch does by default, from a deterministic seed.
  explicit model(std::uint64_t rng_seed = 0) : rng_(rng_seed) { runner_.init(rng_); }

  model(const model&) = delete;  // layers keep pointers into each other's activations
  model& operator=(const model&) = delete;

  /// Train-mode forward: batch statistics, running statistics updated, activations kept for backward.
  output_tensor forward(const input_tensor& x) {
    detail::check_batch_shape<input_dims>(x, "forward input");
    batch_ = x.shape()[0];
    input_ = x;  // keep the input alive: the first layer's backward reads it
    detail::run_context ctx{true, dropout_, &rng_, &workspace_, exchange_, nullptr};
    return to_output(runner_.forward(input_.data(), batch_, ctx), batch_);
  }

  /// As forward(input_tensor), for any other xtensor expression (xt::xarray, a view, another value type).
  /// A fixed rank other than the network's is a compile error; the shape is checked before the values are
  /// copied (std::invalid_argument naming the expected and the actual shape).
  template <detail::other_expression<input_tensor> E>
  output_tensor forward(const E& x) {
    return forward(detail::to_input_tensor<input_tensor, input_dims>(x, "forward input"));
  }

  /// Train-mode forward of n samples from x (n × input size, PyTorch layout) into y (n × output size).
  /// The input is copied (backward reads it). Requires: n ≥ 1; x and y hold that many values.
  void forward(const float* x, std::size_t n, float* y) {
    if (n == 0) throw std::invalid_argument("fusenet: model::forward: a batch needs at least one sample");
    input_ = input_tensor::from_shape(detail::batch_shape<input_dims>(n));
    std::copy(x, x + input_.size(), input_.begin());
    batch_ = n;
    detail::run_context ctx{true, dropout_, &rng_, &workspace_, exchange_, nullptr};
    const float* out = runner_.forward(input_.data(), batch_, ctx);
    std::copy(out, out + n * output_dims.size(), y);
  }

  /// Evaluation forward: running statistics, no dropout, nothing cached, no state changed.
  output_tensor eval_forward(const input_tensor& x) {
    detail::check_batch_shape<input_dims>(x, "eval_forward input");
    const std::size_t n = x.shape()[0];
    detail::run_context ctx{false, false, &rng_, &workspace_};
    return to_output(eval_runner().forward(x.data(), n, ctx), n);
  }

  /// As eval_forward(input_tensor), for any other xtensor expression; checked as forward(E) is.
  template <detail::other_expression<input_tensor> E>
  output_tensor eval_forward(const E& x) {
    return eval_forward(detail::to_input_tensor<input_tensor, input_dims>(x, "eval_forward input"));
  }

  /// Evaluation forward of n samples from x into y, PyTorch layout, as forward(x, n, y) of model<Net, mode::infer>.
  void eval_forward(const float* x, std::size_t n, float* y) {
    if (n == 0) throw std::invalid_argument("fusenet: model::eval_forward: a batch needs at least one sample");
    detail::run_context ctx{false, false, &rng_, &workspace_};
    const float* out = eval_runner().forward(x, n, ctx);
    std::copy(out, out + n * output_dims.size(), y);
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

  /// The state of the random source dropout draws from, as text (std::mt19937_64's stream form), so that a
  /// checkpoint can resume a run with dropout bit-identically.
  std::string random_state() const {
    std::ostringstream out;
    out << rng_;
    return out.str();
  }
  /// Restores a random_state(). Throws std::invalid_argument (and keeps the current state) if `state` is not one.
  void set_random_state(const std::string& state) {
    std::istringstream in(state);
    std::mt19937_64 restored;
    in >> restored;
    if (in.fail() || !(in >> std::ws).eof())
      throw std::invalid_argument("fusenet: model::set_random_state: not a random state of this model");
    rng_ = restored;
  }

  /// The trainable tensors in state_dict order, for optimizers.
  std::vector<param_view> parameters() {
    std::vector<param_view> out;
    visit_tensors([&](const detail::tensor_ref& t) {
      if (t.grad != nullptr) out.push_back({t.name, t.value, t.grad, t.spec.size()});
    });
    return out;
  }

  /// Every stored tensor (parameters, running statistics, counters) in state_dict order, for I/O.
  std::vector<tensor_ref> tensors() {
    std::vector<tensor_ref> out;
    visit_tensors([&](const tensor_ref& t) { out.push_back(t); });
    return out;
  }

  /// As tensors(), read-only: what save, check_finite and freezing into model<Net, mode::infer> read.
  std::vector<const_tensor_ref> tensors() const {
    std::vector<const_tensor_ref> out;
    // The runner's visit is not const-qualified but only hands out pointers, which become const here.
    auto add = [&](const tensor_ref& t) { out.push_back({t.name, t.spec, t.value, t.counter}); };
    const_cast<runner_type&>(runner_).visit("", add);
    return out;
  }

  template <class F>
  void visit_tensors(F&& f) {
    runner_.visit("", f);
  }

  /// Data-parallel training (fusenet/dist sets these; nullptr, the default, is a single process): `exchange`
  /// makes every BatchNorm normalise with the statistics of the global batch, `hook` is told during backward
  /// when the gradients of each stage are final. Requires: both outlive their use by this model.
  void set_batch_exchange(const detail::batch_exchange* exchange) { exchange_ = exchange; }
  void set_grads_ready(const detail::grads_ready_hook* hook) { grads_ready_ = hook; }

 private:
  void backward_impl(const output_tensor& dy, float* dx) {
    if (batch_ == 0) throw std::logic_error("fusenet: model::backward: call forward first");
    detail::check_batch_shape<output_dims>(dy, "backward gradient");
    if (dy.shape()[0] != batch_)
      throw std::invalid_argument("fusenet: model::backward: gradient batch " + std::to_string(dy.shape()[0]) +
                                  " differs from the forward batch " + std::to_string(batch_));
    detail::run_context ctx{true, dropout_, &rng_, &workspace_, exchange_, grads_ready_};
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
  const detail::batch_exchange* exchange_ = nullptr;
  const detail::grads_ready_hook* grads_ready_ = nullptr;
};

}  // namespace fusenet
