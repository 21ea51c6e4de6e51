// SPDX-License-Identifier: MIT
// One layer of a trainable model: its tensors (PyTorch layout), gradients, caches, and the forward and
// backward passes in PyTorch's semantics, computed by the kernels in kernels/.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fusenet/detail/batch_exchange.hpp"
#include "fusenet/dist/sync_batch_norm.hpp"
#include "fusenet/kernels/conv2d_gemm.hpp"
#include "fusenet/kernels/linear_gemm.hpp"
#include "fusenet/kernels/activation.hpp"
#include "fusenet/kernels/batch_norm.hpp"
#include "fusenet/kernels/pool.hpp"
#include "fusenet/kernels/scalar/activations.hpp"
#include "fusenet/kernels/scalar/dropout.hpp"
#include "fusenet/kernels/scalar/pool.hpp"
#include "fusenet/layers/tensor_spec.hpp"
#include "fusenet/model/init.hpp"
#include "fusenet/plan/layer_ops.hpp"
#include "fusenet/shape.hpp"

namespace fusenet::detail {

/// What a pass needs besides the tensors: the mode, the random source for dropout, shared scratch memory.
struct run_context {
  bool train = true;          // batch statistics and caches (train) or running statistics (eval)
  bool dropout = true;        // dropout active (only when train)
  std::mt19937_64* rng = nullptr;
  std::vector<float>* workspace = nullptr;
  // Data-parallel training (fusenet/dist): BatchNorm over the global batch when set, and the gradient hook the
  // top-level runner calls during backward; both null otherwise.
  const batch_exchange* exchange = nullptr;
  const grads_ready_hook* grads_ready = nullptr;
};

/// A view of one stored tensor, for optimizers and file I/O.
struct tensor_ref {
  std::string name;
  tensor_spec spec;
  float* value = nullptr;         // nullptr for the counter
  float* grad = nullptr;          // nullptr for buffers and the counter
  std::int64_t* counter = nullptr;  // num_batches_tracked
};

/// Whether Layer performs Op (recognised by its type, plan/layer_ops.hpp).
template <layer_op Op, class Layer>
inline constexpr bool is_kind = op_of<Layer> == Op;

template <class Layer>
inline constexpr bool is_fully_connected = is_kind<layer_op::dense, Layer>;

template <class List, dims In>
class train_runner;

/// The two chains inside a residual layer (placeholders for other layers).
template <class Layer, dims In, bool IsResidual = is_kind<layer_op::residual, Layer>>
struct residual_parts {
  using block = int;
  using shortcut = int;
};
template <class Layer, dims In>
struct residual_parts<Layer, In, true> {
  using block = train_runner<typename Layer::block_list, In>;
  using shortcut = train_runner<typename Layer::shortcut_list, In>;
};

/// Layer number Index of a chain, with input shape In: storage and passes for Layer's kind.
template <std::size_t Index, class Layer, dims In>
class node {
 public:
  using layer = Layer;
  static constexpr dims in = In;
  static constexpr dims out = Layer::output(In);
  static constexpr auto specs = Layer::tensors(In);
  static constexpr std::size_t tensor_count = specs.size();

  node() {
    for (std::size_t t = 0; t < tensor_count; ++t) {
      if (specs[t].role == tensor_role::counter) continue;
      values_[t].assign(specs[t].size(), 0.0f);
      if (specs[t].role == tensor_role::parameter) grads_[t].assign(specs[t].size(), 0.0f);
    }
    if constexpr (is_kind<layer_op::batch_norm, Layer>) std::fill(values_[0].begin(), values_[0].end(), 1.0f),
        std::fill(values_[3].begin(), values_[3].end(), 1.0f);  // weight 1, running_var 1 (PyTorch)
  }

  /// PyTorch's default initialisation (BatchNorm's is set by the constructor).
  void init(std::mt19937_64& rng) {
    if constexpr (is_kind<layer_op::conv2d, Layer> || is_fully_connected<Layer>) {
      const std::size_t fan_in = specs[0].size() / specs[0].shape[0];
      const float bound = default_init_bound(fan_in);
      fill_uniform(values_[0].data(), values_[0].size(), bound, rng);
      if constexpr (Layer::has_bias) fill_uniform(values_[1].data(), values_[1].size(), bound, rng);
    } else if constexpr (is_kind<layer_op::residual, Layer>) {
      block_.init(rng);
      shortcut_.init(rng);
    }
  }

