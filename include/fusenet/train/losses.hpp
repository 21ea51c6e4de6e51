// SPDX-License-Identifier: MIT
// Loss functions returning the mean loss and its gradient with respect to the prediction.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <xtensor/xarray.hpp>
#include <xtensor/xexpression.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xutils.hpp>

namespace fusenet {

/// A loss value (mean over the batch, accumulated in double) and d(loss)/d(prediction), shaped like
/// the prediction.
template <class Grad>
struct basic_loss_result {
  float loss;
  Grad grad;
};

/// The result of a loss on a batch of rows (N × features): `auto [loss, dlogits] =
/// cross_entropy(...)`.
using loss_result = basic_loss_result<xt::xtensor<float, 2>>;

namespace detail {

// Rank known at compile time (xtensor, fixed shapes, most expressions over them), or SIZE_MAX for
// xarray.
template <class E>
inline constexpr std::size_t loss_static_rank = xt::get_rank<std::decay_t<E>>::value;

template <class E>
using loss_grad_t =
    std::conditional_t<loss_static_rank<E> == SIZE_MAX, xt::xarray<float>,
                       xt::xtensor<float, (loss_static_rank<E> == SIZE_MAX ? 1 : loss_static_rank<E>)>>;

template <class T>
std::string loss_shape_text(const T& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

}  // namespace detail

/// Cross-entropy of logits (N × classes) against integer class labels (N), mean over the batch, as
/// torch.nn.functional.cross_entropy: loss = mean_i(logsumexp(x_i) - x_i[label_i]).
/// Ensures: grad = (softmax(x) - onehot(labels)) / N.
/// Throws std::invalid_argument for a logits tensor that is not 2-D, labels that are not 1-D, an
/// empty batch or different batch sizes; std::out_of_range for a label < 0 or >= classes.
template <class Logits, class Labels>
requires std::is_integral_v<typename std::decay_t<Labels>::value_type> loss_result
cross_entropy(const xt::xexpression<Logits>& logits, const xt::xexpression<Labels>& labels) {
  const auto& x_expr = logits.derived_cast();
  const auto& y_expr = labels.derived_cast();
  if (x_expr.dimension() != 2)
    throw std::invalid_argument(
        "fusenet: cross_entropy: logits must be 2-D (N × classes), got shape " +
        detail::loss_shape_text(x_expr.shape()));
  if (y_expr.dimension() != 1)
    throw std::invalid_argument("fusenet: cross_entropy: labels must be 1-D (N), got shape " +
                                detail::loss_shape_text(y_expr.shape()));
  // Evaluate once: the expression may be lazy, and the loop below reads each element twice.
  const xt::xtensor<float, 2> x = x_expr;
  const std::size_t n = x.shape()[0];
  const std::size_t classes = x.shape()[1];
  if (y_expr.shape()[0] != n)
    throw std::invalid_argument("fusenet: cross_entropy: logits have " + std::to_string(n) +
                                " rows but labels have " + std::to_string(y_expr.shape()[0]) +
                                " entries; they must match");
  if (n == 0 || classes == 0)
    throw std::invalid_argument("fusenet: cross_entropy: empty batch or no classes, logits shape " +
                                detail::loss_shape_text(x.shape()));

  loss_result r{0.0f, xt::xtensor<float, 2>::from_shape({n, classes})};
  const double inv_n = 1.0 / static_cast<double>(n);
  double total = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto raw = y_expr(i);
    using label_t = std::decay_t<decltype(raw)>;
    bool in_range = true;
    if constexpr (std::is_signed_v<label_t>) in_range = raw >= 0;
    if (in_range && static_cast<std::uint64_t>(raw) >= classes) in_range = false;
    if (!in_range)
      throw std::out_of_range("fusenet: cross_entropy: sample " + std::to_string(i) +
                              " has label " + std::to_string(raw) + ", outside [0, " +
                              std::to_string(classes) + ") for " + std::to_string(classes) +
                              " classes");
    const auto label = static_cast<std::size_t>(raw);
    const float* row = &x(i, 0);
    float* g = &r.grad(i, 0);
    // Stable log-softmax: subtract the row maximum before exp.
    float mx = row[0];
    for (std::size_t c = 1; c < classes; ++c) mx = std::max(mx, row[c]);
    double sum = 0.0;
    for (std::size_t c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(row[c]) - mx);
    const double log_sum = std::log(sum);
    total += log_sum - (static_cast<double>(row[label]) - mx);
    const double scale = inv_n / sum;
    for (std::size_t c = 0; c < classes; ++c)
      g[c] = static_cast<float>(std::exp(static_cast<double>(row[c]) - mx) * scale);
    g[label] = static_cast<float>(static_cast<double>(g[label]) - inv_n);
  }
  r.loss = static_cast<float>(total * inv_n);
  return r;
}

/// Mean squared error over all elements, as torch.nn.functional.mse_loss: loss = mean((pred -
/// target)^2). Ensures: grad = 2 * (pred - target) / numel, shaped like pred. Throws
/// std::invalid_argument when the shapes differ or are empty.
template <class Pred, class Target>
basic_loss_result<detail::loss_grad_t<Pred>> mse(const xt::xexpression<Pred>& pred,
                                                 const xt::xexpression<Target>& target) {
  using grad_t = detail::loss_grad_t<Pred>;
  grad_t p = pred.derived_cast();
  const auto& t_expr = target.derived_cast();
  const bool same = p.dimension() == t_expr.dimension() &&
                    std::equal(p.shape().begin(), p.shape().end(), t_expr.shape().begin());
  if (!same)
    throw std::invalid_argument("fusenet: mse: prediction shape " + detail::loss_shape_text(p.shape()) +
                                " differs from target shape " + detail::loss_shape_text(t_expr.shape()));
  if (p.size() == 0) throw std::invalid_argument("fusenet: mse: empty prediction");
  const xt::xarray<float> t = t_expr;
  const std::size_t count = p.size();
  const double inv = 1.0 / static_cast<double>(count);
  double total = 0.0;
  float* d = p.data();  // reuse the prediction's copy as the gradient
  const float* td = t.data();
  const float two_over_n = static_cast<float>(2.0 * inv);
  for (std::size_t i = 0; i < count; ++i) {
    const float diff = d[i] - td[i];
    total += static_cast<double>(diff) * diff;
    d[i] = two_over_n * diff;
  }
  return {static_cast<float>(total * inv), std::move(p)};
}

}  // namespace fusenet
