// SPDX-License-Identifier: MIT
// conv2d<Out, Kernel, options...>: declaration, option checks and shape rule of a 2-D convolution.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "fusenet/detail/type_list.hpp"
#include "fusenet/layers/options.hpp"
#include "fusenet/layers/rules.hpp"
#include "fusenet/layers/tensor_spec.hpp"

namespace fusenet::layers {

/// A 2-D convolution with Out filters of Kernel×Kernel, as torch.nn.Conv2d.
/// Options, in any order: padding<P>, stride<S>, dilation<D>, groups<G>, bias<B> (default bias<true>).
/// Requires: a C×H×W input, G dividing C and Out, the dilated kernel fitting the padded input.
/// Ensures: output Out×Ho×Wo with Ho = (H + 2P - D(K-1) - 1)/S + 1.
/// Example: examples/fashion_mnist.cpp
/// The options' pack is named for the one error C++ gives on PyTorch's positional habit, conv2d<16, 3, 1>: a value
/// where a type is expected. GCC prints the parameter's name, clang the line below.
template <std::size_t Out, std::size_t Kernel, class... Options_written_as_padding_P>  // 1? write padding<1>
struct conv2d {
  static_assert(Out >= 1, "fusenet: conv2d<Out, Kernel>: Out (filters) must be at least 1");
  static_assert(Kernel >= 1, "fusenet: conv2d<Out, Kernel>: Kernel must be at least 1");
  static_assert(detail::options_valid<fusenet::detail::type_list<Options_written_as_padding_P...>, option_kind::padding,
                                      option_kind::stride, option_kind::dilation, option_kind::groups,
                                      option_kind::bias>,
                "fusenet: conv2d<Out, Kernel, options...>: options are padding<P>, stride<S>, dilation<D>, "
                "groups<G>, bias<B>, each at most once");

  static constexpr std::string_view kind = "conv2d";
  static constexpr std::size_t out_channels = Out;
  static constexpr std::size_t kernel = Kernel;
  static constexpr std::size_t pad =
      detail::option_or<option_kind::padding, std::size_t{0}, Options_written_as_padding_P...>();
  static constexpr std::size_t step =
      detail::option_or<option_kind::stride, std::size_t{1}, Options_written_as_padding_P...>();
  static constexpr std::size_t dil =
      detail::option_or<option_kind::dilation, std::size_t{1}, Options_written_as_padding_P...>();
  static constexpr std::size_t group_count =
      detail::option_or<option_kind::groups, std::size_t{1}, Options_written_as_padding_P...>();
  static constexpr bool has_bias = detail::option_or<option_kind::bias, true, Options_written_as_padding_P...>();
  static constexpr std::size_t window_span = dil * (Kernel - 1) + 1;

  static constexpr bool accepts(dims in) {
    return rule::spatial(in) && rule::groups_divide(in, Out, group_count) && rule::window_fits(in, window_span, pad);
  }
  static constexpr dims output(dims in) {
    return chw(Out, window_output(in.d[1], Kernel, step, pad, dil), window_output(in.d[2], Kernel, step, pad, dil));
  }
  template <class In, class Before>
  struct check {
    static_assert(input_is_spatial<conv2d, In>,
                  "fusenet: conv2d: needs a C x H x W input but gets flat features; a conv2d cannot follow flatten or "
                  "dense");
    static_assert(!input_is_spatial<conv2d, In> || groups_divide_channels<conv2d, In>,
                  "fusenet: conv2d: groups<G> must divide both the input channels and Out");
    static_assert(!input_is_spatial<conv2d, In> || kernel_fits_input<conv2d, In>,
                  "fusenet: conv2d: the (dilated) kernel is larger than the padded input; add padding or use a "
                  "smaller kernel");
  };

  static constexpr std::size_t tensor_count = has_bias ? 2 : 1;
  static constexpr std::array<tensor_spec, tensor_count> tensors(dims in) {
    const tensor_spec w{"weight", tensor_role::parameter, 4, {Out, in.d[0] / group_count, Kernel, Kernel}};
    if constexpr (has_bias) {
      return {w, tensor_spec{"bias", tensor_role::parameter, 1, {Out, 0, 0, 0}}};
    } else {
      return {w};
    }
  }
  static constexpr std::size_t mac_count(dims in) {
    return output(in).size() * (in.d[0] / group_count) * Kernel * Kernel;
  }
  static std::string name() {
    return "conv2d<" + std::to_string(Out) + ", " + std::to_string(Kernel) +
           detail::options_text<Options_written_as_padding_P...>() + ">";
  }
};

}  // namespace fusenet::layers
