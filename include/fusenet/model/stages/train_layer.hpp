// SPDX-License-Identifier: MIT
// Training stages of one layer: the layer's own forward and backward (model/node.hpp), and flatten / identity,
// whose input passes on unchanged.
#pragma once

#include <algorithm>
#include <boost/hana/at.hpp>
#include <cstddef>

#include "fusenet/model/stages/train_common.hpp"

namespace fusenet::detail {

template <class P, std::size_t S>
struct train_stage<P, S, executor::layer> {
  static constexpr std::size_t index = P::records[S].st.first;

  template <class Nodes>
  static void forward(Nodes& nodes, const float* x, float* y, std::size_t n, train_stage_keep&, train_stage_scratch&,
                      run_context& ctx) {
    boost::hana::at_c<index>(nodes).forward(x, y, n, ctx);
  }
  template <class Nodes>
  static void backward(Nodes& nodes, const float* dy, float* dx, std::size_t n, train_stage_keep&,
                       train_stage_scratch&, run_context& ctx) {
    boost::hana::at_c<index>(nodes).backward(dy, dx, n, ctx);
  }
};

/// The runner passes the input on instead of calling forward; backward copies the gradient only where a caller's
/// dx must receive it (the first stage of a chain).
template <class P, std::size_t S>
struct train_stage<P, S, executor::pass_through> {
  template <class Nodes>
  static void forward(Nodes&, const float*, float*, std::size_t, train_stage_keep&, train_stage_scratch&,
                      run_context&) {}
  template <class Nodes>
  static void backward(Nodes&, const float* dy, float* dx, std::size_t n, train_stage_keep&, train_stage_scratch&,
                       run_context&) {
    if (dx != nullptr) std::copy(dy, dy + n * P::records[S].in.size(), dx);
  }
};

}  // namespace fusenet::detail
