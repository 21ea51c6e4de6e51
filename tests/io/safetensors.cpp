// SPDX-License-Identifier: MIT
// safetensors: round trip, a file in the reference layout made from a torch state dict, and every corruption case.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <fusenet/io/npy.hpp>
#include <fusenet/io/safetensors.hpp>
#include <iterator>
#include <string>
#include <vector>

#include "io/scratch.hpp"
#include "io/throws.hpp"

namespace fs = std::filesystem;
using fusenet::file_error;
using fusenet::weights_mismatch;
using fusenet::test::check_mentions;
using fusenet::test::message_of;
namespace io = fusenet::io;

namespace {

using fusenet::test::put;
using fusenet::test::scratch_dir;
using fusenet::test::slurp;

// A safetensors file from a header text and a data buffer, framed by hand (independent of write_safetensors).
std::string framed(const std::string& header, const std::string& data, std::uint64_t claimed_len) {
  std::string out(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<char>((claimed_len >> (8 * i)) & 0xff);
  return out + header + data;
}
std::string framed(const std::string& header, const std::string& data) {
  return framed(header, data, header.size());
}

std::uint64_t header_length(const std::string& bytes) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  return n;
}

}  // namespace

TEST_CASE("round trip keeps names, dtypes, shapes, bytes and metadata; header padded to 8") {
  scratch_dir tmp;
  const std::vector<float> w{1.5f, -2.25f, 3.0f, 0.0f, -0.0f, 1e-30f};
  io::safetensors_file f;
  f.tensors["0.weight"] = io::make_f32({2, 3}, w.data());
  f.tensors["1.num_batches_tracked"] = io::make_i64_scalar(-123456789012345);
  f.tensors["a.u8"] = io::tensor_entry{"U8", {3}, {'\x00', '\x7f', '\xff'}};
  f.tensors["empty"] = io::make_f32({0, 4}, nullptr);
  f.metadata["format"] = "pt";
  f.metadata["note"] = "quotes \" and unicode \xc3\xa9";
  const auto path = tmp / "rt.safetensors";
  io::write_safetensors(path, f);

  CHECK_FALSE(fs::exists(path + ".tmp"));
  const auto bytes = slurp(path);
  const auto n = header_length(bytes);
  CHECK(n % 8 == 0);
  CHECK(bytes.size() == 8 + n + 6 * 4 + 8 + 3);
  // Data of sorted keys follows one another from offset 0, in key order.
  CHECK(bytes.substr(8 + n, 24) == std::string(reinterpret_cast<const char*>(w.data()), 24));

  const auto g = io::read_safetensors(path);
  REQUIRE(g.tensors.size() == f.tensors.size());
  for (const auto& entry : f.tensors) {  // not [key, t]: clang 14 cannot capture bindings (CAPTURE is a lambda)
    const auto& [key, t] = entry;
    CAPTURE(entry.first);
    REQUIRE(g.tensors.count(key) == 1);
    const auto& u = g.tensors.at(key);
    CHECK(u.dtype == t.dtype);
    CHECK(u.shape == t.shape);
    CHECK(u.bytes == t.bytes);
  }
  CHECK(g.metadata == f.metadata);
  CHECK(io::read_i64_scalar(g.tensors.at("1.num_batches_tracked"), "k") == -123456789012345);
  std::array<float, 6> back{};
  const std::array<std::size_t, 2> shape{2, 3};
  io::copy_f32(g.tensors.at("0.weight"), shape, back.data(), "0.weight");
  CHECK(std::memcmp(back.data(), w.data(), sizeof back) == 0);

  // Overwriting an existing file, with a stale .tmp left by an earlier interrupted save, works.
  put(path + ".tmp", "garbage from a crash");
  f.tensors.erase("empty");
  io::write_safetensors(path, f);
  CHECK(io::read_safetensors(path).tensors.size() == 3);
  CHECK_FALSE(fs::exists(path + ".tmp"));
}

