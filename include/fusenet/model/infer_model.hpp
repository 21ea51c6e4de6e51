// SPDX-License-Identifier: MIT
// model<Net, mode::infer>: a trained network frozen for inference — BatchNorm folded into the weights, stages
// run by fused kernels chosen at compile time, no heap allocation once a batch size has been seen, and a const
// forward into a caller-owned workspace so that threads can share one model.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/hana/at.hpp>
#include <boost/hana/tuple.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>
#include <xsimd/xsimd.hpp>
#include <xtensor/xtensor.hpp>

#include "fusenet/io/model_io.hpp"
#include "fusenet/kernels/conv2d_gemm.hpp"
#include "fusenet/kernels/conv_blocked.hpp"
#include "fusenet/kernels/layout.hpp"
#include "fusenet/kernels/linear_gemm.hpp"
#include "fusenet/kernels/scalar/activations.hpp"
#include "fusenet/model/node.hpp"
#include "fusenet/model/train_model.hpp"
#include "fusenet/plan/describe.hpp"
#include "fusenet/plan/plan.hpp"
#include "fusenet/plan/rules.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fusenet {

/// How an inference stage is computed.
enum class infer_executor {
  direct_conv,  ///< kernels/conv_blocked.hpp on bordered NHWC: conv + bias + ReLU + 2×2 pool in registers
  gemm_conv,    ///< im2col + GEMM on NCHW with folded weights, then ReLU / pool in one loop
  gemm_dense,   ///< GEMM linear with folded weights, then bias + ReLU in one loop
  reference,    ///< the trainer's layer code in evaluation semantics (residual blocks, other layers)
};

