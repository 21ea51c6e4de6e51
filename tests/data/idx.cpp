// SPDX-License-Identifier: MIT
// IDX reading: raw and gzipped round trips written here with zlib, ToTensor scaling, every error case.
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <fusenet/data/idx.hpp>
#include <fusenet/io/npy.hpp>
#include <string>
#include <vector>

#include "data/idx_bytes.hpp"
#include "io/scratch.hpp"
#include "io/throws.hpp"

namespace fs = std::filesystem;
namespace data = fusenet::data;
using fusenet::file_error;
using fusenet::test::check_mentions;
using fusenet::test::message_of;

namespace {

using fusenet::test::be32;
using fusenet::test::scratch_dir;
using fusenet::test::slurp;

std::string idx_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols, const std::vector<std::uint8_t>& px) {
  return be32(0x803) + be32(n) + be32(rows) + be32(cols) + std::string(px.begin(), px.end());
}
std::string idx_labels(const std::vector<std::uint8_t>& labels) {
  return be32(0x801) + be32(static_cast<std::uint32_t>(labels.size())) + std::string(labels.begin(), labels.end());
}

void put_raw(const std::string& path, const std::string& bytes) { fusenet::test::put(path, bytes); }
void put_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

std::vector<std::uint8_t> pattern(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(((i + 1) * 2654435761u) >> 13);  // hardly compressible
  v[0] = 0;
  v[n - 1] = 255;
  return v;
}

}  // namespace

TEST_CASE("images and labels round trip, raw and gzipped; pixels scaled exactly as torchvision's ToTensor") {
  scratch_dir tmp;
  const auto to_tensor = fusenet::io::load_npy<float>(std::string(FUSENET_DATA_FIXTURE_DIR) + "/to_tensor_256.npy");
  REQUIRE(to_tensor.size() == 256);
  const std::uint32_t n = 3, rows = 2, cols = 5;
  const auto px = pattern(n * rows * cols);
  const std::vector<std::uint8_t> lab{9, 0, 4};
  for (bool gz : {false, true}) {
    CAPTURE(gz);
    const auto ip = tmp / (gz ? "i.gz" : "i"), lp = tmp / (gz ? "l.gz" : "l");
    (gz ? put_gz : put_raw)(ip, idx_images(n, rows, cols, px));
    (gz ? put_gz : put_raw)(lp, idx_labels(lab));
    if (gz) CHECK(slurp(ip).substr(0, 2) == "\x1f\x8b");  // really gzipped
    const auto images = data::read_idx_images(ip);
    REQUIRE(images.shape() == std::array<std::size_t, 4>{n, 1, rows, cols});
    for (std::size_t k = 0; k < n; ++k)
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c)
          CHECK(images(k, 0, r, c) == to_tensor(px[(k * rows + r) * cols + c]));
    const auto labels = data::read_idx_labels(lp);
    CHECK(std::vector<std::uint8_t>(labels.begin(), labels.end()) == lab);
    const auto d = data::load_idx_dataset(ip, lp, 10);
    CHECK(d.size() == 3);
    CHECK(d.images == images);
  }
  // All 256 byte values, against torch.
  std::vector<std::uint8_t> all(256);
  for (std::size_t i = 0; i < 256; ++i) all[i] = static_cast<std::uint8_t>(i);
  put_raw(tmp / "all", idx_images(1, 16, 16, all));
  const auto images = data::read_idx_images(tmp / "all");
  for (std::size_t i = 0; i < 256; ++i) CHECK(images.data()[i] == to_tensor(i));
  // An empty file set is valid.
  put_raw(tmp / "none", idx_images(0, 28, 28, {}));
  CHECK(data::read_idx_images(tmp / "none").shape()[0] == 0);
}