  void forward(const float* x, float* y, std::size_t n, run_context& ctx) {
    if (ctx.train) input_ = x;
    if constexpr (is_kind<layer_op::conv2d, Layer>) {
      kernels::conv2d_forward(geometry(n), x, values_[0].data(), bias_ptr(), y, *ctx.workspace);
    } else if constexpr (is_fully_connected<Layer>) {
      kernels::linear_forward(n, In.size(), out.size(), x, values_[0].data(), bias_ptr(), y);
    } else if constexpr (is_kind<layer_op::batch_norm, Layer>) {
      const auto g = bn_geometry(n);
      const float eps = static_cast<float>(Layer::epsilon);
      if (ctx.train) {
        const std::size_t total = global_batch(ctx.exchange, n);
        begin_batch_statistics(total);
        if (ctx.exchange != nullptr)
          dist::detail::sync_batch_norm_train_forward(g, x, values_[0].data(), values_[1].data(), eps, y,
                                                      mean_.data(), var_.data(), *ctx.exchange);
        else
          kernels::batch_norm_train_forward(g, x, values_[0].data(), values_[1].data(), eps, y, mean_.data(),
                                            var_.data());
        end_batch_statistics(total);
      } else {
        kernels::batch_norm_eval_forward(g, x, values_[0].data(), values_[1].data(), values_[2].data(),
                                                 values_[3].data(), eps, y);
      }
    } else if constexpr (is_kind<layer_op::relu, Layer>) {
      kernels::relu_forward(n * In.size(), x, y);
    } else if constexpr (is_kind<layer_op::leaky_relu, Layer>) {
      kernels::leaky_relu_forward(n * In.size(), x, y, static_cast<float>(Layer::negative_slope));
    } else if constexpr (is_kind<layer_op::sigmoid, Layer>) {
      kernels::scalar::sigmoid_forward(n * In.size(), x, y);
    } else if constexpr (is_kind<layer_op::tanh, Layer>) {
      kernels::scalar::tanh_forward(n * In.size(), x, y);
    } else if constexpr (is_kind<layer_op::identity, Layer> || is_kind<layer_op::flatten, Layer>) {
      std::copy(x, x + n * In.size(), y);
    } else if constexpr (is_kind<layer_op::dropout, Layer>) {
      const std::size_t count = n * In.size();
      if (ctx.train && ctx.dropout) {
        mask_.resize(count);
        const float keep = 1.0f - static_cast<float>(Layer::drop_rate);
        for (auto& m : mask_) m = uniform01(*ctx.rng) < keep ? 1 : 0;
        kernels::scalar::dropout_forward(count, x, mask_.data(), static_cast<float>(Layer::drop_rate), y);
        dropped_ = true;
      } else {
        std::copy(x, x + count, y);
        if (ctx.train) dropped_ = false;  // eval_forward must not change what a pending backward uses
      }
    } else if constexpr (is_kind<layer_op::max_pool, Layer>) {
      // eval_forward keeps its argmax apart: a pending backward still needs the train-mode one.
      auto& argmax = ctx.train ? argmax_ : eval_argmax_;
      argmax.resize(n * out.size());
      kernels::max_pool2d_forward(pool_geometry(n), x, y, argmax.data());
    } else if constexpr (is_kind<layer_op::avg_pool, Layer>) {
      kernels::scalar::avg_pool2d_forward(pool_geometry(n), x, y);
    } else if constexpr (is_kind<layer_op::global_avg_pool, Layer>) {
      kernels::scalar::global_avg_pool_forward(n, In.d[0], In.d[1] * In.d[2], x, y);
    } else if constexpr (is_kind<layer_op::residual, Layer>) {
      const float* b = block_.forward(x, n, ctx);
      const float* s = x;
      if constexpr (shortcut_type::count > 0) s = shortcut_.forward(x, n, ctx);
      for (std::size_t i = 0; i < n * out.size(); ++i) y[i] = b[i] + s[i];
    } else {
      static_assert(sizeof(Layer) == 0, "fusenet: model: this layer kind has no training implementation");
    }
  }

