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

template <class Net, class... Layers>
std::array<std::string, sizeof...(Layers)> stage_texts(type_list<Layers...>) {
  std::array<std::string (*)(dims), sizeof...(Layers)> f{&stage_text<Layers>...};
  std::array<std::string, sizeof...(Layers)> out;
  for (std::size_t i = 0; i < sizeof...(Layers); ++i) out[i] = f[i](Net::steps[i].in);
  return out;
}

constexpr const char* executor_name(executor e) {
  switch (e) {
    case executor::direct_conv: return "direct_conv";
    case executor::gemm_conv: return "gemm_conv";
    case executor::dense: return "dense";
    case executor::reference: return "reference";
    case executor::fused_train: return "fused_train";
    case executor::layer: return "layer";
  }
  return "";
}

inline std::string layout_text(layout lo, std::size_t border) {
  if (lo == layout::nchw) return "nchw";
  return border ? "nhwc+" + std::to_string(border) : std::string("nhwc");
}
}  // namespace detail

/// One line per stage of the execution plan: its layers and what folded into them, then the executor and the
/// layouts it reads and writes, e.g.
/// "stage 0: conv2d 1→32 3×3 p1 + bn(folded) + relu + max_pool 2 [fused] | direct_conv | nchw -> nhwc+1".
/// `nhwc+B` is NHWC inside a zero border of B pixels. Target: the instruction set planned for (this build's).
/// Example: tests/static/plan.cpp, tests/plan/describe.cpp
template <class Net, class Mode, target Target = build_target>
std::string describe() {
  static_assert(Net::checked);
  const auto text = detail::stage_texts<Net>(typename Net::layer_list{});
  constexpr bool infer = std::is_same_v<Mode, mode::infer>;
  constexpr auto plan = execution_plan<Net, Mode, Target>;
  std::string out;
  for (std::size_t s = 0; s < stage_count<Net, Mode>; ++s) {
    const stage_record& r = plan[s];
    const stage st = r.st;
    out += "stage " + std::to_string(s) + ": ";
    for (std::size_t k = 0; k < st.count; ++k) {
      const std::size_t i = st.first + k;
      if (k) out += " + ";
      const std::string_view kind = text[i];
      if (kind == "batch_norm" && st.kind != stage_kind::single) {
        out += infer ? "bn(folded)" : "bn(batch stats)";
      } else {
        out += text[i];
      }
    }
    if (st.fused()) out += " [fused]";
    out += std::string(" | ") + detail::executor_name(r.exec) + " | " + detail::layout_text(r.in_layout, r.in_border) +
           " -> " + detail::layout_text(r.out_layout, r.out_border) + "\n";
  }
  return out;
}

}  // namespace fusenet
