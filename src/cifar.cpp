// SPDX-License-Identifier: MIT
// CIFAR binary records to float images and byte labels.
#include <algorithm>
#include <filesystem>
#include <fusenet/data/cifar.hpp>
#include <fusenet/data/image_decode.hpp>
#include <string>

namespace fusenet::data {
namespace {

constexpr std::size_t pixels_per_record = 3 * 32 * 32;

const char* kind_name(cifar_kind kind) { return kind == cifar_kind::cifar10 ? "CIFAR-10" : "CIFAR-100"; }

// The records of one file, checked: whole records only, labels in range.
std::size_t check_records(std::span<const std::uint8_t> bytes, cifar_kind kind, const std::string& name) {
  const std::size_t record = cifar_record_size(kind);
  if (bytes.empty() || bytes.size() % record != 0) {
    const cifar_kind other = kind == cifar_kind::cifar10 ? cifar_kind::cifar100_fine : cifar_kind::cifar10;
    const bool fits_other = !bytes.empty() && bytes.size() % cifar_record_size(other) == 0;
    throw file_error(name + ": " + std::to_string(bytes.size()) + " bytes is not a whole number of " +
                     kind_name(kind) + " records of " + std::to_string(record) + " bytes" +
                     (bytes.empty() ? std::string(" (the file is empty)")
                                    : " (" + std::to_string(bytes.size() / record) + " records and " +
                                          std::to_string(bytes.size() % record) + " bytes over)") +
                     (fits_other ? std::string("; it would fit ") + kind_name(other) + " records" : std::string()));
  }
  const std::size_t n = bytes.size() / record;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* r = bytes.data() + i * record;
    if (kind == cifar_kind::cifar10 ? r[0] >= 10 : (r[0] >= 20 || r[1] >= 100))
      throw file_error(name + ": record " + std::to_string(i) + " (byte offset " + std::to_string(i * record) +
                       ") has label " + (kind == cifar_kind::cifar10 ? std::to_string(r[0])
                                                                  : std::to_string(r[0]) + "/" + std::to_string(r[1])) +
                       ", " + kind_name(kind) + " labels are " +
                       (kind == cifar_kind::cifar10 ? "below 10" : "below 20 (coarse) / 100 (fine)"));
  }
  return n;
}

// Appends checked records to `out` at sample `first`.
void copy_records(std::span<const std::uint8_t> bytes, cifar_kind kind, dataset& out, std::size_t first) {
  const std::size_t record = cifar_record_size(kind), n = bytes.size() / record, labels = record - pixels_per_record;
  float* images = out.images.data() + first * pixels_per_record;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* r = bytes.data() + i * record;
    out.labels(first + i) = kind == cifar_kind::cifar100_coarse ? r[0] : r[labels - 1];
    // Same float division as torchvision's ToTensor, so values are bit-identical to it.
    for (std::size_t p = 0; p < pixels_per_record; ++p) images[i * pixels_per_record + p] = static_cast<float>(r[labels + p]) / 255.0f;
  }
}

}  // namespace

std::size_t cifar_record_size(cifar_kind kind) { return (kind == cifar_kind::cifar10 ? 1 : 2) + pixels_per_record; }

std::size_t cifar_classes(cifar_kind kind) {
  return kind == cifar_kind::cifar10 ? 10 : (kind == cifar_kind::cifar100_fine ? 100 : 20);
}

dataset parse_cifar(std::span<const std::uint8_t> bytes, cifar_kind kind, const std::string& name) {
  const std::size_t n = check_records(bytes, kind, name);
  dataset d{xt::xtensor<float, 4>::from_shape({n, 3, 32, 32}), xt::xtensor<std::uint8_t, 1>::from_shape({n})};
  copy_records(bytes, kind, d, 0);
  return d;
}

dataset read_cifar(const std::vector<std::string>& paths, cifar_kind kind) {
  if (paths.empty()) throw file_error("read_cifar: no CIFAR file given");
  std::vector<std::vector<std::uint8_t>> files;
  std::size_t total = 0;
  for (const auto& p : paths) {
    files.push_back(read_file_bytes(p));
    total += check_records(files.back(), kind, p);
  }
  dataset d{xt::xtensor<float, 4>::from_shape({total, 3, 32, 32}), xt::xtensor<std::uint8_t, 1>::from_shape({total})};
  std::size_t at = 0;
  for (const auto& bytes : files) {
    copy_records(bytes, kind, d, at);
    at += bytes.size() / cifar_record_size(kind);
  }
  return d;
}

std::vector<std::string> cifar_files(const std::string& dir, cifar_kind kind, cifar_split which) {
  namespace fs = std::filesystem;
  std::vector<std::string> names;
  if (kind == cifar_kind::cifar10) {
    if (which == cifar_split::train)
      for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
    else
      names.push_back("test_batch.bin");
  } else {
    names.push_back(which == cifar_split::train ? "train.bin" : "test.bin");
  }
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw file_error(dir + ": CIFAR folder does not exist");
  fs::path base = dir;
  const fs::path unpacked = base / (kind == cifar_kind::cifar10 ? "cifar-10-batches-bin" : "cifar-100-binary");
  if (!fs::exists(base / names[0], ec) && fs::is_directory(unpacked, ec)) base = unpacked;
  std::vector<std::string> paths;
  for (const auto& n : names) {
    const fs::path p = base / n;
    if (!fs::exists(p, ec))
      throw file_error(p.string() + ": " + kind_name(kind) + " file does not exist (looked in " + dir + " and " +
                       unpacked.string() + ")");
    paths.push_back(p.string());
  }
  return paths;
}

}  // namespace fusenet::data
