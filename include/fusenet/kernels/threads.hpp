// SPDX-License-Identifier: MIT
// How many OpenMP threads a kernel's loop over independent work items opens, which one the caller is, and the
// loop over the images of a batch that the memory-bound passes share.
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

/// Runs per_image(n) for n < batch, over images in a thread team when the batch is worth one (at least 2 images
/// and ~64 K floats of `image` floats each); otherwise on the calling thread without opening a team (a single
/// image, as the training stages convert one at a time, pays no OpenMP region). Each image must be computed
/// alone, so results never depend on the thread count.
template <class PerImage>
inline void for_each_image(std::size_t batch, std::size_t image, PerImage&& per_image) {
  if (batch < 2 || batch * image < (std::size_t{1} << 16)) {
    for (std::size_t n = 0; n < batch; ++n) per_image(n);
    return;
  }
  const auto images = static_cast<std::ptrdiff_t>(batch);
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (std::ptrdiff_t i = 0; i < images; ++i) per_image(static_cast<std::size_t>(i));
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
