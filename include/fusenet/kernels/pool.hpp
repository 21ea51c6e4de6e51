// SPDX-License-Identifier: MIT
// Training-path 2-d max pooling (NCHW, float), forward and backward: a branch-free 2×2/2 path and
// per-plane loops threaded over planes, with the scalar twin's results.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <fusenet/kernels/scalar/pool.hpp>
#include <xsimd/xsimd.hpp>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fusenet::kernels {

/// Runtime sizes of one pooling call, shared with the scalar twin so both take the same arguments.
using scalar::pool2d_geometry;

namespace detail {

/// True for the common nn.MaxPool2d(2) case (2×2 window, stride 2, no padding) that has its own loop.
inline bool pool_is_2x2(const pool2d_geometry& g) {
  return g.kernel == 2 && g.stride == 2 && g.padding == 0;
}

/// Elements below which a pooling call stays on one thread: forking costs more than the work.
inline constexpr std::size_t pool_parallel_min = std::size_t{1} << 15;

/// One output row of the 2×2/2 max pool from input rows r0, r1 (r0 starts at plane index base).
/// The candidates are compared in the scalar twin's scan order with its rule
/// `v > best || isnan(v)`, written as selects so GCC vectorises the loop; GCC 12 needs the
/// __restrict row pointers as parameters, else it gives up ("complicated access pattern").
inline void max_pool2x2_row(std::size_t wo, std::uint32_t base, std::uint32_t in_w,
                            const float* __restrict r0, const float* __restrict r1,
                            float* __restrict y, std::uint32_t* __restrict argmax) {
  for (std::size_t ox = 0; ox < wo; ++ox) {
    const auto col = base + static_cast<std::uint32_t>(2 * ox);
    const float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
    float best = a;
    std::uint32_t at = col;
    const bool tb = (b > best) | (b != b);
    best = tb ? b : best;
    at = tb ? col + 1 : at;
    const bool tc = (c > best) | (c != c);
    best = tc ? c : best;
    at = tc ? col + in_w : at;
    const bool td = (d > best) | (d != d);
    best = td ? d : best;
    at = td ? col + in_w + 1 : at;
    y[ox] = best;
    argmax[ox] = at;
  }
}

/// One plane of the 2×2/2 max pool, row by row.
inline void max_pool2x2_plane(std::size_t in_w, std::size_t ho, std::size_t wo, const float* x,
                              float* y, std::uint32_t* argmax) {
  for (std::size_t oy = 0; oy < ho; ++oy) {
    max_pool2x2_row(wo, static_cast<std::uint32_t>(2 * oy * in_w), static_cast<std::uint32_t>(in_w),
                    x + 2 * oy * in_w, x + (2 * oy + 1) * in_w, y + oy * wo, argmax + oy * wo);
  }
}

/// Backward of one 2×2/2 plane: every input cell written once, dy at the chosen cell, else 0
/// (the twin's fill-then-scatter gives the same values, as the windows do not overlap).
inline void max_unpool2x2_plane(std::size_t in_w, std::size_t in_h, std::size_t ho, std::size_t wo,
                                const float* __restrict dy, const std::uint32_t* __restrict argmax,
                                float* __restrict dx) {
  for (std::size_t oy = 0; oy < ho; ++oy) {
    float* r0 = dx + 2 * oy * in_w;
    float* r1 = r0 + in_w;
    const auto base = static_cast<std::uint32_t>(2 * oy * in_w);
    const auto w32 = static_cast<std::uint32_t>(in_w);
    for (std::size_t ox = 0; ox < wo; ++ox) {
      const float d = dy[oy * wo + ox];
      const std::uint32_t at = argmax[oy * wo + ox] - base - static_cast<std::uint32_t>(2 * ox);
      r0[2 * ox] = at == 0 ? d : 0.0f;
      r0[2 * ox + 1] = at == 1 ? d : 0.0f;
      r1[2 * ox] = at == w32 ? d : 0.0f;
      r1[2 * ox + 1] = at == w32 + 1 ? d : 0.0f;
    }
    // An odd width leaves the last column outside every window.
    for (std::size_t ix = 2 * wo; ix < in_w; ++ix) r0[ix] = r1[ix] = 0.0f;
  }
  // An odd height leaves the last row outside every window.
  std::fill(dx + 2 * ho * in_w, dx + in_h * in_w, 0.0f);
}

}  // namespace detail

/// y = maximum over each window, as scalar::max_pool2d_forward (same ties, NaN and argmax rules).
/// 2×2/2 windows take a branch-free loop; planes (N·C) are spread over OpenMP threads, each plane
/// computed alone, so results never depend on the thread count.
/// Ensures: y and argmax (N*C*Ho*Wo each) overwritten; argmax holds h*W + w within the input plane.
template <class Arch = xsimd::default_arch>
void max_pool2d_forward(const pool2d_geometry& g, const float* x, float* y, std::uint32_t* argmax) {
  const std::size_t planes = g.batch * g.channels, in_plane = g.in_h * g.in_w;
  const std::size_t ho = g.out_h(), wo = g.out_w(), out_plane = ho * wo;
  const bool two = detail::pool_is_2x2(g);
  const pool2d_geometry one{1, 1, g.in_h, g.in_w, g.kernel, g.stride, g.padding};
  [[maybe_unused]] const bool parallel = planes * in_plane >= detail::pool_parallel_min;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (parallel)
#endif
  for (std::size_t p = 0; p < planes; ++p) {
    if (two) {
      detail::max_pool2x2_plane(g.in_w, ho, wo, x + p * in_plane, y + p * out_plane,
                                argmax + p * out_plane);
    } else {
      scalar::max_pool2d_forward(one, x + p * in_plane, y + p * out_plane, argmax + p * out_plane);
    }
  }
}

/// dx = dy scattered to the cells chosen by max_pool2d_forward (summed where windows overlap), as
/// the scalar twin. Each plane is zeroed and scattered while it is in cache (2×2/2: written once,
/// the chosen cell gets dy, the others 0), planes spread over OpenMP threads; the sums inside a
/// plane run in the twin's order, so results never depend on the thread count.
/// Ensures: dx (N×C×H×W) overwritten.
template <class Arch = xsimd::default_arch>
void max_pool2d_backward(const pool2d_geometry& g, const float* dy, const std::uint32_t* argmax,
                         float* dx) {
  const std::size_t planes = g.batch * g.channels, in_plane = g.in_h * g.in_w;
  const std::size_t ho = g.out_h(), wo = g.out_w(), out_plane = ho * wo;
  const bool two = detail::pool_is_2x2(g);
  [[maybe_unused]] const bool parallel = planes * in_plane >= detail::pool_parallel_min;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (parallel)
#endif
  for (std::size_t p = 0; p < planes; ++p) {
    float* dxp = dx + p * in_plane;
    const float* dyp = dy + p * out_plane;
    const std::uint32_t* ap = argmax + p * out_plane;
    if (two) {
      detail::max_unpool2x2_plane(g.in_w, g.in_h, ho, wo, dyp, ap, dxp);
    } else {
      std::fill(dxp, dxp + in_plane, 0.0f);
      for (std::size_t o = 0; o < out_plane; ++o) dxp[ap[o]] += dyp[o];
    }
  }
}

}  // namespace fusenet::kernels