  /// Gradients for the last forward in train mode; dx (n×In) is overwritten unless nullptr,
  /// parameter gradients are accumulated as PyTorch's .grad.
  void backward(const float* dy, float* dx, std::size_t n, run_context& ctx) {
    const float* x = input_;
    if constexpr (is_kind<layer_op::conv2d, Layer>) {
      kernels::conv2d_backward(geometry(n), x, values_[0].data(), dy, dx, grads_[0].data(), bias_grad_ptr(),
                               *ctx.workspace);
    } else if constexpr (is_fully_connected<Layer>) {
      kernels::linear_backward(n, In.size(), out.size(), x, values_[0].data(), dy, dx, grads_[0].data(),
                               bias_grad_ptr());
    } else if constexpr (is_kind<layer_op::batch_norm, Layer>) {
      const auto g = bn_geometry(n);
      // dx == nullptr: the kernel skips dx and still accumulates the parameter gradients.
      if (ctx.exchange != nullptr)
        dist::detail::sync_batch_norm_backward(g, x, values_[0].data(), mean_.data(), var_.data(),
                                               static_cast<float>(Layer::epsilon), dy, dx, grads_[0].data(),
                                               grads_[1].data(), *ctx.exchange);
      else
        kernels::batch_norm_backward(g, x, values_[0].data(), mean_.data(), var_.data(),
                                     static_cast<float>(Layer::epsilon), dy, dx, grads_[0].data(), grads_[1].data());
    } else if constexpr (is_kind<layer_op::residual, Layer>) {
      residual_backward(dy, dx, n, ctx);
    } else {
      if (dx == nullptr) return;
      const std::size_t count = n * In.size();
      if constexpr (is_kind<layer_op::relu, Layer>) {
        kernels::relu_backward(count, x, dy, dx);
      } else if constexpr (is_kind<layer_op::leaky_relu, Layer>) {
        kernels::leaky_relu_backward(count, x, dy, dx, static_cast<float>(Layer::negative_slope));
      } else if constexpr (is_kind<layer_op::sigmoid, Layer>) {
        kernels::scalar::sigmoid_backward(count, x, dy, dx);
      } else if constexpr (is_kind<layer_op::tanh, Layer>) {
        kernels::scalar::tanh_backward(count, x, dy, dx);
      } else if constexpr (is_kind<layer_op::identity, Layer> || is_kind<layer_op::flatten, Layer>) {
        std::copy(dy, dy + count, dx);
      } else if constexpr (is_kind<layer_op::dropout, Layer>) {
        if (dropped_) kernels::scalar::dropout_backward(count, dy, mask_.data(), static_cast<float>(Layer::drop_rate), dx);
        else std::copy(dy, dy + count, dx);
      } else if constexpr (is_kind<layer_op::max_pool, Layer>) {
        kernels::max_pool2d_backward(pool_geometry(n), dy, argmax_.data(), dx);
      } else if constexpr (is_kind<layer_op::avg_pool, Layer>) {
        kernels::scalar::avg_pool2d_backward(pool_geometry(n), dy, dx);
      } else if constexpr (is_kind<layer_op::global_avg_pool, Layer>) {
        kernels::scalar::global_avg_pool_backward(n, In.d[0], In.d[1] * In.d[2], dy, dx);
      }
    }
  }

  void zero_grad() {
    for (auto& g : grads_) std::fill(g.begin(), g.end(), 0.0f);
    if constexpr (is_kind<layer_op::residual, Layer>) {
      block_.zero_grad();
      shortcut_.zero_grad();
    }
  }

  /// Calls f(tensor_ref) for every stored tensor, in state_dict order, names prefixed.
  template <class F>
  void visit(const std::string& prefix, F&& f) {
    const std::string p = prefix + std::to_string(Index) + ".";
    for (std::size_t t = 0; t < tensor_count; ++t) {
      tensor_ref r{p + std::string(specs[t].name), specs[t], nullptr, nullptr, nullptr};
      if (specs[t].role == tensor_role::counter) {
        r.counter = &batches_tracked_;
      } else {
        r.value = values_[t].data();
        if (specs[t].role == tensor_role::parameter) r.grad = grads_[t].data();
      }
      f(r);
    }
    if constexpr (is_kind<layer_op::residual, Layer>) {
      block_.visit(p + "block.", f);
      shortcut_.visit(p + "shortcut.", f);
    }
  }

  // For fused training stages (model/stages/train_*.hpp), which run several layers' math in one loop.

  /// Tensor t's values and gradient (PyTorch order: weight, bias / γ, β, running mean, running var).
  float* value(std::size_t t) { return values_[t].data(); }
  float* grad(std::size_t t) { return grads_[t].data(); }

