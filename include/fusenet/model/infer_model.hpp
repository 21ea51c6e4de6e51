// SPDX-License-Identifier: MIT
// model<Net, mode::infer>: a trained network frozen for inference — BatchNorm folded into the weights, stages
// run by fused kernels chosen at compile time, no heap allocation once a batch size has been seen, and a const
// forward into a caller-owned workspace so that threads can share one model.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "fusenet/io/model_io.hpp"
#include "fusenet/model/node.hpp"
#include "fusenet/model/stages/dense.hpp"
#include "fusenet/model/stages/depthwise_conv.hpp"
#include "fusenet/model/stages/direct_conv.hpp"
#include "fusenet/model/stages/pointwise_conv.hpp"
#include "fusenet/model/stages/gemm_conv.hpp"
#include "fusenet/model/stages/pixel_conv.hpp"
#include "fusenet/model/stages/global_pool.hpp"
#include "fusenet/model/stages/pool.hpp"
#include "fusenet/model/stages/reference.hpp"
#include "fusenet/model/stages/residual.hpp"
#include "fusenet/model/stages/runner.hpp"
#include "fusenet/model/train_model.hpp"
#include "fusenet/plan/describe.hpp"
#include "fusenet/plan/execution.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fusenet {

namespace detail {

/// A number no other object of the program has had: each model<Net, mode::infer> (and each copy or move of one)
/// gets a new one, so a workspace knows whether the reference-stage state it holds was copied from the model it
/// is given (with that model's weights) or must be copied again.
class instance_id {
 public:
  instance_id() : value_(next()) {}
  instance_id(const instance_id&) : value_(next()) {}
  instance_id& operator=(const instance_id&) {
    value_ = next();
    return *this;
  }
  std::uint64_t value() const { return value_; }

 private:
  static std::uint64_t next() {
    static std::atomic<std::uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed) + 1;
  }
  std::uint64_t value_;
};

/// The inference runner, chosen lazily as train_runner_of: an unchecked network gets the quiet stand-in.
template <class Net, bool Checked = checked_network<Net>>
struct plan_runner_of {
  using type = unchecked_runner;
};
template <class Net>
struct plan_runner_of<Net, true> {
  using type = plan_runner<network_plan<Net>>;
};

}  // namespace detail

/// The inference specialization: BatchNorm folded into conv / dense weights at construction, each stage of
/// execution_plan<Net, mode::infer> run by the executor its record names (model/stages/: direct xsimd conv, GEMM
/// conv, dense, or the reference loops), activations in two ping-pong buffers that only grow, so that forward into caller
/// memory allocates nothing once a batch at least as large has been run.
///
/// Threads: a const model may be shared by threads; each thread passes its own workspace to
/// forward(x, ws) / forward(x, n, y, ws), which read only the folded weights and write only ws and y. The
/// overloads without a workspace use the model's own and are not const: one thread at a time, and not while
/// another thread runs a const forward. The kernels' OpenMP loops stay correct when two threads call at once
/// (each caller's parallel regions get their own team; inside an enclosing parallel region they run on one thread).
/// Example: examples/fashion_mnist.cpp; tests/model/concurrency.cpp
template <class Net>
class model<Net, mode::infer> {
  // A network that failed its checks gets the quiet stand-in: its own check names the layer (see unchecked_runner).
  using runner = typename detail::plan_runner_of<Net>::type;
  using state_type = typename runner::states;

 public:
  using network = Net;
  static constexpr dims input_dims = detail::declared_input<Net>();
  static constexpr dims output_dims = detail::declared_output<Net>();
  /// N×C×H×W (or N×F) input and output tensors, as model<Net, mode::train>.
  using input_tensor = xt::xtensor<float, detail::tensor_rank<input_dims>>;
  using output_tensor = xt::xtensor<float, detail::tensor_rank<output_dims>>;

  /// The scratch memory of forward calls: the activation and stage buffers, the GEMM conv's im2col workspace and,
  /// for reference stages (residual blocks, layers no fused stage takes), a copy of their layer state, made on the
  /// first forward with a model (their loops write scratch into it). Buffers only grow.
  /// Requires: one forward at a time per workspace. Any model of this type may use it; given another model
  /// than the last, it copies that model's reference-stage state again.
  class workspace {
   public:
    /// Grows the buffers for batches of up to n samples now (and the GEMM conv workspace for the calling
    /// thread's OpenMP thread count), so that a forward of up to n samples from that thread allocates nothing
    /// in the fused stages; reference stages grow their state on the first forward.
    void reserve(std::size_t n) { buffers_.reserve(n, gemm_); }

   private:
    friend class model;
    typename runner::buffers buffers_;
    std::vector<float> gemm_;
    std::optional<state_type> states_;  // the reference stages' nodes, copied from model number states_of_
    std::uint64_t states_of_ = 0;
    std::mt19937_64 rng_{0};  // unused in evaluation; the reference nodes' context wants one
  };

