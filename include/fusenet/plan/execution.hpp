// SPDX-License-Identifier: MIT
// The execution plan: for every stage of a network in a mode, which executor runs it, the layout and border of
// what it reads and writes, its buffer slot and its scratch, decided once here as constexpr values. A residual
// block's block and shortcut get execution plans of their own, for the layouts the block reads and writes.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>

#include "fusenet/layers/input.hpp"
#include "fusenet/mode.hpp"
#include "fusenet/plan/plan.hpp"
#include "fusenet/plan/rules.hpp"
#include "fusenet/target.hpp"

namespace fusenet {

/// Which code runs a stage.
enum class executor {
  direct_conv,  ///< inference: conv + bias + ReLU + 2×2 pool in registers on bordered NHWC (kernels/conv_blocked.hpp)
  depthwise_conv,  ///< inference: one filter per channel, channels in the lanes, bias + ReLU fused, bordered NHWC
  pointwise_conv,  ///< inference: 1×1 conv as a pixel GEMM over the batch's pixels, bias + ReLU fused, bordered NHWC
  pixel_conv,   ///< inference: few output channels: output pixels in the lanes, bias + ReLU + 2×2 pool in registers,
                ///< NCHW in (split into column phases), either layout out
  gemm_conv,    ///< inference: im2col + GEMM on NCHW with folded weights, then ReLU / pool in one loop
  dense,        ///< inference: folded weights; GEMV up to stream_batch samples, blocked GEMM above
  residual,     ///< inference: the block's and the shortcut's own plans, then the add and ReLU in one pass
  global_pool,  ///< inference: global average pool of whichever layout its producer writes, into C features
  pool,         ///< inference: a max / average pool of any window on NHWC, channels in the lanes
  reference,    ///< the trainer's layer code in evaluation semantics (layers no fused executor takes)
  train_direct_conv,  ///< training: conv on the direct kernel (z kept NHWC, its moments taken in cache), batch
                      ///< statistics, BN + ReLU + 2×2 max pool in one NHWC pass; backward on the direct kernel
  train_depthwise_conv,  ///< training: depthwise conv with the channels in the lanes (z kept NHWC, its moments
                         ///< taken in cache), batch statistics, ReLU, pool in the NHWC epilogue; NCHW in and out
  train_gemm_conv,    ///< training: im2col + GEMM conv with its moments, the same epilogue on NCHW
  train_dense,        ///< training: dense with batch statistics and ReLU, the conv epilogue's N×F×1×1 case
  layer,              ///< training: one layer's own forward and backward (model/node.hpp)
  pass_through,       ///< training: flatten or identity: the input passes on unchanged, forward and backward
};

/// How a stage's activations lie in memory, per sample.
enum class layout {
  nchw,  ///< PyTorch's layout: channel planes (or flat features)
  nhwc,  ///< pixels with their channels contiguous, inside a zero border of `border` pixels
};

/// A layout with its border: what one stage writes and the next reads.
struct edge {
  layout lo = layout::nchw;
  std::size_t border = 0;
  friend constexpr bool operator==(const edge&, const edge&) = default;
};

/// One stage of an execution plan.
struct stage_record {
  stage st{};
  executor exec = executor::reference;
  layout in_layout = layout::nchw;
  std::size_t in_border = 0;
  layout out_layout = layout::nchw;
  std::size_t out_border = 0;
  std::size_t out_floats = 0;    ///< floats per sample the stage writes, in its output layout
  std::size_t work_floats = 0;   ///< floats per sample of scratch besides input and output (each of two buffers)
  std::size_t slot = 0;          ///< where it writes: 0 and 1 are the ping-pong buffers, 2 the caller's output
  std::size_t stream_batch = 0;  ///< dense: batches up to this size stream the weights (GEMV) instead of the GEMM
  dims in{}, out{};              ///< the stage's input and output shapes
  // Inference, the last stage of a residual block's plan:
  bool adds_shortcut = false;       ///< its epilogue adds the block's shortcut, so the residual stage does not
  std::size_t shortcut_border = 0;  ///< the border of the shortcut's bordered NHWC it adds
  bool relu_after_add = false;      ///< and applies the ReLU that follows the residual layer
  // Training only:
  bool direct_input_grad = false;  ///< train_direct_conv: the input gradient runs on the direct kernel too
  bool in_place = false;           ///< writes over its input (a ReLU after a layer of the same chain)
  bool keeps_output = false;       ///< its output stays in a buffer of its own until backward reads it
  std::size_t kept_floats = 0;     ///< floats per sample kept for backward besides the output: a fused stage's z
};

/// What the end of a residual block's plan may fuse: the shortcut's edge and whether a ReLU follows the add
/// (`present` false: the plan is not a residual block's).
struct residual_tail {
  bool present = false;
  edge shortcut{};
  bool relu = false;
  friend constexpr bool operator==(const residual_tail&, const residual_tail&) = default;
};

/// Batches a dense stage runs as a GEMV that reads each weight once per four samples: below about four samples
/// the blocked GEMM's per-call packing of the weights costs more than the product itself.
inline constexpr std::size_t dense_stream_batch = 4;

namespace detail {

template <dims In, class List>
struct network_from;
template <dims In, class... Layers>
struct network_from<In, type_list<Layers...>> {
  using type = std::conditional_t<
      In.spatial(), sequential<layers::input<In.d[0], In.d[1], In.d[2]>, Layers...>,
      sequential<layers::input<In.d[0]>, Layers...>>;
};
}  // namespace detail

/// A residual block's block (or shortcut) layers as a network of their own, with the block's input shape.
template <dims In, class List>
using network_from_t = typename detail::network_from<In, List>::type;

namespace detail {

/// Whether an executor computes on bordered NHWC (its producer writes the border its padding needs).
constexpr bool reads_nhwc(executor e) {
  return e == executor::direct_conv || e == executor::depthwise_conv || e == executor::pointwise_conv;
}
/// Whether an executor writes NHWC without converting (a residual: its block's last conv does).
constexpr bool writes_nhwc(executor e) { return reads_nhwc(e) || e == executor::pool || e == executor::residual; }
/// What an executor writes without converting: the NHWC kernels NHWC, the others NCHW.
constexpr layout native_output(executor e) { return writes_nhwc(e) ? layout::nhwc : layout::nchw; }

/// A residual block's add (+ ReLU) runs in the epilogue of the block's last stage when that stage is a direct or
/// pointwise conv without a pool writing bordered NHWC and the shortcut lies in bordered NHWC too: one pass over
/// the block's output instead of two. Otherwise the residual stage adds it after the block (kernels/residual_add.hpp).
constexpr bool fusable_shortcut_add(const stage_record& last, edge shortcut) {
  return (last.exec == executor::direct_conv || last.exec == executor::pointwise_conv) &&
         last.st.pool == stage_pool::none && last.out_layout == layout::nhwc && shortcut.lo == layout::nhwc;
}

constexpr std::size_t floats_in(layout lo, dims d, std::size_t border) {
  if (lo == layout::nchw || !d.spatial()) return d.size();
  return (d.d[1] + 2 * border) * (d.d[2] + 2 * border) * d.d[0];
}

template <class Net, target Target>
struct infer_wants;

/// The edge a residual layer reads for Target: what its block's first stage reads, when the shortcut (the
/// identity, or a projection on the direct kernel with no wider padding) can read it too; NCHW otherwise.
template <class Layer, dims In, target Target>
constexpr edge residual_input() {
  using block = infer_wants<network_from_t<In, typename Layer::block_list>, Target>;
  if constexpr (Layer::shortcut_list::size == 0) {
    return block::first;  // the identity shortcut is added in whatever layout the block reads
  } else {
    // a projection on the direct or pointwise kernel reads the block's bordered NHWC too: its taps start inside a
    // border at least as wide as its padding (a 1×1 projection has none)
    using projection = infer_wants<network_from_t<In, typename Layer::shortcut_list>, Target>;
    if constexpr (block::first.lo == layout::nhwc &&
                  (projection::first_exec == executor::direct_conv ||
                   projection::first_exec == executor::pointwise_conv) &&
                  projection::first.border <= block::first.border)
      return block::first;
    else
      return {};
  }
}

// The executor of an inference stage: a conv stage on the first of the depthwise, pointwise, direct and pixel-lane
// kernels that takes it, else the GEMM conv; dense stages on
// the dense executor; residual stages on their own plans; everything else on the trainer's layer code.
template <std::size_t N>
constexpr executor infer_executor_of(const stage& s, const std::array<layer_facts, N>& l, const target& t) {
  if (s.kind == stage_kind::conv) {
    const conv_facts c = conv_facts_of(l[s.main()], s.pool == stage_pool::none ? 1 : 2);
    if (fusable_depthwise_conv(c, t)) return executor::depthwise_conv;
    if (fusable_pointwise_conv(c, t)) return executor::pointwise_conv;
    if (fusable_direct_conv(c, t)) return executor::direct_conv;
    return fusable_pixel_conv(c, t) ? executor::pixel_conv : executor::gemm_conv;
  }
  if (s.kind == stage_kind::dense) return executor::dense;
  if (s.kind == stage_kind::residual) return executor::residual;
  if (l[s.first].op == layer_op::global_avg_pool) return executor::global_pool;
  if (l[s.first].op == layer_op::max_pool || l[s.first].op == layer_op::avg_pool) return executor::pool;
  return executor::reference;
}

// Inference: each edge between stages gets the layout its consumer reads. A direct or depthwise conv reads
// bordered NHWC (its producer writes the border); a pool unbordered NHWC; a residual what residual_input says; a
// dense stage with the flatten folded in, and a global pool, read whatever their producer writes natively (the
// dense weight columns are permuted at freeze time); every other stage reads NCHW. `first` is the edge into stage 0
// and `last` the edge out of the last stage: the user's NCHW for a network, the block's layouts for a residual.
template <std::size_t N>
constexpr std::array<stage_record, N> infer_records(const std::array<stage, N>& stages, std::size_t count,
                                                    const std::array<layer_facts, N>& l,
                                                    const std::array<edge, N>& residual_in, const target& t,
                                                    edge first, edge last, residual_tail tail = {}) {
  std::array<stage_record, N> r{};
  for (std::size_t s = 0; s < count; ++s) {
    r[s].st = stages[s];
    r[s].exec = infer_executor_of(stages[s], l, t);
    r[s].in = l[stages[s].first].in;
    r[s].out = l[stages[s].first + stages[s].count - 1].out;
    r[s].slot = s + 1 == count ? 2 : s % 2;
    if (r[s].exec == executor::dense) r[s].stream_batch = dense_stream_batch;
  }
  if (count > 0) r[0].in_layout = first.lo, r[0].in_border = first.border;
  for (std::size_t s = 0; s + 1 < count; ++s) {
    stage_record& next = r[s + 1];
    edge e{};
    if (reads_nhwc(next.exec)) {
      e = {layout::nhwc, l[next.st.main()].pad};
    } else if (next.exec == executor::pool) {
      e = {layout::nhwc, 0};  // the pool clips its windows to the real pixels: no border
    } else if (next.exec == executor::residual) {
      e = residual_in[next.st.first];
    } else if ((next.exec == executor::dense && next.st.flatten && r[s].out.spatial()) ||
               next.exec == executor::global_pool) {
      e = {native_output(r[s].exec), 0};  // read as written: permuted weights, or a sum over pixels
    }
    r[s].out_layout = e.lo, r[s].out_border = e.border;
    next.in_layout = e.lo, next.in_border = e.border;
  }
  if (count > 0) r[count - 1].out_layout = last.lo, r[count - 1].out_border = last.border;
  if (count > 0 && tail.present && fusable_shortcut_add(r[count - 1], tail.shortcut)) {
    r[count - 1].adds_shortcut = true;
    r[count - 1].shortcut_border = tail.shortcut.border;
    r[count - 1].relu_after_add = tail.relu;
  }
  for (std::size_t s = 0; s < count; ++s) {
    stage_record& x = r[s];
    x.out_floats = floats_in(x.out_layout, x.out, x.out_border);
    const dims conv_out = l[x.st.main()].out;
    if (reads_nhwc(x.exec)) {
      // converting the user's NCHW input in, or the kernel's NHWC output to an NCHW consumer
      const std::size_t in_copy = x.in_layout == layout::nchw ? floats_in(layout::nhwc, x.in, l[x.st.main()].pad) : 0;
      const std::size_t out_copy = x.out_layout == layout::nchw ? floats_in(layout::nhwc, x.out, 0) : 0;
      x.work_floats = in_copy > out_copy ? in_copy : out_copy;
    } else if (x.exec == executor::pool) {
      const std::size_t in_copy = x.in_layout == layout::nchw ? x.in.size() : 0;
      const std::size_t out_copy = x.out_layout == layout::nchw ? x.out.size() : 0;
      x.work_floats = in_copy > out_copy ? in_copy : out_copy;
    } else if (x.exec == executor::pixel_conv) {
      const conv_facts c = conv_facts_of(l[x.st.main()], x.st.pool == stage_pool::none ? 1 : 2);
      x.work_floats = detail::pixel_conv_scratch_floats(c.in_channels, c.out_channels, c.height, c.width, c.kernel,
                                                        c.stride, c.pad, c.pool, t.vector_width,
                                                        t.vector_registers);  // the input's column phases
    } else if (x.exec == executor::gemm_conv) {
      x.work_floats = conv_out.size();  // the conv output before the pool, or before the NHWC hand-over
    } else if (x.exec == executor::reference || x.exec == executor::global_pool) {
      x.work_floats = x.out_layout == layout::nhwc ? x.out.size() : 0;  // NCHW result before the hand-over
    }
  }
  return r;
}

/// The layers that run in place over their input: a ReLU after a layer of the same chain that computes (never on
/// the chain's input, which its caller owns and a residual's shortcut reads too). Its producer does not need its
/// own output in backward, and ReLU's backward reads relu(x) > 0, which holds exactly where x > 0.
template <std::size_t N>
constexpr std::array<bool, N> runs_in_place(const std::array<layer_facts, N>& l) {
  std::array<bool, N> r{};
  bool produced = false;
  for (std::size_t i = 0; i < N; ++i) {
    r[i] = l[i].op == layer_op::relu && produced;
    produced = produced || !passes_through(l[i]);
  }
  return r;
}

// The executor of a training stage: a fused conv stage on the direct or the depthwise kernel when the plan's rule
// takes it, else on the GEMM; fused dense stages; flatten and identity pass through; every other layer runs alone.
template <std::size_t N>
constexpr executor train_executor_of(const stage& s, const std::array<layer_facts, N>& l, const target& t) {
  if (s.kind == stage_kind::conv) {
    const conv_facts c = conv_facts_of(l[s.first], 1);
    if (trainable_direct_conv(c, t)) return executor::train_direct_conv;
    return trainable_depthwise_conv(c, t) ? executor::train_depthwise_conv : executor::train_gemm_conv;
  }
  if (s.kind == stage_kind::dense) return executor::train_dense;
  return passes_through(l[s.first]) ? executor::pass_through : executor::layer;
}

// Training: fused conv / dense + batch-statistics stages and single layers, all on NCHW between stages. Each stage
// but a pass-through or in-place one keeps its output in a buffer of its own for backward; a fused stage also
// keeps its conv or dense output z.
template <std::size_t N>
constexpr std::array<stage_record, N> train_records(const std::array<stage, N>& stages, std::size_t count,
                                                    const std::array<layer_facts, N>& l, const target& t) {
  std::array<stage_record, N> r{};
  const std::array<bool, N> in_place = runs_in_place(l);
  for (std::size_t s = 0; s < count; ++s) {
    const stage& st = stages[s];
    stage_record& x = r[s];
    x.st = st;
    x.exec = train_executor_of(st, l, t);
    x.in = l[st.first].in;
    x.out = l[st.first + st.count - 1].out;
    x.out_floats = x.out.size();
    x.direct_input_grad =
        x.exec == executor::train_direct_conv && trainable_direct_input_grad(conv_facts_of(l[st.first], 1), t);
    x.in_place = x.exec == executor::layer && in_place[st.first];
    x.keeps_output = x.exec != executor::pass_through && !x.in_place;
    x.kept_floats = st.fused() ? l[st.first].out.size() : 0;
  }
  return r;
}

/// The training records of a layer list (a network's, or a residual's block or shortcut) with input In, for Target.
template <class List, dims In, target Target>
struct train_plan_of {
  using list = List;
  static constexpr dims input = In;
  static constexpr target planned_for = Target;
  static constexpr std::size_t count = list_plan<List, true>::computed.second;
  static constexpr auto facts = facts_table<List>::with(chain_facts<typename chain_of<List>::type, In>::steps);
  static constexpr auto records = train_records(list_plan<List, true>::computed.first, count, facts, Target);
};

template <class Layer, dims In, target Target>
constexpr edge residual_input_or_none() {
  if constexpr (op_of<Layer> == layer_op::residual) return residual_input<Layer, In, Target>();
  else return {};
}

template <class Net, target Target, class List = typename Net::layer_list,
          class Seq = std::make_index_sequence<List::size>>
struct residual_inputs;
template <class Net, target Target, class... Layers, std::size_t... I>
struct residual_inputs<Net, Target, type_list<Layers...>, std::index_sequence<I...>> {
  static constexpr std::array<edge, sizeof...(Layers)> value{
      residual_input_or_none<Layers, Net::steps[I].in, Target>()...};
};

/// The inference records of Net for Target with the given edges in and out (and, for a residual block's plan, what
/// its last stage may fuse).
template <class Net, target Target, edge First, edge Last, residual_tail Tail = residual_tail{}>
struct infer_plan_of {
  using network = Net;
  static constexpr target planned_for = Target;
  static constexpr std::size_t count = stage_count<Net, mode::infer>;
  static constexpr auto facts = facts_table<typename Net::layer_list>::with(Net::steps);
  static constexpr auto records =
      infer_records(stages<Net, mode::infer>, count, facts,
                    residual_inputs<Net, Target>::value, Target, First, Last, Tail);
};

/// The edge a network's first stage reads when nothing constrains it: bordered NHWC for a direct conv.
template <class Net, target Target>
struct infer_wants {
  using free_plan = infer_plan_of<Net, Target, edge{}, edge{}>;
  static constexpr executor first_exec = free_plan::records[0].exec;
  static constexpr edge first = [] {
    constexpr stage_record r0 = free_plan::records[0];
    if constexpr (reads_nhwc(r0.exec))
      return edge{layout::nhwc, free_plan::facts[r0.st.main()].pad};
    else
      return edge{};
  }();
};

/// The plans inside residual stage S of plan P: the block's, and the projection shortcut's (void for the
/// identity), each reading and writing the layouts of the residual's record.
template <class P, std::size_t S>
struct residual_plans {
  static constexpr stage_record rec = P::records[S];
  using layer = type_at_t<rec.st.first, typename P::network::layer_list>;
  static constexpr edge in{rec.in_layout, rec.in_border}, out{rec.out_layout, rec.out_border};
  // the shortcut's values lie as the block's input (the identity) or as its output (a projection writes that)
  static constexpr residual_tail tail{true, layer::shortcut_list::size == 0 ? in : out, rec.st.relu};
  using block = infer_plan_of<network_from_t<rec.in, typename layer::block_list>, P::planned_for, in, out, tail>;
  /// Whether the block's last stage adds the shortcut (and the ReLU after it) in its epilogue.
  static constexpr bool fused_add = block::records[block::count - 1].adds_shortcut;
  using shortcut = typename std::conditional_t<
      layer::shortcut_list::size == 0, std::type_identity<void>,
      std::type_identity<infer_plan_of<network_from_t<rec.in, typename layer::shortcut_list>, P::planned_for, in,
                                       out>>>::type;
};

/// The inference plan of a whole network: the user's NCHW in and out.
template <class Net, target Target = build_target>
using network_plan = infer_plan_of<Net, Target, edge{}, edge{}>;

template <class Net, class Mode, target Target>
struct execution_plan_of {
  static constexpr auto records = [] {
    if constexpr (std::is_same_v<Mode, mode::infer>) {
      return network_plan<Net, Target>::records;
    } else {
      return train_plan_of<typename Net::layer_list, Net::input_shape, Target>::records;
    }
  }();
};

}  // namespace detail

/// The execution plan of Net in Mode for Target (this translation unit's instruction set by default): one
/// record per stage, indices below stage_count<Net, Mode>. The network reads and writes PyTorch's NCHW.
template <class Net, class Mode, target Target = build_target>
inline constexpr auto execution_plan = detail::execution_plan_of<Net, Mode, Target>::records;

/// Record S of execution_plan<Net, Mode, Target>.
template <class Net, class Mode, std::size_t S, target Target = build_target>
  requires(S < stage_count<Net, Mode>)
inline constexpr stage_record record_at = execution_plan<Net, Mode, Target>[S];

}  // namespace fusenet