  /// batch_norm, before a train-mode forward of n samples (the global batch, in data-parallel training): checks
  /// there is more than one value per channel (as PyTorch) and makes room for the batch statistics batch_mean() / batch_var().
  void begin_batch_statistics(std::size_t n)
    requires(is_kind<layer_op::batch_norm, Layer>)
  {
    if (n * bn_geometry(n).spatial <= 1)
      throw std::invalid_argument("fusenet: batch_norm (layer " + std::to_string(Index) +
                                  "): expected more than 1 value per channel when training, got input of size " +
                                  std::to_string(n) + "\u00d7" + to_string(In) +
                                  " (as PyTorch; use a batch of 2 or more, or eval_forward)");
    mean_.resize(In.d[0]);
    var_.resize(In.d[0]);
  }
  /// batch_norm, after batch_mean() / batch_var() were written: updates the running statistics.
  void end_batch_statistics(std::size_t n)
    requires(is_kind<layer_op::batch_norm, Layer>)
  {
    kernels::batch_norm_update_running(bn_geometry(n), mean_.data(), var_.data(),
                                       static_cast<float>(Layer::momentum_value), values_[2].data(),
                                       values_[3].data());
    ++batches_tracked_;
  }
  float* batch_mean() { return mean_.data(); }
  float* batch_var() { return var_.data(); }

  kernels::scalar::conv2d_geometry geometry(std::size_t n) const
    requires(is_kind<layer_op::conv2d, Layer>)
  {
    return {n, In.d[0], In.d[1], In.d[2], Layer::out_channels, Layer::kernel, Layer::step, Layer::pad, Layer::dil,
            Layer::group_count};
  }
  const float* bias_ptr() const {
    if constexpr (tensor_count > 1) return values_[1].data();
    else return nullptr;
  }
  float* bias_grad_ptr() {
    if constexpr (tensor_count > 1) return grads_[1].data();
    else return nullptr;
  }

  /// The largest per-sample float count this node produces or consumes inside (for scratch sizing).
  static constexpr std::size_t max_floats() { return std::max(In.size(), out.size()); }

 private:
  using block_type = typename residual_parts<Layer, In>::block;
  using shortcut_type = typename residual_parts<Layer, In>::shortcut;

  kernels::scalar::batch_norm_geometry bn_geometry(std::size_t n) const {
    return {n, In.d[0], In.rank == 3 ? In.d[1] * In.d[2] : 1};
  }
  kernels::scalar::pool2d_geometry pool_geometry(std::size_t n) const {
    if constexpr (is_kind<layer_op::max_pool, Layer> || is_kind<layer_op::avg_pool, Layer>)
      return {n, In.d[0], In.d[1], In.d[2], Layer::window, Layer::step, Layer::pad};
    else
      return {};
  }
  void residual_backward(const float* dy, float* dx, std::size_t n, run_context& ctx) {
    if constexpr (is_kind<layer_op::residual, Layer>) {
      const std::size_t count = n * In.size();
      if (dx == nullptr) {
        block_.backward(dy, nullptr, n, ctx);
        if constexpr (shortcut_type::count > 0) shortcut_.backward(dy, nullptr, n, ctx);
        return;
      }
      block_.backward(dy, dx, n, ctx);
      if constexpr (shortcut_type::count > 0) {
        shortcut_grad_.resize(count);
        shortcut_.backward(dy, shortcut_grad_.data(), n, ctx);
        for (std::size_t i = 0; i < count; ++i) dx[i] += shortcut_grad_[i];
      } else {
        for (std::size_t i = 0; i < count; ++i) dx[i] += dy[i];
      }
    }
  }

  std::array<std::vector<float>, tensor_count> values_{};
  std::array<std::vector<float>, tensor_count> grads_{};
  std::int64_t batches_tracked_ = 0;
  const float* input_ = nullptr;
  std::vector<float> mean_, var_;           // batch_norm: batch statistics of the last forward
  std::vector<std::uint32_t> argmax_;       // max_pool (train forward, read by backward)
  std::vector<std::uint32_t> eval_argmax_;  // max_pool (eval forward, discarded)
  std::vector<std::uint8_t> mask_;          // dropout
  bool dropped_ = false;
  block_type block_{};
  shortcut_type shortcut_{};
  std::vector<float> shortcut_grad_;
};

}  // namespace fusenet::detail