namespace detail {

/// The compile-time facts of inference stage S of Net.
template <class Net, std::size_t S>
struct infer_stage_facts {
  static constexpr stage st = stages<Net, mode::infer>[S];
  static constexpr std::size_t main = st.main();
  using layer = layer_t<Net, main>;
  static constexpr dims in = Net::steps[st.first].in;     // what the stage reads (before a folded flatten)
  static constexpr dims main_in = Net::steps[main].in;    // what the conv / dense layer reads
  static constexpr dims main_out = Net::steps[main].out;  // conv output before the pool
  static constexpr dims out = Net::steps[st.first + st.count - 1].out;
};

/// Whether the direct kernel's default register tile exists for this stage (it may not on 16 registers).
template <class F>
constexpr bool direct_tile_exists() {
  using L = typename F::layer;
  constexpr std::size_t window = F::st.pool == stage_pool::none ? 1 : 2;
  return kernels::default_conv_tile<F::main_in.d[0], L::out_channels, F::main_in.d[1], F::main_in.d[2], L::kernel,
                                    L::pad, window>::cols > 0;
}

/// Whether stage S of Net runs on the direct kernel: a conv stage that fusable_direct_conv accepts, for the
/// SIMD width of this build, with a register tile that fits (false for S past the last stage).
template <class Net, std::size_t S>
constexpr bool direct_conv_stage() {
  if constexpr (S >= stage_count<Net, mode::infer>) {
    return false;
  } else {
    using F = infer_stage_facts<Net, S>;
    if constexpr (F::st.kind != stage_kind::conv) {
      return false;
    } else {
      using L = typename F::layer;
      constexpr conv_facts c{F::main_in.d[0], L::out_channels, L::kernel, L::step, L::dil, L::group_count,
                             L::pad,          F::main_in.d[1], F::main_in.d[2]};
      if constexpr (!fusable_direct_conv(c, xsimd::batch<float>::size)) return false;
      else return direct_tile_exists<F>();
    }
  }
}

/// The executor of stage S of Net.
template <class Net, std::size_t S>
constexpr infer_executor executor_of() {
  constexpr stage st = stages<Net, mode::infer>[S];
  if constexpr (st.kind == stage_kind::conv) {
    return direct_conv_stage<Net, S>() ? infer_executor::direct_conv : infer_executor::gemm_conv;
  } else if constexpr (st.kind == stage_kind::dense) {
    return infer_executor::gemm_dense;
  } else {
    return infer_executor::reference;
  }
}

/// The trained tensors by state_dict key.
using tensor_lookup = std::map<std::string, const float*>;

inline const float* tensor_at(const tensor_lookup& t, const std::string& key) {
  const auto it = t.find(key);
  if (it == t.end() || it->second == nullptr)
    throw std::logic_error("fusenet: model<infer>: the trained model has no tensor " + key);
  return it->second;
}

/// A conv or dense layer with the BatchNorm after it folded in, PyTorch layout (O×I×K×K or O×I).
struct folded_layer {
  std::vector<float> weight;
  std::vector<float> bias;
};

/// Folds stage S's BatchNorm (if any) into its conv / dense layer, per output channel o:
/// scale = γ/√(running_var+ε), W'[o] = W[o]·scale, b'[o] = (b[o] − running_mean)·scale + β (b = 0 without bias),
/// so that W'x + b' equals PyTorch's eval-mode BN(Wx + b). Computed in double, stored as float.
template <class Net, std::size_t S>
folded_layer fold_stage(const tensor_lookup& t) {
  using F = infer_stage_facts<Net, S>;
  using L = typename F::layer;
  constexpr std::size_t outs = F::main_out.d[0];
  const std::string p = std::to_string(F::main) + ".";
  const float* w = tensor_at(t, p + "weight");
  constexpr std::size_t per = L::tensors(F::main_in)[0].size() / outs;  // weights per output channel
  folded_layer f{std::vector<float>(w, w + outs * per), std::vector<float>(outs, 0.0f)};
  if constexpr (L::has_bias) {
    const float* b = tensor_at(t, p + "bias");
    std::copy(b, b + outs, f.bias.begin());
  }
  if constexpr (F::st.batch_norm) {
    using bn = layer_t<Net, F::main + 1>;
    const std::string q = std::to_string(F::main + 1) + ".";
    const float* gamma = tensor_at(t, q + "weight");
    const float* beta = tensor_at(t, q + "bias");
    const float* mean = tensor_at(t, q + "running_mean");
    const float* var = tensor_at(t, q + "running_var");
    for (std::size_t o = 0; o < outs; ++o) {
      const double scale = static_cast<double>(gamma[o]) / std::sqrt(static_cast<double>(var[o]) + bn::epsilon);
      for (std::size_t i = 0; i < per; ++i)
        f.weight[o * per + i] = static_cast<float>(static_cast<double>(f.weight[o * per + i]) * scale);
      f.bias[o] = static_cast<float>((static_cast<double>(f.bias[o]) - static_cast<double>(mean[o])) * scale +
                                     static_cast<double>(beta[o]));
    }
  }
  return f;
}

/// The per-call state of a stage that computes from its weights alone (the fused executors): none.
struct no_stage_state {};

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

/// Scratch memory a stage may use besides its input and output (each buffer holds batch × work floats).
struct infer_buffers {
  float* a = nullptr;
  float* b = nullptr;
  std::vector<float>* gemm_workspace = nullptr;
  run_context* ctx = nullptr;
};

/// Whether stage S must write bordered NHWC (the next stage is a direct conv) and with which border.
template <class Net, std::size_t S>
inline constexpr bool writes_nhwc = direct_conv_stage<Net, S + 1>();
template <class Net, std::size_t S>
constexpr std::size_t next_border() {
  if constexpr (writes_nhwc<Net, S>) return layer_t<Net, stages<Net, mode::infer>[S + 1].main()>::pad;
  else return 0;
}

/// Per-sample floats of stage S's output in the layout it writes.
template <class Net, std::size_t S>
constexpr std::size_t written_floats() {
  using F = infer_stage_facts<Net, S>;
  if constexpr (writes_nhwc<Net, S>) {
    static_assert(F::out.spatial(), "fusenet: model<infer>: a direct conv stage must follow a C×H×W output");
    return kernels::nhwc_image_size<F::out.d[0], F::out.d[1], F::out.d[2], next_border<Net, S>()>;
  } else {
    return F::out.size();
  }
}

/// Writes an NCHW result of stage S into y in the layout the next stage reads.
template <class Net, std::size_t S>
void hand_over(const float* nchw, float* y, std::size_t n) {
  using F = infer_stage_facts<Net, S>;
  kernels::nchw_to_nhwc<F::out.d[0], F::out.d[1], F::out.d[2], next_border<Net, S>()>(nchw, y, n);
}

template <class Net, std::size_t S, infer_executor E = executor_of<Net, S>()>
class infer_stage;

/// A conv stage on the direct kernel: bordered NHWC in (converted from NCHW when the previous stage is not
/// direct), folded weights packed once as [Cout/V][K][K][Cin][V], bias + ReLU + 2×2 pool in the kernel epilogue.
template <class Net, std::size_t S>
class infer_stage<Net, S, infer_executor::direct_conv> {
  using F = infer_stage_facts<Net, S>;
  using L = typename F::layer;
  static constexpr std::size_t cin = F::main_in.d[0], h = F::main_in.d[1], w = F::main_in.d[2];
  static constexpr std::size_t cout = L::out_channels, k = L::kernel, pad = L::pad;
  static constexpr std::size_t window = F::st.pool == stage_pool::none ? 1 : 2;
  static constexpr std::size_t ho = F::out.d[1], wo = F::out.d[2];
  using pool = std::conditional_t<F::st.pool == stage_pool::avg, kernels::pool_avg, kernels::pool_max>;
  using act = std::conditional_t<F::st.relu, kernels::act_relu, kernels::act_none>;
  // every stage before a direct conv stage writes bordered NHWC (writes_nhwc); only the model input is NCHW
  static constexpr bool in_nhwc = S > 0;
  static constexpr bool out_nhwc = writes_nhwc<Net, S>;
  static constexpr std::size_t border = next_border<Net, S>();

