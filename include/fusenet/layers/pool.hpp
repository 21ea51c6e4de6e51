// SPDX-License-Identifier: MIT
// max_pool<K, options...>, avg_pool<K, options...> and global_avg_pool: declarations and shape rules.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "fusenet/detail/type_list.hpp"
#include "fusenet/layers/options.hpp"
#include "fusenet/layers/rules.hpp"
#include "fusenet/layers/tensor_spec.hpp"

namespace fusenet::layers {

namespace detail {
/// The shared declaration of max_pool and avg_pool: window K×K, stride (default K) and padding.
template <std::string_view const& Kind, std::size_t Window, class... Options>
struct pool2d {
  static_assert(Window >= 1, "fusenet: pooling window K must be at least 1");
  static_assert(options_valid<fusenet::detail::type_list<Options...>, option_kind::stride, option_kind::padding>,
                "fusenet: max_pool/avg_pool<K, options...>: options are stride<S> and padding<P>, each at most once");
  static constexpr std::string_view kind = Kind;
  static constexpr std::size_t window = Window;
  static constexpr std::size_t window_span = Window;
  static constexpr std::size_t step = option_or<option_kind::stride, Window, Options...>();
  static constexpr std::size_t pad = option_or<option_kind::padding, std::size_t{0}, Options...>();

  static constexpr bool accepts(dims in) {
    return rule::spatial(in) && rule::padding_at_most_half(Window, pad) && rule::window_fits(in, Window, pad);
  }
  static constexpr dims output(dims in) {
    return chw(in.d[0], window_output(in.d[1], Window, step, pad), window_output(in.d[2], Window, step, pad));
  }
  template <class In, class Before>
  struct check {
    static_assert(input_is_spatial<pool2d, In>,
                  "fusenet: max_pool/avg_pool: needs a C x H x W input but gets flat features; pool before flatten");
    static_assert(padding_fits_window<pool2d, In>,
                  "fusenet: max_pool/avg_pool: padding must be at most half the window, as in PyTorch");
    static_assert(!input_is_spatial<pool2d, In> || window_fits_input<pool2d, In>,
                  "fusenet: max_pool/avg_pool: the window is larger than the padded input, so the output would be "
                  "empty; pool less often or pad");
  };
  static constexpr std::size_t tensor_count = 0;
  static constexpr std::array<tensor_spec, 0> tensors(dims) { return {}; }
  static constexpr std::size_t mac_count(dims) { return 0; }
  static std::string name() {
    return std::string(Kind) + "<" + std::to_string(Window) + options_text<Options...>() + ">";
  }
};
inline constexpr std::string_view max_pool_kind = "max_pool";
inline constexpr std::string_view avg_pool_kind = "avg_pool";
}  // namespace detail

/// Max pooling over K×K windows, as torch.nn.MaxPool2d; options stride<S> (default K), padding<P>.
/// Example: examples/fashion_mnist.cpp
template <std::size_t K, class... Options>
struct max_pool : detail::pool2d<detail::max_pool_kind, K, Options...> {};

/// Average pooling over K×K windows, as torch.nn.AvgPool2d (count_include_pad=True);
/// options stride<S> (default K), padding<P>.
template <std::size_t K, class... Options>
struct avg_pool : detail::pool2d<detail::avg_pool_kind, K, Options...> {};

/// Mean over each channel's H×W, giving C×1×1, as torch.nn.AdaptiveAvgPool2d(1).
struct global_avg_pool {
  static constexpr std::string_view kind = "global_avg_pool";
  static constexpr bool accepts(dims in) { return rule::spatial(in); }
  static constexpr dims output(dims in) { return chw(in.d[0], 1, 1); }
  template <class In, class Before>
  struct check {
    static_assert(input_is_spatial<global_avg_pool, In>,
                  "fusenet: global_avg_pool: needs a C x H x W input but gets flat features");
  };
  static constexpr std::size_t tensor_count = 0;
  static constexpr std::array<tensor_spec, 0> tensors(dims) { return {}; }
  static constexpr std::size_t mac_count(dims) { return 0; }
  static std::string name() { return "global_avg_pool"; }
};

}  // namespace fusenet::layers
