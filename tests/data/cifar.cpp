// SPDX-License-Identifier: MIT
// CIFAR-10 / CIFAR-100 binaries the test writes: values, label choice, concatenation, file names, bad sizes
// and labels.
#include <doctest/doctest.h>

#include <fusenet/data/cifar.hpp>
#include <string>
#include <vector>

#include "image_writer.hpp"
#include "io/throws.hpp"

namespace data = fusenet::data;
namespace t = fusenet::test;

namespace {

using fusenet::test::file_error_of;  // the message, or "" when nothing was thrown

// One record: the label bytes, then pixel p = (p·13 + salt) mod 256.
std::vector<std::uint8_t> record(std::vector<std::uint8_t> labels, unsigned salt) {
  for (std::size_t p = 0; p < 3072; ++p) labels.push_back(static_cast<std::uint8_t>((p * 13 + salt) % 256));
  return labels;
}

std::vector<std::uint8_t> concat(std::initializer_list<std::vector<std::uint8_t>> parts) {
  std::vector<std::uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace

TEST_CASE("CIFAR-10: records become 3×32×32 planes of pixel / 255 and their label") {
  const auto bytes = concat({record({7}, 1), record({0}, 2), record({9}, 3)});
  const auto d = data::parse_cifar(bytes, data::cifar_kind::cifar10, "b.bin");
  REQUIRE(d.size() == 3);
  CHECK(d.images.shape() == std::array<std::size_t, 4>{3, 3, 32, 32});
  CHECK(d.labels(0) == 7);
  CHECK(d.labels(1) == 0);
  CHECK(d.labels(2) == 9);
  // Record 1, channel 2 (blue), row 5, column 6: plane offset 2·1024 + 5·32 + 6 in the record's pixels.
  const std::size_t p = 2 * 1024 + 5 * 32 + 6;
  CHECK(d.images(1, 2, 5, 6) == static_cast<float>((p * 13 + 2) % 256) / 255.0f);
  CHECK(d.images(0, 0, 0, 0) == 1.0f / 255.0f);
}

TEST_CASE("CIFAR-100: fine or coarse label; files concatenate in order") {
  t::scratch_dir dir;
  t::write_file(dir / "train.bin", concat({record({3, 71}, 0), record({19, 99}, 1)}));
  t::write_file(dir / "test.bin", record({0, 5}, 2));
  const auto fine = data::read_cifar({(dir / "train.bin").string(), (dir / "test.bin").string()},
                                     data::cifar_kind::cifar100_fine);
  REQUIRE(fine.size() == 3);
  CHECK(fine.labels(0) == 71);
  CHECK(fine.labels(1) == 99);
  CHECK(fine.labels(2) == 5);
  CHECK(fine.images(2, 0, 0, 1) == 15.0f / 255.0f);  // third record's pixel 1: 13 + 2
  const auto coarse = data::load_cifar(dir.path().string(), data::cifar_kind::cifar100_coarse, data::cifar_split::train);
  CHECK(coarse.size() == 2);
  CHECK(coarse.labels(0) == 3);
  CHECK(coarse.labels(1) == 19);
  CHECK(data::cifar_classes(data::cifar_kind::cifar100_coarse) == 20);
  CHECK(data::cifar_record_size(data::cifar_kind::cifar100_fine) == 3074);
}

TEST_CASE("cifar_files: the five training batches in order, in the folder or its unpacked sub-folder") {
  t::scratch_dir dir;
  const auto sub = dir / "cifar-10-batches-bin";
  for (int i = 1; i <= 5; ++i) t::write_file(sub / ("data_batch_" + std::to_string(i) + ".bin"), record({1}, 0));
  const auto files = data::cifar_files(dir.path().string(), data::cifar_kind::cifar10, data::cifar_split::train);
  REQUIRE(files.size() == 5);
  CHECK(files[4] == (sub / "data_batch_5.bin").string());
  CHECK(data::load_cifar(dir.path().string(), data::cifar_kind::cifar10, data::cifar_split::train).size() == 5);
  const auto msg = file_error_of([&] { data::cifar_files(dir.path().string(), data::cifar_kind::cifar10, data::cifar_split::test); });
  CHECK(msg.find("test_batch.bin") != std::string::npos);
}

TEST_CASE("a file whose size is not a multiple of the record is an error naming it, the sizes and the other format") {
  t::scratch_dir dir;
  auto bytes = concat({record({1}, 0), record({2}, 0)});
  bytes.pop_back();
  t::write_file(dir / "short.bin", bytes);
  const auto msg = file_error_of([&] { data::read_cifar({(dir / "short.bin").string()}, data::cifar_kind::cifar10); });
  CHECK(msg.find((dir / "short.bin").string()) == 0);
  CHECK(msg.find("6145 bytes") != std::string::npos);
  CHECK(msg.find("3073") != std::string::npos);
  // Two CIFAR-100 records read as CIFAR-10: 6148 is not a multiple of 3073, but is of 3074.
  const auto hundred = concat({record({1, 2}, 0), record({1, 2}, 0)});
  const auto wrong_kind = file_error_of([&] { data::parse_cifar(hundred, data::cifar_kind::cifar10, "c100.bin"); });
  CHECK(wrong_kind.find("it would fit CIFAR-100") != std::string::npos);
  CHECK(file_error_of([&] { data::parse_cifar({}, data::cifar_kind::cifar10, "e.bin"); }).find("empty") != std::string::npos);
  CHECK(file_error_of([&] { data::read_cifar({(dir / "none.bin").string()}, data::cifar_kind::cifar10); })
            .find("does not exist") != std::string::npos);
}

TEST_CASE("a label out of range is an error naming the file and the record") {
  const auto bytes = concat({record({1}, 0), record({10}, 0)});
  const auto msg = file_error_of([&] { data::parse_cifar(bytes, data::cifar_kind::cifar10, "bad.bin"); });
  CHECK(msg.find("bad.bin: record 1") == 0);
  const auto fine = file_error_of([&] { data::parse_cifar(record({2, 100}, 0), data::cifar_kind::cifar100_fine, "f.bin"); });
  CHECK(fine.find("f.bin: record 0") == 0);
}
