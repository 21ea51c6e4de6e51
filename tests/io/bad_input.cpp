// SPDX-License-Identifier: MIT
// User-facing bad input not covered elsewhere: NaN/Inf weights, bytes after the data buffer, another network's
// weights into model<Net, mode::infer>, and a dataset path that is missing or not a directory.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <fusenet/data/fashion_mnist.hpp>
#include <fusenet/fusenet.hpp>
#include <fusenet/io/model_io.hpp>
#include <fusenet/io/safetensors.hpp>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/scratch.hpp"
#include "io/throws.hpp"

namespace fs = std::filesystem;
namespace fn = fusenet;
using fn::test::check_mentions;
using fn::test::message_of;

namespace {

namespace nets {
using namespace fusenet::layers;
/// Small, but with every kind of stored tensor: conv weight/bias, BN weight/bias/running stats/counter, dense.
using small_net = fn::sequential<input<2, 5, 5>, conv2d<3, 3>, batch_norm, relu, flatten, dense<4>>;
/// The same keys as small_net with other shapes (conv2d<5, 3>: 0.weight is 5×2×3×3).
using wider_net = fn::sequential<input<2, 5, 5>, conv2d<5, 3>, batch_norm, relu, flatten, dense<4>>;
/// Other keys: no batch_norm, so "1.*" is missing and the dense layer is "3.*".
using plain_net = fn::sequential<input<2, 5, 5>, conv2d<3, 3>, relu, flatten, dense<4>>;
}  // namespace nets
using nets::plain_net;
using nets::small_net;
using nets::wider_net;

using fusenet::test::put;
using fusenet::test::scratch_dir;
using fusenet::test::slurp;

/// Every stored float of a model, in state_dict order, to check that a failed load changed nothing.
template <class Model>
std::vector<float> values_of(Model& m) {
  std::vector<float> v;
  for (const auto& t : m.tensors())
    if (t.value != nullptr) v.insert(v.end(), t.value, t.value + t.spec.size());
  return v;
}

/// Replaces one float of an F32 entry.
void poke(fn::io::tensor_entry& e, std::size_t index, float value) {
  REQUIRE(e.dtype == "F32");
  REQUIRE((index + 1) * sizeof(float) <= e.bytes.size());
  std::memcpy(e.bytes.data() + index * sizeof(float), &value, sizeof value);
}

}  // namespace

TEST_CASE("NaN/Inf weights load as PyTorch loads them; find_non_finite and check_finite name tensor and element") {
  scratch_dir tmp;
  fn::model<small_net, fn::mode::train> source{7};
  const auto good = tmp / "good.safetensors";
  fn::save(source, good);
  auto file = fn::io::read_safetensors(good);

  fn::model<small_net, fn::mode::train> m{8};
  SUBCASE("finite weights: nothing found, nothing thrown (control)") {
    fn::load(m, good);
    CHECK_FALSE(fn::find_non_finite(m).has_value());
    CHECK_NOTHROW(fn::check_finite(m));
  }
  SUBCASE("NaN in a conv weight, -Inf in a running variance: the first in state_dict order is named") {
    // 0.weight is 3×2×3×3; element 29 = 1·18 + 1·9 + 0·3 + 2 is [1, 1, 0, 2].
    poke(file.tensors.at("0.weight"), 29, std::numeric_limits<float>::quiet_NaN());
    poke(file.tensors.at("1.running_var"), 2, -std::numeric_limits<float>::infinity());
    const auto path = tmp / "nan.safetensors";
    fn::io::write_safetensors(path, file);
    fn::load(m, path);  // no validation of values on load, as torch's load_state_dict
    const auto found = fn::find_non_finite(m);
    REQUIRE(found.has_value());
    CHECK(*found == "tensor '0.weight' element 29 [1, 1, 0, 2] is nan");
    check_mentions(message_of<std::domain_error>([&] { fn::check_finite(m); }),
                   {"'0.weight'", "element 29", "[1, 1, 0, 2]", "nan"});

    // With the weight repaired, the running variance is next.
    poke(file.tensors.at("0.weight"), 29, 0.5f);
    fn::io::write_safetensors(path, file);
    fn::load(m, path);
    CHECK(fn::find_non_finite(m) == "tensor '1.running_var' element 2 [2] is -inf");
  }
  SUBCASE("+Inf in the last tensor (the dense bias) is found too") {
    poke(file.tensors.at("4.bias"), 3, std::numeric_limits<float>::infinity());
    const auto path = tmp / "inf.safetensors";
    fn::io::write_safetensors(path, file);
    fn::load(m, path);
    CHECK(fn::find_non_finite(m) == "tensor '4.bias' element 3 [3] is inf");
  }
}

