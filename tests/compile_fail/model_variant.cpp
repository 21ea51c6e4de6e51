// SPDX-License-Identifier: MIT
// The model variant of every compile_fail case: compiled with `-include CASE.cpp`, it builds both models of the
// case's `net`, as a user does. The case's error must still be the first and only one (check_diagnostic.py).
#include <fusenet/model.hpp>

namespace {
[[maybe_unused]] void use_both_models() {
  fusenet::model<net, fusenet::mode::train> trained{/*seed=*/1};
  fusenet::model<net, fusenet::mode::infer> deployed{trained};
}
}  // namespace
