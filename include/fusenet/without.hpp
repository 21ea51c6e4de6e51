// SPDX-License-Identifier: MIT
// without_t<Net, Kind>: the network with every layer of one kind removed, inside residual blocks and shortcuts too.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>
#include <type_traits>
#include <utility>

#include "fusenet/detail/type_list.hpp"
#include "fusenet/layers/activation.hpp"
#include "fusenet/layers/batch_norm.hpp"
#include "fusenet/layers/conv2d.hpp"
#include "fusenet/layers/dense.hpp"
#include "fusenet/layers/options.hpp"
#include "fusenet/layers/residual.hpp"
#include "fusenet/sequential.hpp"

namespace fusenet {

/// Layer is of the same kind as Kind (same `kind` name: batch_norm_with<eps<1e-3>> is a batch_norm, and every
/// conv2d<...> is a conv2d); false for anything that is not a layer, such as shortcut<...> or input<...>.
template <class Layer, class Kind>
concept same_layer_kind = layer_kind<Layer> && layer_kind<Kind> &&(Layer::kind == Kind::kind);

namespace detail {

/// Always true; naming it odr-uses Diagnose, whose body (static_asserts) the compiler then instantiates. The
/// checks live in a function rather than in the class that computes the type: clang 14 marks a class whose
/// static_assert failed as invalid, and every use of its ::type would add an error (STYLE.md §4.4).
/// (Calling it rather than comparing its address with nullptr: under -fsanitize=undefined GCC 12 does not treat
/// that comparison as a constant expression.)
template <void (*Diagnose)()>
inline constexpr bool raise = (Diagnose(), true);

template <class Removed, class Layer>
struct without_layer;
template <class Removed, class... Layers>
struct without_list;

/// Removing batch_norm takes away what made a conv's or dense's bias redundant (BN subtracts the batch mean),
/// so a bias<false> layer right before a removed batch_norm gets bias<true> in the twin, as torch.nn.Conv2d's
/// default would be without the BN.
template <class Option>
struct not_bias_option
    : std::bool_constant<!std::is_same_v<layers::detail::kind_of<Option>, layers::option_kind::bias>> {};
template <class Layer>
struct with_bias {
  using type = Layer;
};
template <std::size_t Out, std::size_t K, class... Options>
struct with_bias<layers::conv2d<Out, K, Options...>> {
  template <class List>
  struct rebuild;
  template <class... Kept>
  struct rebuild<type_list<Kept...>> {
    using type = layers::conv2d<Out, K, Kept...>;
  };
  using type = typename rebuild<typename filter<not_bias_option, Options...>::type>::type;
};
template <std::size_t Out, class... Options>
struct with_bias<layers::dense<Out, Options...>> {
  template <class List>
  struct rebuild;
  template <class... Kept>
  struct rebuild<type_list<Kept...>> {
    using type = layers::dense<Out, Kept...>;
  };
  using type = typename rebuild<typename filter<not_bias_option, Options...>::type>::type;
};
template <std::size_t In, std::size_t Out, class... Options>
struct with_bias<layers::linear<In, Out, Options...>> {
  template <class List>
  struct rebuild;
  template <class... Kept>
  struct rebuild<type_list<Kept...>> {
    using type = layers::linear<In, Out, Kept...>;
  };
  using type = typename rebuild<typename filter<not_bias_option, Options...>::type>::type;
};

template <class Layer, class Removed>
inline constexpr bool removed_v = same_layer_kind<Layer, Removed>;

/// A layer that is not a residual block and not removed stays as it is.
template <class Removed, class Layer>
struct without_layer {
  using type = Layer;
};

template <class List>
struct as_residual;
template <class... L>
struct as_residual<type_list<L...>> {
  using type = layers::residual<L...>;
};
/// The rewritten block, or (Ok false, after the error below) a placeholder that keeps the rest quiet.
template <bool Ok, class Block, class Shortcut>
struct residual_of {
  using type = layers::residual<layers::identity>;
};
template <class Block, class Shortcut>
struct residual_of<true, Block, Shortcut> {
  using type = typename as_residual<typename concat<Block, Shortcut>::type>::type;
};
template <class List>
struct as_shortcut;
template <class... L>
struct as_shortcut<type_list<L...>> {
  using type = type_list<layers::shortcut<L...>>;
};
template <>
struct as_shortcut<type_list<>> {
  using type = type_list<>;  // a projection with every layer removed is the identity shortcut
};

template <class Removed, class List>
struct without_of;
template <class Removed, class... L>
struct without_of<Removed, type_list<L...>> {
  using type = typename without_list<Removed, L...>::type;
};

/// residual<block..., shortcut<projection...>>: the transform applies to the block and to the projection.
template <class Removed, class... Layers>
struct without_layer<Removed, layers::residual<Layers...>> {
  using original = layers::residual<Layers...>;
  using block = typename without_of<Removed, typename original::block_list>::type;
  using projection = typename without_of<Removed, typename original::shortcut_list>::type;
  static constexpr void diagnose() {
    static_assert(block::size > 0,
                  "fusenet: without_t<Net, Layer>: every layer of a residual block's main path is of the removed "
                  "kind, so the block would be empty; keep one layer in it");
  }
  using type =
      typename residual_of<(block::size > 0) && raise<&diagnose>, block, typename as_shortcut<projection>::type>::type;
};

/// The layers of a list without those of kind Removed, each kept one rewritten (residual blocks, biases).
/// Built from a table of kept indices (a constexpr loop) and type_at, so neither recursion nor a fold runs over
/// the list's length (STYLE.md §1.1, DESIGN.md: clang 14 rejects folds over more than 256 elements).
template <class Removed, class... Layers>
struct without_list {
  static constexpr std::size_t n = sizeof...(Layers);
  // A trailing dummy entry, so that an empty pack still gives an array.
  static constexpr bool removed[n + 1] = {removed_v<Layers, Removed>..., false};
  static constexpr std::size_t kept_count = [] {
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i) k += removed[i] ? 0 : 1;
    return k;
  }();
  static constexpr std::array<std::size_t, kept_count> kept = [] {
    std::array<std::size_t, kept_count> a{};
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (!removed[i]) a[k++] = i;
    return a;
  }();
  static constexpr bool removes_batch_norm = Removed::kind == layers::batch_norm::kind;
  /// Layer i loses the batch_norm that followed it.
  static constexpr bool loses_batch_norm(std::size_t i) { return removes_batch_norm && i + 1 < n && removed[i + 1]; }

