// SPDX-License-Identifier: MIT
// describe<Net, Mode>(): the stage list as text, so a reader (and a test) can see what fused.
#pragma once

#include <array>
#include <cstddef>
#include <string>

#include "fusenet/plan/execution.hpp"
#include "fusenet/plan/plan.hpp"

namespace fusenet {

namespace detail {
// A layer in a stage line: "conv2d 1→32 3×3 p1", "dense 3136→128", or the declared name.
template <class Layer>
std::string stage_text(dims in) {
  if constexpr (op_of<Layer> == layer_op::conv2d) {
    std::string s = "conv2d " + std::to_string(in.d[0]) + "\u2192" + std::to_string(Layer::out_channels) + " " +
                    std::to_string(Layer::kernel) + "\u00d7" + std::to_string(Layer::kernel);
    if (Layer::step != 1) s += " s" + std::to_string(Layer::step);
    if (Layer::pad != 0) s += " p" + std::to_string(Layer::pad);
    if (Layer::dil != 1) s += " d" + std::to_string(Layer::dil);
    if (Layer::group_count != 1) s += " g" + std::to_string(Layer::group_count);
    return s;
  } else if constexpr (op_of<Layer> == layer_op::dense) {
    return "dense " + std::to_string(in.size()) + "\u2192" + std::to_string(Layer::out_features);
  } else if constexpr (op_of<Layer> == layer_op::max_pool || op_of<Layer> == layer_op::avg_pool) {
    std::string s = std::string(Layer::kind) + " " + std::to_string(Layer::window);
    if (Layer::step != Layer::window) s += " s" + std::to_string(Layer::step);
    if (Layer::pad != 0) s += " p" + std::to_string(Layer::pad);
    return s;
  } else {
    return Layer::name();
  }
}

// The texts of a layer list's layers, each with its input shape from `facts`.
template <class... Layers>
std::array<std::string, sizeof...(Layers)> stage_texts(type_list<Layers...>,
                                                       const std::array<layer_facts, sizeof...(Layers)>& facts) {
  std::array<std::string (*)(dims), sizeof...(Layers)> f{&stage_text<Layers>...};
  std::array<std::string, sizeof...(Layers)> out;
  for (std::size_t i = 0; i < sizeof...(Layers); ++i) out[i] = f[i](facts[i].in);
  return out;
}

constexpr const char* executor_name(executor e) {
  switch (e) {
    case executor::direct_conv: return "direct_conv";
    case executor::pointwise_conv: return "pointwise_conv";
    case executor::depthwise_conv: return "depthwise_conv";
    case executor::pixel_conv: return "pixel_conv";
    case executor::gemm_conv: return "gemm_conv";
    case executor::dense: return "dense";
    case executor::residual: return "residual";
    case executor::global_pool: return "global_pool";
    case executor::pool: return "pool";
    case executor::reference: return "reference";
    case executor::train_direct_conv: return "train_direct_conv";
    case executor::train_depthwise_conv: return "train_depthwise_conv";
    case executor::train_gemm_conv: return "train_gemm_conv";
    case executor::train_dense: return "train_dense";
    case executor::layer: return "layer";
    case executor::pass_through: return "pass_through";
  }
  return "";
}

inline std::string layout_text(layout lo, std::size_t border) {
  if (lo == layout::nchw) return "nchw";
  return border ? "nhwc+" + std::to_string(border) : std::string("nhwc");
}

// What a training stage keeps for backward, and where its input gradient comes from.
inline std::string train_text(const stage_record& r) {
  std::string s;
  if (r.exec == executor::train_direct_conv) s += r.direct_input_grad ? " | dx: direct" : " | dx: gemm";
  if (r.exec == executor::pass_through) return s;
  if (r.in_place) return s + " | in place";
  s += " | keeps ";
  if (r.kept_floats > 0) s += "z + ";
  return s + "output";
}

// One stage's line: its layers (`text` and `facts`, one per layer of the list), what folded into them, executor and
// layouts, and in training what it keeps.
template <std::size_t N>
std::string record_line(const stage_record& r, bool infer, const std::array<std::string, N>& text,
                        const std::array<layer_facts, N>& facts) {
  const stage st = r.st;
  std::string line;
  for (std::size_t k = 0; k < st.count; ++k) {
    const std::size_t i = st.first + k;
    if (k) line += " + ";
    if (facts[i].op == layer_op::batch_norm && st.kind != stage_kind::single) {
      line += infer ? "bn(folded)" : "bn(batch stats)";
    } else if (st.kind == stage_kind::residual && k == 0) {
      line += "residual";
    } else {
      line += text[i];
    }
  }
  if (r.adds_shortcut) line += r.relu_after_add ? " + shortcut + relu" : " + shortcut";
  if (st.fused() || r.adds_shortcut) line += " [fused]";
  return line + " | " + executor_name(r.exec) + " | " + layout_text(r.in_layout, r.in_border) + " -> " +
         layout_text(r.out_layout, r.out_border) + (infer ? std::string{} : train_text(r)) + "\n";
}

template <class P>
std::string describe_infer_plan(const std::string& indent);

template <class P, std::size_t S, std::size_t N>
std::string describe_infer_stage(const std::string& indent, const std::array<std::string, N>& text) {
  constexpr stage_record r = P::records[S];
  std::string out = indent + "stage " + std::to_string(S) + ": " + record_line(r, true, text, P::facts);
  if constexpr (r.exec == executor::residual) {
    using inner = residual_plans<P, S>;
    out += indent + "  block:\n" + describe_infer_plan<typename inner::block>(indent + "    ");
    if constexpr (std::is_void_v<typename inner::shortcut>)
      out += indent + "  shortcut: identity\n";
    else
      out += indent + "  shortcut:\n" + describe_infer_plan<typename inner::shortcut>(indent + "    ");
  }
  return out;
}

template <class P, std::size_t... S>
std::string describe_infer_stages(const std::string& indent, std::index_sequence<S...>) {
  const auto text = stage_texts(typename P::network::layer_list{}, P::facts);
  return (std::string{} + ... + describe_infer_stage<P, S>(indent, text));
}

template <class P>
std::string describe_infer_plan(const std::string& indent) {
  return describe_infer_stages<P>(indent, std::make_index_sequence<P::count>{});
}

template <class P>
std::string describe_train_plan(const std::string& indent);

// A residual layer trains as one layer whose block and shortcut run training plans of their own.
template <class P, std::size_t S, std::size_t N>
std::string describe_train_stage(const std::string& indent, const std::array<std::string, N>& text) {
  constexpr stage_record r = P::records[S];
  std::string out = indent + "stage " + std::to_string(S) + ": " + record_line(r, false, text, P::facts);
  if constexpr (P::facts[r.st.first].op == layer_op::residual) {
    using layer = type_at_t<r.st.first, typename P::list>;
    constexpr dims in = P::facts[r.st.first].in;
    out += indent + "  block:\n" +
           describe_train_plan<train_plan_of<typename layer::block_list, in, P::planned_for>>(indent + "    ");
    if constexpr (layer::shortcut_list::size == 0)
      out += indent + "  shortcut: identity\n";
    else
      out += indent + "  shortcut:\n" +
             describe_train_plan<train_plan_of<typename layer::shortcut_list, in, P::planned_for>>(indent + "    ");
  }
  return out;
}

template <class P, std::size_t... S>
std::string describe_train_stages(const std::string& indent, std::index_sequence<S...>) {
  const auto text = stage_texts(typename P::list{}, P::facts);
  return (std::string{} + ... + describe_train_stage<P, S>(indent, text));
}

template <class P>
std::string describe_train_plan(const std::string& indent) {
  return describe_train_stages<P>(indent, std::make_index_sequence<P::count>{});
}
}  // namespace detail

/// One line per stage of the execution plan: its layers and what folded into them, then the executor and the
/// layouts it reads and writes, e.g.
/// "stage 0: conv2d 1→32 3×3 p1 + bn(folded) + relu + max_pool 2 [fused] | direct_conv | nchw -> nhwc+1".
/// `nhwc+B` is NHWC inside a zero border of B pixels. A residual stage is followed by the plans of its block and
/// shortcut, indented. Target: the instruction set planned for (this build's by default).
/// Example: tests/plan/infer_plan.cpp, tests/static/plan.cpp
template <class Net, class Mode, target Target = build_target>
std::string describe() {
  static_assert(Net::checked);
  if constexpr (std::is_same_v<Mode, mode::infer>) {
    return detail::describe_infer_plan<detail::network_plan<Net, Target>>("");
  } else {
    return detail::describe_train_plan<detail::train_plan_of<typename Net::layer_list, Net::input_shape, Target>>(
        "");
  }
}

}  // namespace fusenet
