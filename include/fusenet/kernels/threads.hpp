// SPDX-License-Identifier: MIT
// How many OpenMP threads a kernel's loop over independent work items opens, and which one the caller is.
#pragma once

#include <algorithm>
#include <cstddef>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fusenet::kernels::detail {

/// Threads to run `units` independent pieces of work on: 1 without OpenMP or inside a parallel region (no
/// nested teams; a GEMM inside then decides alone), otherwise up to omp_get_max_threads().
inline std::size_t team_threads(std::size_t units) {
#ifdef _OPENMP
  if (omp_in_parallel()) return 1;
  return std::max<std::size_t>(1, std::min(units, static_cast<std::size_t>(omp_get_max_threads())));
#else
  (void)units;
  return 1;
#endif
}

/// Rank of the calling thread inside the current team (0 without OpenMP).
inline std::size_t thread_rank() {
#ifdef _OPENMP
  return static_cast<std::size_t>(omp_get_thread_num());
#else
  return 0;
#endif
}

}  // namespace fusenet::kernels::detail
