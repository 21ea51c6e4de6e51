// SPDX-License-Identifier: MIT
// summary<resnet>() as a consumer calls it, in a TU of its own that meson.build compiles with -Wrestrict on top of
// the project's GCC 12 -Wno-restrict: detail::with_thousands used std::string::insert, whose false -Wrestrict
// (GCC PR 105329) failed a consumer's -O3 -Wall -Werror build. In the doctest TU GCC inlined it differently and
// did not warn even with the old header; here it did.
#include <fusenet/summary.hpp>

#include "api/summary_nets.hpp"

std::string summary_test::resnet_table() { return fusenet::summary<resnet>(); }