 public:
  static constexpr infer_executor executor = infer_executor::direct_conv;
  static constexpr std::size_t out_floats = written_floats<Net, S>();
  static constexpr std::size_t work_floats =
      std::max(kernels::nhwc_image_size<cin, h, w, pad>, kernels::nhwc_image_size<cout, ho, wo, 0>);
  static constexpr std::size_t gemm_floats = 0;
  using state = no_stage_state;

  void load(const tensor_lookup& t, state&) {
    const folded_layer f = fold_stage<Net, S>(t);
    weights_.resize(kernels::packed_weights_size<cin, cout, k>);
    kernels::pack_conv_weights<cin, cout, k>(f.weight.data(), weights_.data());
    bias_ = f.bias;
  }

  void run(const float* x, float* y, std::size_t n, infer_buffers& buf, state&) const {
    const float* in = x;
    if constexpr (!in_nhwc) {
      kernels::nchw_to_nhwc<cin, h, w, pad>(x, buf.a, n);
      in = buf.a;
    }
    if constexpr (out_nhwc) {
      kernels::conv_bias_relu_pool<cin, cout, h, w, k, pad, window, pool, act, border>(in, weights_.data(),
                                                                                       bias_.data(), y, n);
    } else {
      kernels::conv_bias_relu_pool<cin, cout, h, w, k, pad, window, pool, act, 0>(in, weights_.data(), bias_.data(),
                                                                                  buf.b, n);
      kernels::nhwc_to_nchw<cout, ho, wo, 0>(buf.b, y, n);
    }
  }

 private:
  kernels::aligned_vector<float> weights_;
  std::vector<float> bias_;
};

/// A conv stage the direct kernel does not take (stride, dilation, groups, channel count): im2col + GEMM on
/// NCHW with the folded weights, then ReLU and the 2×2 pool (max: relu(max) = max(relu); avg: mean of relu).
template <class Net, std::size_t S>
class infer_stage<Net, S, infer_executor::gemm_conv> {
  using F = infer_stage_facts<Net, S>;
  using L = typename F::layer;
  static constexpr std::size_t cout = F::main_out.d[0], hc = F::main_out.d[1], wc = F::main_out.d[2];
  static constexpr std::size_t plane = hc * wc;
  static constexpr bool pooled = F::st.pool != stage_pool::none;

 public:
  static constexpr infer_executor executor = infer_executor::gemm_conv;
  static constexpr std::size_t out_floats = written_floats<Net, S>();
  static constexpr std::size_t work_floats = F::main_out.size();
  /// The scratch conv2d_forward needs per thread (none for a pointwise conv, which reads the image).
  static constexpr std::size_t gemm_floats = kernels::conv2d_forward_scratch(
      {1, F::main_in.d[0], F::main_in.d[1], F::main_in.d[2], L::out_channels, L::kernel, L::step, L::pad, L::dil,
       L::group_count});
  using state = no_stage_state;