TEST_CASE("bytes after the data buffer or between tensors: rejected, as the reference implementation does") {
  // Decision: an error. huggingface/safetensors requires the tensors to tile the data buffer exactly
  // (MetadataIncompleteBuffer / InvalidOffset), so such a file would not load in PyTorch either; extra bytes
  // usually mean two files concatenated or a botched edit, and accepting them would hide that.
  scratch_dir tmp;
  fn::model<small_net, fn::mode::train> source{7};
  const auto good = tmp / "good.safetensors";
  fn::save(source, good);
  const auto bytes = slurp(good);
  fn::model<small_net, fn::mode::train> m{8};
  const auto before = values_of(m);

  SUBCASE("the saved file itself loads (control)") {
    fn::load(m, good);
    CHECK(values_of(m) == values_of(source));
  }
  SUBCASE("trailing garbage") {
    const auto path = tmp / "trailing.safetensors";
    put(path, bytes + "garbage");
    std::uint64_t header_len = 0;  // little-endian u64 at the start
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
    const auto tensor_bytes = bytes.size() - 8 - header_len;
    check_mentions(message_of<fn::file_error>([&] { fn::io::read_safetensors(path); }),
                   {path, "7 trailing bytes", "data buffer is " + std::to_string(tensor_bytes + 7) + " bytes",
                    "tensors end at " + std::to_string(tensor_bytes)});
    check_mentions(message_of<fn::file_error>([&] { fn::load(m, path); }), {path, "trailing bytes"});
    CHECK(values_of(m) == before);
  }
  SUBCASE("the same file twice, concatenated") {
    const auto path = tmp / "twice.safetensors";
    put(path, bytes + bytes);
    check_mentions(message_of<fn::file_error>([&] { fn::load(m, path); }),
                   {path, std::to_string(bytes.size()) + " trailing bytes"});
    CHECK(values_of(m) == before);
  }
  SUBCASE("a gap between two tensors") {
    // Hand-framed: 'a' holds bytes [0, 4), 'b' [8, 12); bytes [4, 8) belong to nobody.
    const std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                               R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
    std::string framed(8, '\0');
    for (std::size_t i = 0; i < 8; ++i) framed[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
    const auto path = tmp / "gap.safetensors";
    put(path, framed + header + std::string(12, '\0'));
    check_mentions(message_of<fn::file_error>([&] { fn::io::read_safetensors(path); }),
                   {path, "[4, 8]", "no tensor", "'b'"});
  }
}

TEST_CASE("another network's weights into model<Net, mode::infer>: weights_mismatch naming the file and the keys") {
  scratch_dir tmp;
  SUBCASE("different keys (a network without batch_norm)") {
    fn::model<plain_net, fn::mode::train> other{3};
    const auto path = tmp / "plain.safetensors";
    fn::save(other, path);
    check_mentions(message_of<fn::weights_mismatch>([&] { fn::model<small_net, fn::mode::infer>{path}; }),
                   {path, "missing", "'1.running_mean'", "'1.num_batches_tracked'", "'4.weight'", "unexpected",
                    "'3.weight'", "'3.bias'"});
    check_mentions(message_of<fn::weights_mismatch>([&] { fn::model<small_net, fn::mode::infer>::from_file(path); }),
                   {path, "'4.weight'", "'3.weight'"});
  }
  SUBCASE("same keys, other shapes (5 conv channels instead of 3)") {
    fn::model<wider_net, fn::mode::train> other{3};
    const auto path = tmp / "wider.safetensors";
    fn::save(other, path);
    check_mentions(message_of<fn::weights_mismatch>([&] { fn::model<small_net, fn::mode::infer>{path}; }),
                   {path, "'0.weight'", "[5, 2, 3, 3]", "expected [3, 2, 3, 3]"});
  }
  SUBCASE("the right network loads (control)") {
    fn::model<small_net, fn::mode::train> same{3};
    const auto path = tmp / "same.safetensors";
    fn::save(same, path);
    fn::model<small_net, fn::mode::infer> infer{path};
    const auto x = xt::xtensor<float, 4>(xt::ones<float>({1, 2, 5, 5}));
    CHECK(infer.forward(x).shape()[1] == 4);
  }
}

TEST_CASE("a Fashion-MNIST path that is missing or not a directory: file_error naming the path") {
  scratch_dir tmp;
  SUBCASE("FUSENET_DATA pointing nowhere: the one-argument loader names that directory") {
    const char* old = std::getenv("FUSENET_DATA");
    const std::string saved = old ? old : "";
    const auto nowhere = tmp / "no_such_data";
    ::setenv("FUSENET_DATA", nowhere.c_str(), 1);
    const auto msg = message_of<fn::file_error>([&] { fn::data::load_fashion_mnist(fn::data::split::train); });
    if (old) ::setenv("FUSENET_DATA", saved.c_str(), 1);
    else ::unsetenv("FUSENET_DATA");
    check_mentions(msg, {nowhere, "FUSENET_DATA"});
  }
  SUBCASE("a regular file given as the directory (e.g. one of the .gz files)") {
    const auto file = tmp / "train-images-idx3-ubyte.gz";
    put(file, "not a directory");
    check_mentions(message_of<fn::file_error>([&] { fn::data::load_fashion_mnist(file, fn::data::split::test); }),
                   {file, "is not a directory", "FUSENET_DATA"});
  }
  SUBCASE("an empty directory: the first missing file is named with its directory") {
    const auto dir = tmp / "empty";
    fs::create_directories(dir);
    check_mentions(message_of<fn::file_error>([&] { fn::data::load_fashion_mnist(dir, fn::data::split::train); }),
                   {dir + "/train-images-idx3-ubyte.gz", "does not exist"});
  }
}