TEST_CASE("a file in the reference layout from a torch state dict reads back with numpy's values") {
  const std::string dir = FUSENET_IO_FIXTURE_DIR;
  const auto f = io::read_safetensors(dir + "/torch_state.safetensors");
  CHECK(f.metadata.at("format") == "pt");
  const std::map<std::string, std::string> npy_dtype{
      {"F32", "<f4"}, {"F64", "<f8"}, {"I64", "<i8"}, {"I32", "<i4"}, {"U8", "|u1"}};
  const std::vector<std::string> keys{"0.weight",       "0.bias",          "1.weight",  "1.bias",
                                      "1.running_mean", "1.running_var",   "4.weight",  "4.bias",
                                      "extra.f64",      "extra.i32",       "extra.u8",  "1.num_batches_tracked"};
  CHECK(f.tensors.size() == keys.size());
  for (const auto& key : keys) {
    CAPTURE(key);
    REQUIRE(f.tensors.count(key) == 1);
    const auto& t = f.tensors.at(key);
    const auto expected = io::read_npy(dir + "/" + key + ".npy");
    CHECK(npy_dtype.at(t.dtype) == expected.dtype);
    CHECK(t.shape == expected.shape);
    CHECK(t.bytes == expected.bytes);
  }
  CHECK(f.tensors.at("1.num_batches_tracked").shape.empty());  // torch stores it as a 0-d tensor

  const auto w = io::load_npy<float>(dir + "/0.weight.npy");
  std::vector<float> out(w.size());
  const std::array<std::size_t, 4> shape{2, 1, 3, 3};
  io::copy_f32(f.tensors.at("0.weight"), shape, out.data(), "0.weight");
  for (std::size_t i = 0; i < out.size(); ++i) CHECK(out[i] == w.data()[i]);
  const auto nbt = io::load_npy<std::int64_t>(dir + "/1.num_batches_tracked.npy");
  CHECK(io::read_i64_scalar(f.tensors.at("1.num_batches_tracked"), "nbt") == nbt());
}