  template <std::size_t I>
  using rewritten = typename without_layer<Removed, type_at_t<I, type_list<Layers...>>>::type;
  template <std::size_t I>
  using kept_layer = std::conditional_t<loses_batch_norm(I), typename with_bias<rewritten<I>>::type, rewritten<I>>;

  template <std::size_t... K>
  static type_list<kept_layer<kept[K]>...> build(std::index_sequence<K...>);
  using type = decltype(build(std::make_index_sequence<kept_count>{}));
};

/// The twin network, or (Ok false, after the error in without) a placeholder that keeps the rest quiet.
template <bool Ok, class Input, class List>
struct sequential_of {
  using type = sequential<Input, layers::identity>;
};
template <class Input, class... L>
struct sequential_of<true, Input, type_list<L...>> {
  using type = sequential<Input, L...>;
};
template <bool IsKind, class Kind, class... Layers>
struct checked_without_list {
  using type = type_list<Layers...>;
};
template <class Kind, class... Layers>
struct checked_without_list<true, Kind, Layers...> {
  using type = typename without_list<Kind, Layers...>::type;
};

template <class Net, class Kind>
struct without {
  static constexpr void diagnose() {
    static_assert(!std::is_same_v<Net, Net>,
                  "fusenet: without_t<Net, Layer>: Net must be a network, sequential<input<...>, layers...>");
  }
  using type = std::conditional_t<raise<&diagnose>, sequential<layers::input<1>, layers::identity>, void>;
};
template <class Kind, class Input, class... Layers>
struct without<sequential<Input, Layers...>, Kind> {
  using list = typename checked_without_list<layer_kind<Kind>, Kind, Layers...>::type;
  static constexpr void diagnose() {
    static_assert(layer_kind<Kind>,
                  "fusenet: without_t<Net, Layer>: Layer must be a layer kind, such as layers::batch_norm or "
                  "layers::dropout");
    static_assert(!layer_kind<Kind> || list::size > 0,
                  "fusenet: without_t<Net, Layer>: every layer of the network is of the removed kind, so no layer "
                  "would be left after input; keep at least one");
  }
  using type = typename sequential_of<(list::size > 0) && raise<&diagnose>, Input, list>::type;
};

/// Number of layers of kind Kind in a list, counting those inside residual blocks and shortcuts.
template <class Kind, class Layer>
struct count_kind {
  static constexpr std::size_t value = removed_v<Layer, Kind> ? 1 : 0;
};
template <class Kind, class... L>
constexpr std::size_t count_kind_in(type_list<L...>) {
  std::size_t n = 0;
  for (std::size_t c : {std::size_t{0}, count_kind<Kind, L>::value...}) n += c;
  return n;
}
template <class Kind, class... Layers>
struct count_kind<Kind, layers::residual<Layers...>> {
  using r = layers::residual<Layers...>;
  static constexpr std::size_t value = (removed_v<r, Kind> ? 1 : 0) + count_kind_in<Kind>(typename r::block_list{}) +
                                       count_kind_in<Kind>(typename r::shortcut_list{});
};

}  // namespace detail

/// The network Net with every layer of Layer's kind removed, including inside residual blocks and their
/// shortcut projections: without_t<Net, layers::batch_norm> is Net's BatchNorm-free twin.
/// Ensures: a new sequential<same input, remaining layers...>, shape-checked like any network (a removal that
/// breaks the shapes, such as removing flatten before dense, is reported by the usual check of that layer);
/// a conv2d, dense or linear declared bias<false> right before a removed batch_norm gets its bias back; a shortcut
/// projection left empty becomes the identity shortcut.
/// Requires: Layer is a layer kind; at least one layer remains, in the network and in each residual block (else a
/// static_assert names the problem).
/// Example: examples/bn_ablation.cpp
template <class Net, class Layer>
using without_t = typename detail::without<Net, Layer>::type;

/// How many layers of Layer's kind Net holds, counting those inside residual blocks and shortcuts.
template <class Net, class Layer>
inline constexpr std::size_t count_layers_of_kind = detail::count_kind_in<Layer>(typename Net::layer_list{});

}  // namespace fusenet