  void load(const tensor_lookup& t, state&) {
    folded_layer f = fold_stage<Net, S>(t);
    weights_ = std::move(f.weight);
    bias_ = std::move(f.bias);
  }

  void run(const float* x, float* y, std::size_t n, infer_buffers& buf, state&) const {
    constexpr bool out_nhwc = writes_nhwc<Net, S>;
    float* conv = (pooled || out_nhwc) ? buf.a : y;
    const kernels::conv2d_geometry g{n,          F::main_in.d[0], F::main_in.d[1], F::main_in.d[2], L::out_channels,
                                     L::kernel,  L::step,         L::pad,          L::dil,          L::group_count};
    kernels::conv2d_forward(g, x, weights_.data(), bias_.data(), conv, *buf.gemm_workspace);
    float* result = conv;
    if constexpr (pooled) {
      result = out_nhwc ? buf.b : y;
      pool_relu(conv, result, n);
    } else if constexpr (F::st.relu) {
      for (std::size_t i = 0; i < n * cout * plane; ++i) conv[i] = kernels::scalar::relu(conv[i]);
    }
    if constexpr (out_nhwc) hand_over<Net, S>(result, y, n);
  }

 private:
  // 2×2 stride-2 floor-mode pool of relu(conv) (or conv), as nn.MaxPool2d(2) / nn.AvgPool2d(2); a NaN stays NaN
  // through the ReLU and the max (PyTorch's `v > best || isnan(v)`, as scalar::max_pool2d_forward).
  static void pool_relu(const float* c, float* p, std::size_t n) {
    constexpr std::size_t ho = hc / 2, wo = wc / 2;
    for (std::size_t m = 0; m < n * cout; ++m) {
      const float* cp = c + m * plane;
      float* pp = p + m * ho * wo;
      for (std::size_t y = 0; y < ho; ++y)
        for (std::size_t x = 0; x < wo; ++x) {
          float a[4] = {cp[2 * y * wc + 2 * x], cp[2 * y * wc + 2 * x + 1], cp[(2 * y + 1) * wc + 2 * x],
                        cp[(2 * y + 1) * wc + 2 * x + 1]};
          if constexpr (F::st.relu)
            for (float& v : a) v = kernels::scalar::relu(v);
          if constexpr (F::st.pool == stage_pool::max) {
            float best = a[0];
            for (std::size_t i = 1; i < 4; ++i)
              if (a[i] > best || a[i] != a[i]) best = a[i];
            pp[y * wo + x] = best;
          } else {
            pp[y * wo + x] = (a[0] + a[1] + a[2] + a[3]) / 4.0f;
          }
        }
    }
  }

  std::vector<float> weights_;
  std::vector<float> bias_;
};

/// A dense stage: y = x·W'ᵀ by the GEMM, then b' and ReLU in one epilogue loop; a folded flatten reads the
/// previous stage's NCHW output as it is (PyTorch flattens C, then H, then W).
template <class Net, std::size_t S>
class infer_stage<Net, S, infer_executor::gemm_dense> {
  using F = infer_stage_facts<Net, S>;
  static constexpr std::size_t in_features = F::main_in.size(), out_features = F::out.size();
  static_assert(!writes_nhwc<Net, S>);

 public:
  static constexpr infer_executor executor = infer_executor::gemm_dense;
  static constexpr std::size_t out_floats = out_features;
  static constexpr std::size_t work_floats = 0;
  static constexpr std::size_t gemm_floats = 0;  // the GEMM packs into its own thread-local buffers
  using state = no_stage_state;

  void load(const tensor_lookup& t, state&) {
    folded_layer f = fold_stage<Net, S>(t);
    weights_ = std::move(f.weight);
    bias_ = std::move(f.bias);
  }

