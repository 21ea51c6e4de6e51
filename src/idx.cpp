// SPDX-License-Identifier: MIT
// IDX reading through zlib's gz* functions, which read gzipped and raw files alike.
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fusenet/data/idx.hpp>
#include <limits>
#include <string>
#include <vector>

namespace fusenet::data {
namespace {

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// An open IDX file; every read reports how many bytes really arrived, so callers can say "expected vs got".
class idx_reader {
 public:
  explicit idx_reader(const std::string& path) : path_(path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw file_error(path + ": IDX file does not exist");
    if (std::filesystem::is_directory(path, ec)) throw file_error(path + ": is a directory, expected an IDX file");
    file_ = gzopen(path.c_str(), "rb");
    if (file_ == nullptr) throw file_error(path + ": cannot open IDX file: " + std::strerror(errno));
  }
  idx_reader(const idx_reader&) = delete;
  idx_reader& operator=(const idx_reader&) = delete;
  ~idx_reader() { gzclose(file_); }

  // Reads up to n bytes; fewer only at the end of the data. A corrupt gzip stream is an error.
  std::size_t read(unsigned char* out, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
      const auto chunk = static_cast<unsigned>(std::min<std::size_t>(n - got, 1u << 24));
      const int r = gzread(file_, out + got, chunk);
      if (r < 0) throw file_error(path_ + ": corrupt gzip data: " + zlib_message());
      if (r == 0) break;
      got += static_cast<std::size_t>(r);
    }
    return got;
  }

  // zlib's own account of why the stream ended early, if it has one ("unexpected end of file").
  std::string zlib_message() {
    int errnum = Z_OK;
    const char* msg = gzerror(file_, &errnum);
    return errnum == Z_OK || msg == nullptr ? std::string() : std::string(msg);
  }

  // Reads the magic number and `dims` big-endian u32 dimensions.
  std::vector<std::uint32_t> header(std::uint32_t expected_magic, std::size_t dims, const char* what) {
    const std::size_t size = 4 * (dims + 1);
    std::vector<unsigned char> raw(size);
    const auto got = read(raw.data(), size);
    if (got < 4 || read_u32(raw, 0) != expected_magic) {
      throw file_error(path_ + ": magic number is " + (got < 4 ? std::string("missing (file too short)") : hex32(read_u32(raw, 0))) +
                       ", expected " + hex32(expected_magic) + " (IDX " + what + ")");
    }
    if (got < size)
      throw file_error(path_ + ": truncated IDX header: expected " + std::to_string(size) + " bytes, got " +
                       std::to_string(got) + suffix());
    std::vector<std::uint32_t> out;
    for (std::size_t d = 0; d < dims; ++d) out.push_back(read_u32(raw, 4 * (d + 1)));
    return out;
  }

  // Reads exactly n payload bytes, then checks that nothing follows them. The buffer grows as data arrives,
  // doubling from 64 KiB, so a lying header cannot force an allocation beyond twice the bytes really present
  // (a fixed 4 MiB first step made every short file with a large declared count cost a 4 MiB zero-fill).
  std::vector<unsigned char> payload(std::size_t n, const std::string& what) {
    std::vector<unsigned char> data;
    constexpr std::size_t first_step = std::size_t{1} << 16;
    while (data.size() < n) {
      const std::size_t old = data.size(), want = std::min(std::max(first_step, old), n - old);
      data.resize(old + want);
      const auto got = read(data.data() + old, want);
      if (got < want) {
        throw file_error(path_ + ": truncated: expected " + std::to_string(n) + " bytes of " + what + ", got " +
                         std::to_string(old + got) + suffix());
      }
    }
    unsigned char extra = 0;
    if (read(&extra, 1) != 0)
      throw file_error(path_ + ": data continues past the " + std::to_string(n) + " bytes of " + what +
                       " the header declares (wrong header or concatenated files)");
    return data;
  }

 private:
  static std::uint32_t read_u32(const std::vector<unsigned char>& b, std::size_t at) {  // IDX is big-endian
    return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) |
           std::uint32_t{b[at + 3]};
  }
  std::string suffix() {
    const auto m = zlib_message();
    return m.empty() ? std::string() : " (zlib: " + m + ")";
  }

  std::string path_;
  gzFile file_ = nullptr;
};

}  // namespace

xt::xtensor<float, 4> read_idx_images(const std::string& path) {
  idx_reader in(path);
  const auto dims = in.header(0x00000803, 3, "u8 images N x rows x cols");
  const std::size_t n = dims[0], rows = dims[1], cols = dims[2];
  if (rows == 0 || cols == 0 || rows > 65536 || cols > 65536)
    throw file_error(path + ": implausible image size " + std::to_string(rows) + " x " + std::to_string(cols));
  const auto data = in.payload(n * rows * cols, "pixels (" + std::to_string(n) + " images of " +
                                                    std::to_string(rows) + " x " + std::to_string(cols) + ")");
  xt::xtensor<float, 4> images = xt::xtensor<float, 4>::from_shape({n, 1, rows, cols});
  float* out = images.data();
  // torchvision's ToTensor divides the byte by 255 in float; the same expression gives bit-identical values.
  for (std::size_t i = 0; i < data.size(); ++i) out[i] = static_cast<float>(data[i]) / 255.0f;
  return images;
}

xt::xtensor<std::uint8_t, 1> read_idx_labels(const std::string& path) {
  idx_reader in(path);
  const auto dims = in.header(0x00000801, 1, "u8 labels N");
  const std::size_t n = dims[0];
  const auto data = in.payload(n, "labels (" + std::to_string(n) + " labels)");
  xt::xtensor<std::uint8_t, 1> labels = xt::xtensor<std::uint8_t, 1>::from_shape({n});
  std::copy(data.begin(), data.end(), labels.begin());
  return labels;
}

dataset load_idx_dataset(const std::string& images_path, const std::string& labels_path, std::size_t num_classes) {
  dataset d{read_idx_images(images_path), read_idx_labels(labels_path)};
  const std::size_t n_images = d.images.shape()[0], n_labels = d.labels.size();
  if (n_images != n_labels)
    throw file_error(images_path + " holds " + std::to_string(n_images) + " images but " + labels_path + " holds " +
                     std::to_string(n_labels) + " labels; they must be the same split");
  for (std::size_t i = 0; i < n_labels; ++i)
    if (d.labels(i) >= num_classes)
      throw file_error(labels_path + ": label at index " + std::to_string(i) + " is " +
                       std::to_string(d.labels(i)) + ", expected a class below " + std::to_string(num_classes));
  return d;
}

}  // namespace fusenet::data
