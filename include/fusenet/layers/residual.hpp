// SPDX-License-Identifier: MIT
// residual<block..., shortcut<projection...>>: y = block(x) + shortcut(x), for ResNet basic blocks.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

#include "fusenet/detail/chain.hpp"
#include "fusenet/detail/type_list.hpp"
#include "fusenet/layers/rules.hpp"

namespace fusenet::layers {

/// The projection applied to a residual block's shortcut, e.g. shortcut<conv2d<128, 1, stride<2>, bias<false>>,
/// batch_norm>; without it the shortcut is the identity.
template <class... Layers>
struct shortcut {
  using layer_list = fusenet::detail::type_list<Layers...>;
};

namespace detail {
/// The shape check of a residual block. Its instantiation note shows the input, the block's output and the
/// shortcut's output (the input itself without a shortcut<...>), so a mismatch shows both shapes.
/// The block's and the shortcut's output shapes as types. (Copied into static members first: GCC 12 crashes on
/// shape_t<Residual::block_output(In::value)> written directly in a template argument, as chain.hpp's step_at.)
template <class Residual, class In>
struct residual_outputs {
  static constexpr dims block = Residual::block_output(In::value);
  static constexpr dims shortcut = Residual::shortcut_output(In::value);
  using block_shape = shape_t<block>;
  using shortcut_shape = shape_t<shortcut>;
};

template <class Residual, class In, class BlockOut, class ShortcutOut>
struct residual_check {
  static_assert(!Residual::inner_accepts(In::value) || block_matches_shortcut<Residual, In>,
                "fusenet: residual: the block's output (BlockOut in residual_check<..., In, BlockOut, ShortcutOut> "
                "above) differs from its input or the shortcut's output; add a shortcut<...> projection");
};

template <class T>
struct is_shortcut : std::false_type {};
template <class... L>
struct is_shortcut<shortcut<L...>> : std::true_type {};
template <class T>
struct is_block_layer : std::bool_constant<!is_shortcut<T>::value> {};

template <class List>
struct shortcut_layers {
  using type = fusenet::detail::type_list<>;
};
template <class... L>
struct shortcut_layers<fusenet::detail::type_list<shortcut<L...>>> {
  using type = fusenet::detail::type_list<L...>;
};

template <class List>
struct names_of;
template <class... L>
struct names_of<fusenet::detail::type_list<L...>> {
  static std::string get() {
    std::string s;
    ((s += (s.empty() ? "" : ", ") + L::name()), ...);
    return s;
  }
};
}  // namespace detail

/// A residual block: y = block(x) + x, or block(x) + projection(x) with a trailing shortcut<...>.
/// Requires: the block's output shape equals its input shape (or the projection's output shape).
/// State-dict keys are "<i>.block.<j>.*" and "<i>.shortcut.<j>.*" (the Residual module in scripts/).
template <class... Layers>
struct residual {
  using block_list = typename fusenet::detail::filter<detail::is_block_layer, Layers...>::type;
  using shortcut_list =
      typename detail::shortcut_layers<typename fusenet::detail::filter<detail::is_shortcut, Layers...>::type>::type;
  using block_chain = typename fusenet::detail::chain_of<block_list>::type;
  using shortcut_chain = typename fusenet::detail::chain_of<shortcut_list>::type;
  static_assert(fusenet::detail::filter<detail::is_shortcut, Layers...>::type::size <= 1,
                "fusenet: residual<...>: at most one shortcut<...>");
  static_assert(block_list::size >= 1, "fusenet: residual<...>: the block needs at least one layer");

  static constexpr std::string_view kind = "residual";
  static constexpr bool shapes_agree(dims in) {
    return block_chain::output(in) == shortcut_chain::output(in);
  }
  static constexpr bool accepts(dims in) {
    return block_chain::accepts(in) && shortcut_chain::accepts(in) && shapes_agree(in);
  }
  static constexpr dims output(dims in) { return block_chain::output(in); }

  /// Whether the block and the shortcut accept the input; their own layers' checks report it otherwise.
  static constexpr bool inner_accepts(dims in) { return block_chain::accepts(in) && shortcut_chain::accepts(in); }
  /// The block's and the shortcut's output for the note of residual_check (the input itself where a layer inside
  /// rejected it, so that only that layer's error shows).
  static constexpr dims block_output(dims in) { return inner_accepts(in) ? block_chain::output(in) : in; }
  static constexpr dims shortcut_output(dims in) { return inner_accepts(in) ? shortcut_chain::output(in) : in; }

  template <class In, class Before>
  using check = detail::residual_check<residual, In, typename detail::residual_outputs<residual, In>::block_shape,
                                       typename detail::residual_outputs<residual, In>::shortcut_shape>;
  /// Runs the diagnostics of the layers inside the block and the shortcut (indices count from 0 in each).
  template <class In>
  static void check_inner() {
    using block_facts = fusenet::detail::chain_facts<block_chain, In::value>;
    using shortcut_facts = fusenet::detail::chain_facts<shortcut_chain, In::value>;
    fusenet::detail::chain_checks<block_facts, block_list>::run();
    fusenet::detail::chain_checks<shortcut_facts, shortcut_list>::run();
  }

  static constexpr std::size_t tensor_count = 0;
  static constexpr std::array<tensor_spec, 0> tensors(dims) { return {}; }
  static constexpr std::size_t param_count(dims in) {
    return block_chain::param_count(in) + shortcut_chain::param_count(in);
  }
  static constexpr std::size_t mac_count(dims in) { return block_chain::mac_count(in) + shortcut_chain::mac_count(in); }
  static constexpr std::size_t activation_floats(dims in) {
    return block_chain::activation_floats(in) + shortcut_chain::activation_floats(in) + output(in).size();
  }
  static std::string name() {
    std::string s = "residual<" + detail::names_of<block_list>::get();
    if constexpr (shortcut_list::size > 0) s += ", shortcut<" + detail::names_of<shortcut_list>::get() + ">";
    return s + ">";
  }
};

}  // namespace fusenet::layers