  void run(const float* x, float* y, std::size_t n, infer_buffers&, state&) const {
    kernels::linear_forward(n, in_features, out_features, x, weights_.data(), nullptr, y);
    for (std::size_t s = 0; s < n; ++s) {
      float* row = y + s * out_features;
      for (std::size_t o = 0; o < out_features; ++o) {
        const float v = row[o] + bias_[o];
        row[o] = F::st.relu ? kernels::scalar::relu(v) : v;
      }
    }
  }

 private:
  std::vector<float> weights_;
  std::vector<float> bias_;
};

/// Any other layer, alone: the trainer's node code in evaluation semantics (running statistics, dropout off),
/// with the trained tensors copied in. Residual blocks run their inner chains this way. The node is the stage's
/// state, not a member: its forward writes scratch inside it (a residual's buffers, max_pool's argmax), so each
/// workspace runs its own copy.
template <class Net, std::size_t S>
class infer_stage<Net, S, infer_executor::reference> {
  using F = infer_stage_facts<Net, S>;
  using node_type = node<F::st.first, typename F::layer, F::in>;

 public:
  static constexpr infer_executor executor = infer_executor::reference;
  static constexpr std::size_t out_floats = written_floats<Net, S>();
  static constexpr std::size_t work_floats = writes_nhwc<Net, S> ? F::out.size() : 0;
  static constexpr std::size_t gemm_floats = 0;  // convs inside a residual grow the workspace on the first forward
  using state = node_type;

  void load(const tensor_lookup& t, state& node) {
    node.visit("", [&](const tensor_ref& r) {
      if (r.value == nullptr) return;  // num_batches_tracked: unused in evaluation
      const float* src = tensor_at(t, r.name);
      std::copy(src, src + r.spec.size(), r.value);
    });
  }

  void run(const float* x, float* y, std::size_t n, infer_buffers& buf, state& node) const {
    if constexpr (writes_nhwc<Net, S>) {
      node.forward(x, buf.a, n, *buf.ctx);
      hand_over<Net, S>(buf.a, y, n);
    } else {
      node.forward(x, y, n, *buf.ctx);
    }
  }
};

template <class Net, class Seq>
struct infer_stage_tuple;
template <class Net, std::size_t... S>
struct infer_stage_tuple<Net, std::index_sequence<S...>> {
  using type = boost::hana::tuple<infer_stage<Net, S>...>;
  using state_type = boost::hana::tuple<typename infer_stage<Net, S>::state...>;
  static constexpr std::size_t most_out = std::max({std::size_t{0}, infer_stage<Net, S>::out_floats...});
  static constexpr std::size_t most_work = std::max({std::size_t{1}, infer_stage<Net, S>::work_floats...});
  static constexpr std::size_t most_gemm = std::max({std::size_t{0}, infer_stage<Net, S>::gemm_floats...});
  static constexpr std::array<infer_executor, sizeof...(S)> executors{infer_stage<Net, S>::executor...};
};

/// The executor's name in describe().
constexpr const char* executor_name(infer_executor e) {
  switch (e) {
    case infer_executor::direct_conv: return "direct xsimd";
    case infer_executor::gemm_conv: return "gemm";
    case infer_executor::gemm_dense: return "gemm";
    case infer_executor::reference: return "reference loop";
  }
  return "";
}

}  // namespace detail

