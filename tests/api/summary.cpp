// SPDX-License-Identifier: MIT
// summary<Net>() stays within 100 columns when residual blocks make layer names long and prints options as written
// (rate<0.2>, eps<1, 100000>). The table itself is made in summary_table.cpp, at -O3 with -Wrestrict on.
#include <doctest/doctest.h>

#include <fusenet/network.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "api/summary_nets.hpp"

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {
using namespace summary_test;

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// Joins a wrapped name back: continuation lines lose their indent, and a line ending in "," gets its space back.
std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string l = i == 0 ? lines[i] : lines[i].substr(2);
    if (!s.empty() && s.back() == ',') s += ' ';
    s += l;
  }
  return s;
}
}  // namespace

TEST_CASE("summary of a ResNet: every line within 100 columns, no trailing blanks, every layer shown") {
  const std::string table = summary_test::resnet_table();
  const auto lines = lines_of(table);
  REQUIRE(lines.size() > 20);
  for (const auto& l : lines) {
    CAPTURE(l);
    CHECK(fn::detail::display_width(l) <= 100);
    CHECK((l.empty() || l.back() != ' '));
  }
  // The down block's name wraps, and its pieces are all there, in order.
  const std::string down = basic_block_down<32>::name();
  const auto wrapped = fn::detail::wrap_name(down, fn::detail::summary_name_width);
  CHECK(wrapped.size() > 1);
  CHECK(joined(wrapped) == down);
  for (std::size_t i = 1; i < wrapped.size(); ++i) CHECK(wrapped[i].rfind("  ", 0) == 0);
  CHECK(table.find("7    residual<conv2d<64, 3, stride<2>, padding<1>,") != std::string::npos);
  CHECK(table.find("shortcut<conv2d<64, 1, stride<2>") != std::string::npos);
  CHECK(table.find("dropout_with<rate<1, 5>>") != std::string::npos);
  static_assert(fn::param_count<resnet> == 78042);
  // Thousands separators.
  CHECK(table.find("total params: 78,042\n") != std::string::npos);
  CHECK(table.find("         4,672      4,718,592\n") != std::string::npos);
  CHECK(table.find("    global_avg_pool") != std::string::npos);
  CHECK(table.find("0              0\n") != std::string::npos);
}

TEST_CASE("a short name is not wrapped; a name without commas stays whole") {
  CHECK(fn::detail::wrap_name("conv2d<16, 3, padding<1>>", 50) ==
        std::vector<std::string>{"conv2d<16, 3, padding<1>>"});
  const std::string long_token(70, 'a');
  CHECK(fn::detail::wrap_name(long_token, 50) == std::vector<std::string>{long_token});
}

TEST_CASE("real-valued options print as written") {
  CHECK(eps<1, 100000>::text() == "eps<1, 100000>");
  CHECK(momentum<1, 10>::text() == "momentum<1, 10>");
  CHECK(momentum<1>::text() == "momentum<1>");
  CHECK(slope<-1, 5>::text() == "slope<-1, 5>");
  CHECK(batch_norm_with<eps<1, 1000>, momentum<1, 100>>::name() == "batch_norm_with<eps<1, 1000>, momentum<1, 100>>");
  CHECK(dropout_with<rate<1, 5>>::name() == "dropout_with<rate<1, 5>>");
#if __cpp_nontype_template_args >= 201911L  // GCC: double template arguments (clang 14 has none)
  CHECK(rate<0.2>::text() == "rate<0.2>");
  CHECK(eps<1e-5>::text() == "eps<1e-5>");
  CHECK(momentum<0.01>::text() == "momentum<0.01>");
  CHECK(slope<0.2>::text() == "slope<0.2>");
  CHECK(eps<2.5e+10>::text() == "eps<2.5e+10>");
  CHECK(dropout_with<rate<0.2>>::name() == "dropout_with<rate<0.2>>");
#endif
}
