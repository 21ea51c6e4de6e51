// SPDX-License-Identifier: MIT
// What every inference stage executor shares: its plan record and layer facts, the trained tensors it loads,
// BatchNorm folding, and the scratch buffers the runner lends it.
#pragma once

#include <cmath>
#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "fusenet/introspection.hpp"
#include "fusenet/kernels/layout.hpp"
#include "fusenet/model/node.hpp"
#include "fusenet/plan/execution.hpp"

namespace fusenet::detail {

/// The compile-time facts of inference stage S of plan P (detail::infer_plan_of: a network, or a residual's block
/// or shortcut): its plan record and the shapes around its main layer.
template <class P, std::size_t S>
struct infer_stage_facts {
  using Net = typename P::network;
  static constexpr stage_record rec = P::records[S];
  static constexpr stage st = rec.st;
  static constexpr std::size_t main = st.main();
  using layer = type_at_t<main, typename Net::layer_list>;
  static constexpr dims in = rec.in;                      // what the stage reads (before a folded flatten)
  static constexpr dims main_in = Net::steps[main].in;    // what the conv / dense layer reads
  static constexpr dims main_out = Net::steps[main].out;  // conv output before the pool
  static constexpr dims out = rec.out;
};

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
template <class P, std::size_t S>
folded_layer fold_stage(const tensor_lookup& t) {
  using F = infer_stage_facts<P, S>;
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
    using bn = type_at_t<F::main + 1, typename F::Net::layer_list>;
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

/// Scratch memory a stage may use besides its input and output (each buffer holds batch × work_floats floats of
/// the stage's plan record).
struct infer_buffers {
  float* a = nullptr;
  float* b = nullptr;
  std::vector<float>* gemm_workspace = nullptr;
  run_context* ctx = nullptr;
  /// A residual block's shortcut, for the block's last stage when its record adds_shortcut.
  const float* shortcut = nullptr;
};

/// Converts an NCHW result of stage S into the bordered NHWC its plan record says the next stage reads.
template <class P, std::size_t S>
void hand_over(const float* nchw, float* y, std::size_t n) {
  using F = infer_stage_facts<P, S>;
  kernels::nchw_to_nhwc<F::out.d[0], F::out.d[1], F::out.d[2], F::rec.out_border>(nchw, y, n);
}

/// Runs the NHWC kernel of stage S of plan P on the layouts of its record. In: the producer's bordered NHWC, or
/// (first stage) the user's NCHW converted into buf.a with a border of InBorder pixels. Out: straight into y
/// inside the record's border, or unbordered into buf.b and transposed for an NCHW consumer.
/// `kernel(in, out, border)` runs the kernel; `border` is a std::integral_constant, so it can be a template argument.
template <class P, std::size_t S, std::size_t InBorder, class Kernel>
void run_nhwc(const float* x, float* y, std::size_t n, infer_buffers& buf, Kernel&& kernel) {
  using F = infer_stage_facts<P, S>;
  const float* in = x;
  if constexpr (F::rec.in_layout == layout::nchw) {
    kernels::nchw_to_nhwc<F::in.d[0], F::in.d[1], F::in.d[2], InBorder>(x, buf.a, n);
    in = buf.a;
  }
  if constexpr (F::rec.out_layout == layout::nhwc) {
    kernel(in, y, std::integral_constant<std::size_t, F::rec.out_border>{});
  } else {
    kernel(in, buf.b, std::integral_constant<std::size_t, 0>{});
    kernels::nhwc_to_nchw<F::out.d[0], F::out.d[1], F::out.d[2], 0>(buf.b, y, n);
  }
}

/// The executor of stage S of plan P, as its record names it; each specialization lives in model/stages/.
template <class P, std::size_t S, executor E = P::records[S].exec>
class infer_stage;

/// A sub-lookup: the tensors under `prefix` (e.g. "3.block."), keyed without it.
inline tensor_lookup tensors_under(const tensor_lookup& t, const std::string& prefix) {
  tensor_lookup sub;
  for (const auto& [key, value] : t)
    if (key.compare(0, prefix.size(), prefix) == 0) sub[key.substr(prefix.size())] = value;
  return sub;
}

}  // namespace fusenet::detail
