// SPDX-License-Identifier: MIT
// Sums over the images of a batch (weight, bias and BatchNorm-parameter gradients) in one tree fixed by image
// position, so that data-parallel training gives one process's gradients bit for bit.
#pragma once

// Why: a process holding images [r·S, (r+1)·S) of a global batch sums its gradients alone, and the
// allreduce then adds the processes' sums. That equals the single process's sum only if both group the same
// terms the same way. So every such sum is taken in chunks of batch_chunk consecutive images (each chunk in
// image order, in double or as one FMA chain), and the chunks' float sums are added pairwise, bottom-up by
// position: at step s = 1, 2, 4, …, chunk c += chunk c + s for every c that is a multiple of 2s. Every aligned
// run of 2^k chunks is then a subtree: a shard of S = 2^k · batch_chunk images sums to exactly the node the
// single process has for it, and with 2 processes the allreduce's one addition is the root (with 2^j processes,
// an allreduce that adds in recursive doubling order is too). Pairwise addition is also more accurate than
// adding the chunks in a row.

#include <cmath>
#include <cstddef>

namespace fusenet::kernels {

/// Images per leaf of the batch tree: consecutive images whose gradient terms are summed in order before
/// the chunks are added pairwise.
inline constexpr std::size_t batch_chunk = 8;

/// Leaves of the batch tree over `images` images.
constexpr std::size_t batch_chunks(std::size_t images) { return (images + batch_chunk - 1) / batch_chunk; }

/// Adds `count` partials of `size` floats (partial c at parts + c·stride) pairwise by position, the batch
/// tree's order; partial 0 then holds the sum (the others are overwritten).
inline void add_pairwise(float* parts, std::size_t count, std::size_t size, std::size_t stride) {
  for (std::size_t step = 1; step < count; step *= 2)
    for (std::size_t c = 0; c + step < count; c += 2 * step) {
      float* __restrict to = parts + c * stride;
      const float* __restrict from = parts + (c + step) * stride;
      for (std::size_t i = 0; i < size; ++i) to[i] += from[i];
    }
}

/// dw += a convolution's weight gradient from its per-chunk partials: `chunks` partials laid out [taps][cin][cout]
/// (parts + c·taps·cin·cout), added in the batch tree (parts is overwritten), into PyTorch's [cout][cin][taps].
/// A depthwise convolution is the case cin = 1.
inline void add_conv_weight_partials(float* parts, std::size_t chunks, std::size_t taps, std::size_t cin,
                                     std::size_t cout, float* dw) {
  if (chunks == 0) return;
  const std::size_t part_size = taps * cin * cout;
  add_pairwise(parts, chunks, part_size, part_size);
  for (std::size_t o = 0; o < cout; ++o)
    for (std::size_t i = 0; i < cin; ++i)
      for (std::size_t t = 0; t < taps; ++t) dw[(o * cin + i) * taps + t] += parts[(t * cin + i) * cout + o];
}

/// One value per image summed in the batch tree: add() the images' values in image order, then total().
/// Each chunk's values are added in double and the chunk's sum, times `scale`, rounded to float; the chunks'
/// floats are added pairwise as add_pairwise does, on a stack (a binary counter), without storing them all.
class batch_sum {
 public:
  explicit batch_sum(double scale = 1.0) : scale_(scale) {}

  void add(double value) {
    chunk_ += value;
    if (++in_chunk_ == batch_chunk) flush();
  }

  /// The sum of every value added, as a float.
  [[nodiscard]] float total() {
    if (in_chunk_ > 0) flush();
    // What remains are the subtrees of a count that is not a power of two, largest first: add them from the
    // smallest up, as add_pairwise's last steps do.
    while (depth_ > 1) {
      value_[depth_ - 2] += value_[depth_ - 1];
      --depth_;
    }
    return depth_ == 0 ? 0.0f : value_[0];
  }

 private:
  void flush() {
    value_[depth_] = static_cast<float>(chunk_ * scale_);
    level_[depth_++] = 0;
    while (depth_ > 1 && level_[depth_ - 2] == level_[depth_ - 1]) {
      value_[depth_ - 2] += value_[depth_ - 1];
      ++level_[depth_ - 2];
      --depth_;
    }
    chunk_ = 0.0;
    in_chunk_ = 0;
  }

  double scale_;
  double chunk_ = 0.0;
  std::size_t in_chunk_ = 0, depth_ = 0;
  float value_[64] = {};          // subtree sums, at most one per level
  unsigned char level_[64] = {};  // their levels, decreasing from the bottom
};

/// out[c] += Σ over `images` of sums[i·channels + c] (one float per image and channel, e.g. a bias gradient's
/// per-image Σ dz), each channel summed in the batch tree.
inline void add_image_sums(const float* sums, std::size_t images, std::size_t channels, float* out) {
  for (std::size_t c = 0; c < channels; ++c) {
    batch_sum sum;  // the images' float sums, in the batch tree
    for (std::size_t i = 0; i < images; ++i) sum.add(static_cast<double>(sums[i * channels + c]));
    out[c] += sum.total();
  }
}

namespace detail {

/// A BatchNorm's dβ += Σg and dγ += Σg·(z − m)/σ of one channel from its per-image sums (image n's at
/// g_sums[n·stride] and gx_sums[n·stride]), in the batch tree, so that a data-parallel process's sums over its
/// shard are subtrees of the whole batch's (dγ, dβ skipped if nullptr). Out of line: every path (one process, or
/// synchronized BatchNorm) must round them with the same instructions.
[[gnu::noinline]] inline void parameter_gradients(const double* g_sums, const double* gx_sums, std::size_t stride,
                                                  std::size_t images, float batch_var, float eps, float* dgamma,
                                                  float* dbeta) {
  const double inv_std = 1.0 / std::sqrt(static_cast<double>(batch_var) + static_cast<double>(eps));
  batch_sum sum_g, sum_g_xhat(inv_std);
  for (std::size_t n = 0; n < images; ++n) sum_g.add(g_sums[n * stride]), sum_g_xhat.add(gx_sums[n * stride]);
  if (dbeta) *dbeta += sum_g.total();
  if (dgamma) *dgamma += sum_g_xhat.total();
}

}  // namespace detail

}  // namespace fusenet::kernels
