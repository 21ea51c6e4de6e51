// SPDX-License-Identifier: MIT
// A hash of a train model's network type and tensor names and shapes, compared
// between the processes of a data-parallel job at start-up so that processes
// holding different networks stop with an error, not a hang.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <typeinfo>

namespace fusenet::dist {

namespace detail {
inline void fnv1a(std::uint64_t &h, const void *p, std::size_t n) {
  const auto *b = static_cast<const unsigned char *>(p);
  for (std::size_t i = 0; i < n; ++i)
    h = (h ^ b[i]) * 1099511628211ull;
}
} // namespace detail

/// FNV-1a of the network's type name (as this compiler spells it) and of every
/// tensor's name and shape in state_dict order.
template <class Model> std::uint64_t network_hash(const Model &m) {
  std::uint64_t h = 14695981039346656037ull;
  const std::string_view type = typeid(typename Model::network).name();
  detail::fnv1a(h, type.data(), type.size());
  for (const auto &t : m.tensors()) {
    detail::fnv1a(h, t.name.data(), t.name.size());
    const std::size_t size = t.spec.size();
    detail::fnv1a(h, &size, sizeof size);
  }
  return h;
}

} // namespace fusenet::dist