/// The inference specialization: BatchNorm folded into conv / dense weights at construction, each stage of
/// stages<Net, mode::infer> run by the executor its predicates select (direct xsimd conv, GEMM conv, GEMM dense,
/// or the reference loops), activations in two ping-pong buffers that only grow, so that forward into caller
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
  static_assert(Net::checked, "fusenet: model: the network does not type-check (see the error above)");
  static constexpr std::size_t count = stage_count<Net, mode::infer>;
  using indices = std::make_index_sequence<count>;
  using stage_tuple = detail::infer_stage_tuple<Net, indices>;
  using state_type = typename stage_tuple::state_type;

 public:
  using network = Net;
  static constexpr dims input_dims = Net::input_shape;
  static constexpr dims output_dims = Net::output_dims;
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
    void reserve(std::size_t n) {
      std::size_t threads = 1;
#ifdef _OPENMP
      threads = static_cast<std::size_t>(std::max(1, omp_get_max_threads()));
#endif
      // conv2d_forward uses min(batch, threads) im2col buffers
      const std::size_t gemm = std::min(n, threads) * stage_tuple::most_gemm;
      if (gemm_.size() < gemm) gemm_.resize(gemm);
      if (n <= capacity_) return;
      ping_.resize(n * stage_tuple::most_out);
      pong_.resize(n * stage_tuple::most_out);
      work_a_.resize(n * stage_tuple::most_work);
      work_b_.resize(n * stage_tuple::most_work);
      capacity_ = n;
    }

   private:
    friend class model;
    kernels::aligned_vector<float> ping_, pong_, work_a_, work_b_;
    std::vector<float> gemm_;
    std::size_t capacity_ = 0;
    std::optional<state_type> states_;  // the reference stages' nodes, copied from model number states_of_
    std::uint64_t states_of_ = 0;
    std::mt19937_64 rng_{0};  // unused in evaluation; the reference nodes' context wants one
  };

  /// Freezes a trained model: reads its parameters and running statistics, folds and repacks them.
  explicit model(model<Net, mode::train>& trained) { freeze(trained); }

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

  /// The executor of stage s.
  static constexpr infer_executor executor(std::size_t s) { return stage_tuple::executors[s]; }

  /// describe<Net, mode::infer>() with each stage's executor, e.g.
  /// "stage 0: conv2d 1→32 3×3 p1 + bn(folded) + relu + max_pool 2 [fused, direct xsimd]".
  static std::string describe() {
    const std::string plain = fusenet::describe<Net, mode::infer>();
    const std::string fused_tag = " [fused]";
    std::string out;
    std::size_t begin = 0;
    for (std::size_t s = 0; s < count; ++s) {
      const std::size_t end = plain.find('\n', begin);
      std::string line = plain.substr(begin, end - begin);
      const bool fused = line.size() >= fused_tag.size() &&
                         line.compare(line.size() - fused_tag.size(), fused_tag.size(), fused_tag) == 0;
      if (fused) line.resize(line.size() - fused_tag.size());
      out += line + " [" + (fused ? "fused, " : "") + detail::executor_name(executor(s)) + "]\n";
      begin = end + 1;
    }
    return out;
  }

 private:
  void freeze(model<Net, mode::train>& trained) {
    detail::tensor_lookup lookup;
    for (const auto& t : trained.tensors()) lookup[t.name] = t.value;
    load_all(lookup, indices{});
  }
  template <std::size_t... S>
  void load_all(const detail::tensor_lookup& t, std::index_sequence<S...>) {
    (boost::hana::at_c<S>(stages_).load(t, boost::hana::at_c<S>(states_)), ...);
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

  // The stages in order through ws's ping-pong buffers; reads only the stages' weights besides ws and states.
  void run(const float* x, std::size_t n, float* y, workspace& ws, state_type& states) const {
    if (n == 0) return;
    ws.reserve(n);
    detail::run_context ctx{false, false, &ws.rng_, &ws.gemm_};
    detail::infer_buffers buf{ws.work_a_.data(), ws.work_b_.data(), &ws.gemm_, &ctx};
    constexpr auto table = run_table(indices{});
    const float* cur = x;
    for (std::size_t s = 0; s < count; ++s) {
      float* dst = s + 1 == count ? y : (s % 2 == 0 ? ws.ping_.data() : ws.pong_.data());
      table[s](*this, states, cur, dst, n, buf);
      cur = dst;
    }
  }

  template <std::size_t S>
  static void run_one(const model& m, state_type& states, const float* x, float* y, std::size_t n,
                      detail::infer_buffers& buf) {
    boost::hana::at_c<S>(m.stages_).run(x, y, n, buf, boost::hana::at_c<S>(states));
  }
  template <std::size_t... S>
  static constexpr auto run_table(std::index_sequence<S...>) {
    return std::array<void (*)(const model&, state_type&, const float*, float*, std::size_t, detail::infer_buffers&),
                      count>{&run_one<S>...};
  }

  typename stage_tuple::type stages_{};  // folded, packed weights: read-only after construction
  state_type states_{};                  // the reference stages' nodes with their tensors (the non-const forward
                                         // runs them; workspaces run copies)
  workspace own_;                        // the non-const forwards' scratch
  detail::instance_id id_;
};

}  // namespace fusenet