TEST_CASE("IDX errors name the file and the offending values") {
  scratch_dir tmp;
  const auto px = pattern(2 * 3 * 3);
  const auto good = idx_images(2, 3, 3, px);
  const auto p = tmp / "f";

  SUBCASE("missing file") {
    const auto missing = tmp / "missing-idx3-ubyte.gz";
    check_mentions(message_of<file_error>([&] { data::read_idx_images(missing); }), {missing, "does not exist"});
  }
  SUBCASE("wrong magic: a label file read as images, and the reverse") {
    put_raw(p, idx_labels({1, 2}));
    check_mentions(message_of<file_error>([&] { data::read_idx_images(p); }), {p, "0x00000801", "expected 0x00000803"});
    put_raw(p, good);
    check_mentions(message_of<file_error>([&] { data::read_idx_labels(p); }), {p, "0x00000803", "expected 0x00000801"});
  }
  SUBCASE("not an IDX file at all") {
    put_raw(p, "PK\x03\x04 zip archive");
    check_mentions(message_of<file_error>([&] { data::read_idx_images(p); }), {p, "0x504b0304", "expected 0x00000803"});
  }
  SUBCASE("empty file") {
    put_raw(p, "");
    check_mentions(message_of<file_error>([&] { data::read_idx_labels(p); }), {p, "missing", "0x00000801"});
  }
  SUBCASE("truncated header") {
    put_raw(p, good.substr(0, 10));
    check_mentions(message_of<file_error>([&] { data::read_idx_images(p); }), {p, "header", "expected 16", "got 10"});
  }
  SUBCASE("truncated pixels, raw") {
    put_raw(p, good.substr(0, good.size() - 4));
    check_mentions(message_of<file_error>([&] { data::read_idx_images(p); }), {p, "expected 18", "got 14", "truncated"});
  }
  SUBCASE("truncated labels, gzipped payload") {
    put_gz(p, idx_labels({1, 2, 3, 4}).substr(0, 10));
    check_mentions(message_of<file_error>([&] { data::read_idx_labels(p); }), {p, "expected 4", "got 2"});
  }
  SUBCASE("gzip stream cut short") {
    std::string big = idx_images(40, 28, 28, pattern(40 * 28 * 28));
    put_gz(p, big);
    const auto gz = slurp(p);
    put_raw(p, gz.substr(0, gz.size() / 2));
    check_mentions(message_of<file_error>([&] { data::read_idx_images(p); }), {p, "expected 31360", "got"});
  }
  SUBCASE("corrupt gzip stream") {
    put_gz(p, good);
    auto gz = slurp(p);
    for (std::size_t i = 10; i < gz.size() - 8; ++i) gz[i] = static_cast<char>(gz[i] ^ 0x5a);
    put_raw(p, gz);
    check_mentions(message_of<file_error>([&] { data::read_idx_images(p); }), {p});
  }
  SUBCASE("data past the declared end") {
    put_raw(p, good + "x");
    check_mentions(message_of<file_error>([&] { data::read_idx_images(p); }), {p, "past the 18 bytes"});
  }
  SUBCASE("zero image size") {
    put_raw(p, idx_images(2, 0, 3, {}));
    check_mentions(message_of<file_error>([&] { data::read_idx_images(p); }), {p, "0 x 3"});
  }
  SUBCASE("a header claiming 4 billion images with no data is truncated, not an allocation failure") {
    put_raw(p, idx_images(0xffffffffu, 28, 28, {1, 2, 3}));
    check_mentions(message_of<file_error>([&] { data::read_idx_images(p); }), {p, "4294967295 images", "got 3"});
  }
  SUBCASE("image and label counts differ") {
    put_raw(p, good);
    const auto l = tmp / "l";
    put_raw(l, idx_labels({1, 2, 3}));
    check_mentions(message_of<file_error>([&] { data::load_idx_dataset(p, l, 10); }),
                   {p, l, "2 images", "3 labels"});
  }
  SUBCASE("label out of range") {
    put_raw(p, good);
    const auto l = tmp / "l";
    put_raw(l, idx_labels({3, 10}));
    check_mentions(message_of<file_error>([&] { data::load_idx_dataset(p, l, 10); }),
                   {l, "index 1", "is 10", "below 10"});
  }
}
