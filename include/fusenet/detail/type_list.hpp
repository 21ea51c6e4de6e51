// SPDX-License-Identifier: MIT
// A minimal type list for the layer packs of sequential<> and residual<>.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

namespace fusenet::detail {

/// A pack of types carried as one type.
template <class... T>
struct type_list {
  static constexpr std::size_t size = sizeof...(T);
};

template <class A, class B>
struct concat;
template <class... A, class... B>
struct concat<type_list<A...>, type_list<B...>> {
  using type = type_list<A..., B...>;
};

/// The types of a pack for which Pred<T>::value holds, in order (one pack expansion, no recursion).
template <template <class> class Pred, class... T>
struct filter {
  template <class U>
  using keep = std::conditional_t<Pred<U>::value, type_list<U>, type_list<>>;
  using type = decltype((type_list<>{} + ... + keep<T>{}));
};

template <class... A, class... B>
constexpr type_list<A..., B...> operator+(type_list<A...>, type_list<B...>) {
  return {};
}

template <std::size_t I, class T>
struct indexed {
  using type = T;
};
template <class Seq, class... T>
struct indexer;
template <std::size_t... I, class... T>
struct indexer<std::index_sequence<I...>, T...> : indexed<I, T>... {};
template <std::size_t I, class T>
indexed<I, T> select(indexed<I, T>);

/// The I-th type of a list, found by overload resolution (constant template depth, unlike std::tuple_element).
template <std::size_t I, class List>
struct type_at;
template <std::size_t I, class... T>
struct type_at<I, type_list<T...>> {
  using type = typename decltype(select<I>(indexer<std::index_sequence_for<T...>, T...>{}))::type;
};
template <std::size_t I, class List>
using type_at_t = typename type_at<I, List>::type;

}  // namespace fusenet::detail
