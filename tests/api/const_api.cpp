// SPDX-License-Identifier: MIT
// save, find_non_finite and check_finite read a const model; what they accept is a concept (state_dict_model).
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fusenet/fusenet.hpp>
#include <string>

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {
using net = fn::sequential<input<4>, dense<3>, batch_norm, relu, dense<2>>;
using trainer = fn::model<net, fn::mode::train>;
using deployed = fn::model<net, fn::mode::infer>;
}  // namespace

static_assert(fn::any_model<trainer> && fn::any_model<const deployed&>);
static_assert(fn::state_dict_model<trainer> && fn::state_dict_model<const trainer>);
static_assert(!fn::state_dict_model<deployed>, "an inference model has no state_dict (folded weights)");
static_assert(!fn::state_dict_model<int> && !fn::any_model<net>);
static_assert(std::is_same_v<decltype(std::declval<trainer&>().tensors())::value_type, fn::tensor_ref>);
static_assert(std::is_same_v<decltype(std::declval<const trainer&>().tensors())::value_type, fn::const_tensor_ref>);
static_assert(std::is_constructible_v<deployed, const trainer&>);

TEST_CASE("a const trainer saves, is checked and freezes; the file reloads into both models") {
  trainer m{11};
  const trainer& c = m;
  const std::string path = (std::filesystem::temp_directory_path() / "fusenet_const_api.safetensors").string();
  fn::save(c, path);
  CHECK_FALSE(fn::find_non_finite(c).has_value());
  CHECK_NOTHROW(fn::check_finite(c));

  trainer reloaded{0};
  fn::load(reloaded, path);
  const auto a = c.tensors();
  const auto b = reloaded.tensors();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].name == b[i].name);
    if (a[i].value != nullptr)
      for (std::size_t k = 0; k < a[i].spec.size(); ++k) CHECK(a[i].value[k] == b[i].value[k]);
  }

  const xt::xtensor<float, 2> x = {{0.5f, -1.0f, 2.0f, 0.0f}, {1.0f, 1.0f, -1.0f, 3.0f}};
  deployed from_model{c};
  deployed from_file{path};
  CHECK(from_model.forward(x) == from_file.forward(x));
  std::remove(path.c_str());
}