  /// Freezes a trained model: reads its parameters and running statistics, folds and repacks them.
  explicit model(const model<Net, mode::train>& trained) { freeze(trained); }

  /// Loads a safetensors file (fusenet::save or PyTorch's state_dict keys) and freezes it.
  explicit model(const std::string& path) {
    model<Net, mode::train> trained{};
    fusenet::load(trained, path);
    freeze(trained);
  }

  /// As the path constructor.
  static model from_file(const std::string& path) { return model{path}; }

  /// Evaluation forward of a batch; the result equals model<Net, mode::train>::eval_forward up to float rounding.
  output_tensor forward(const input_tensor& x) { return forward_into_tensor(x, own_, states_); }

  /// As forward(x), with the caller's workspace: safe to call from several threads at once, each with its own ws.
  /// Ensures: the same result as forward(x), bit for bit.
  output_tensor forward(const input_tensor& x, workspace& ws) const { return forward_into_tensor(x, ws, sync(ws)); }

  /// As forward(input_tensor), for any other xtensor expression (xt::xarray, a view, another value type).
  /// A fixed rank other than the network's is a compile error; the shape is checked before the values are
  /// copied (std::invalid_argument naming the expected and the actual shape).
  template <detail::other_expression<input_tensor> E>
  output_tensor forward(const E& x) {
    return forward(detail::to_input_tensor<input_tensor, input_dims>(x, "forward input"));
  }

  /// As forward(E), with the caller's workspace.
  template <detail::other_expression<input_tensor> E>
  output_tensor forward(const E& x, workspace& ws) const {
    return forward(detail::to_input_tensor<input_tensor, input_dims>(x, "forward input"), ws);
  }

  /// Forward of n samples from x (n × input size, PyTorch layout) into y (n × output size).
  /// Requires: x and y do not overlap. Ensures: no heap allocation when a batch of n or more has been run before
  /// with the same thread count (tests/model/infer_alloc.cpp).
  void forward(const float* x, std::size_t n, float* y) { run(x, n, y, own_, states_); }

  /// As forward(x, n, y), with the caller's workspace: safe to call from several threads at once, each with its
  /// own ws. Requires: x and y do not overlap. Ensures: the same result as forward(x, n, y), bit for bit; no heap
  /// allocation when ws has run a batch of n or more with this model from a thread with the same thread count.
  void forward(const float* x, std::size_t n, float* y, workspace& ws) const { run(x, n, y, ws, sync(ws)); }

  /// Grows the model's own workspace for batches of up to n samples now (see workspace::reserve).
  void reserve(std::size_t n) { own_.reserve(n); }

  /// Threads for the kernels' OpenMP loops (no effect without OpenMP).
  void set_threads([[maybe_unused]] int threads) {
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
  }

  /// The executor of stage s, as execution_plan<Net, mode::infer> records it.
  static constexpr executor executor_of(std::size_t s) { return execution_plan<Net, mode::infer>[s].exec; }

  /// describe<Net, mode::infer>(): the execution plan this model runs.
  static std::string describe() { return fusenet::describe<Net, mode::infer>(); }

 private:
  void freeze(const model<Net, mode::train>& trained) {
    detail::tensor_lookup lookup;
    for (const auto& t : trained.tensors()) lookup[t.name] = t.value;
    runner_.load(lookup, states_);
  }

  // The reference-stage state ws runs: a copy of this model's, made again when ws last served another model.
  // Reading states_ from several threads is safe: only the non-const forward writes it.
  state_type& sync(workspace& ws) const {
    if (!ws.states_ || ws.states_of_ != id_.value()) {
      ws.states_ = states_;
      ws.states_of_ = id_.value();
    }
    return *ws.states_;
  }

  output_tensor forward_into_tensor(const input_tensor& x, workspace& ws, state_type& states) const {
    detail::check_batch_shape<input_dims>(x, "forward input");
    const std::size_t n = x.shape()[0];
    std::array<std::size_t, detail::tensor_rank<output_dims>> shape{};
    shape[0] = n;
    for (std::size_t i = 0; i < output_dims.rank; ++i) shape[i + 1] = output_dims.d[i];
    output_tensor y = output_tensor::from_shape(shape);
    run(x.data(), n, y.data(), ws, states);
    return y;
  }

  // The plan's stages in order through ws's buffers; reads only the stages' weights besides ws and states.
  void run(const float* x, std::size_t n, float* y, workspace& ws, state_type& states) const {
    detail::run_context ctx{false, false, &ws.rng_, &ws.gemm_};
    runner_.run(x, n, y, states, ws.buffers_, ctx);
  }

  runner runner_;                        // folded, packed weights: read-only after construction
  state_type states_{};                  // the reference stages' nodes with their tensors (the non-const forward
                                         // runs them; workspaces run copies)
  workspace own_;                        // the non-const forwards' scratch
  detail::instance_id id_;
};

}  // namespace fusenet