TEST_CASE("corrupt files: an exception naming the file and what is wrong") {
  scratch_dir tmp;
  const std::string good_header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                  R"("b":{"dtype":"I64","shape":[],"data_offsets":[8,16]}})";
  const std::string data(16, '\x01');
  const auto path = tmp / "bad.safetensors";
  auto read_error = [&](const std::string& bytes) {
    put(path, bytes);
    return message_of<file_error>([&] { io::read_safetensors(path); });
  };

  SUBCASE("the hand-framed good file is accepted (control)") {
    put(path, framed(good_header, data));
    CHECK(io::read_safetensors(path).tensors.size() == 2);
  }
  SUBCASE("missing file") {
    const auto missing = tmp / "nope.safetensors";
    check_mentions(message_of<file_error>([&] { io::read_safetensors(missing); }), {missing, "does not exist"});
  }
  SUBCASE("shorter than the 8-byte length") { check_mentions(read_error(std::string("\x10\x00\x00", 3)), {path, "3 bytes", "too short"}); }
  SUBCASE("truncated data: offsets of the last tensor now exceed the buffer") {
    const auto full = framed(good_header, data);
    check_mentions(read_error(full.substr(0, full.size() - 3)), {path, "'b'", "[8, 16]", "13 bytes"});
  }
  SUBCASE("header length larger than the file") {
    check_mentions(read_error(framed(good_header, data, 1000)),
                   {path, "header length 1000", std::to_string(good_header.size() + data.size())});
  }
  SUBCASE("absurd header length") {
    check_mentions(read_error(framed(good_header, data, ~std::uint64_t{0})), {path, "header length 18446744073709551615"});
  }
  SUBCASE("invalid JSON") {
    check_mentions(read_error(framed(R"({"a":{"dtype":"F32",)", data)), {path, "not valid JSON"});
  }
  SUBCASE("header not an object") { check_mentions(read_error(framed("[1,2]   ", data)), {path, "not a JSON object"}); }
  SUBCASE("data_offsets out of range") {
    check_mentions(read_error(framed(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}})", data)),
                   {path, "'a'", "[16, 24]", "16 bytes"});
  }
  SUBCASE("begin after end") {
    check_mentions(read_error(framed(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[8,4]}})", data)),
                   {path, "'a'", "[8, 4]", "begin > end"});
  }
  SUBCASE("overlapping offsets") {
    check_mentions(read_error(framed(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                     R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                     data)),
                   {path, "'a'", "'b'", "[0, 8]", "[4, 12]", "overlapping"});
  }
  SUBCASE("size does not match shape x dtype") {
    check_mentions(read_error(framed(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data)),
                   {path, "'a'", "8 bytes", "[3]", "F32", "needs 12"});
  }
  SUBCASE("shape whose byte size overflows") {
    check_mentions(read_error(framed(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
                                     data)),
                   {path, "'a'", "more than 2^64"});
  }
  SUBCASE("unknown dtype") {
    check_mentions(read_error(framed(R"({"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", data)),
                   {path, "'a'", "unknown dtype 'F33'"});
  }
  SUBCASE("negative dimension") {
    check_mentions(read_error(framed(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data)),
                   {path, "'a'", "shape", "-2"});
  }
  SUBCASE("missing field") {
    check_mentions(read_error(framed(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", data)),
                   {path, "'a'", "missing \"shape\""});
  }
  SUBCASE("duplicate key") {
    check_mentions(read_error(framed(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                     R"("a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                                     data)),
                   {path, "'a'", "more than once"});
  }
  SUBCASE("metadata value not a string") {
    check_mentions(read_error(framed(R"({"__metadata__":{"epoch":3}})", "")), {path, "'epoch'", "string"});
  }
}

TEST_CASE("write refuses an inconsistent entry and leaves the existing file untouched") {
  scratch_dir tmp;
  const auto path = tmp / "keep.safetensors";
  io::safetensors_file good;
  const float one = 1.0f;
  good.tensors["w"] = io::make_f32({1}, &one);
  io::write_safetensors(path, good);
  const auto before = slurp(path);

  io::safetensors_file bad = good;
  bad.tensors["w"].shape = {2};
  check_mentions(message_of<file_error>([&] { io::write_safetensors(path, bad); }), {path, "'w'", "4 bytes", "needs 8"});
  bad.tensors["w"] = io::tensor_entry{"Q8", {1}, {'\0'}};
  check_mentions(message_of<file_error>([&] { io::write_safetensors(path, bad); }), {path, "'w'", "unknown dtype 'Q8'"});
  CHECK(slurp(path) == before);
  CHECK_FALSE(fs::exists(path + ".tmp"));

  const auto nowhere = tmp / "no/such/dir/x.safetensors";
  check_mentions(message_of<file_error>([&] { io::write_safetensors(nowhere, good); }), {nowhere, "cannot create"});
}

TEST_CASE("copy_f32 and read_i64_scalar reject a wrong dtype or shape, naming the key") {
  const std::vector<float> v(6, 1.0f);
  const auto e = io::make_f32({2, 3}, v.data());
  std::vector<float> out(6);
  const std::array<std::size_t, 2> transposed{3, 2};
  check_mentions(message_of<weights_mismatch>([&] { io::copy_f32(e, transposed, out.data(), "3.weight"); }),
                 {"'3.weight'", "[2, 3]", "expected [3, 2]"});
  const std::array<std::size_t, 1> scalar{1};
  check_mentions(message_of<weights_mismatch>([&] { io::copy_f32(io::make_i64_scalar(3), scalar, out.data(), "k"); }),
                 {"'k'", "I64", "expected F32"});
  check_mentions(message_of<weights_mismatch>([&] { io::read_i64_scalar(e, "1.num_batches_tracked"); }),
                 {"'1.num_batches_tracked'", "F32", "expected I64"});
}

TEST_CASE("check_keys lists every missing and unexpected tensor name") {
  const auto f = io::read_safetensors(std::string(FUSENET_IO_FIXTURE_DIR) + "/torch_state.safetensors");
  std::vector<std::string> keys;
  for (const auto& [k, t] : f.tensors) keys.push_back(k);
  io::check_keys(f, keys, "state.safetensors");  // exactly the file's keys: no error
  keys.erase(std::find(keys.begin(), keys.end(), "extra.u8"));
  keys.erase(std::find(keys.begin(), keys.end(), "extra.i32"));
  keys.push_back("7.weight");
  check_mentions(message_of<weights_mismatch>([&] { io::check_keys(f, keys, "state.safetensors"); }),
                 {"state.safetensors", "missing '7.weight'", "unexpected 'extra.i32', 'extra.u8'"});
}
