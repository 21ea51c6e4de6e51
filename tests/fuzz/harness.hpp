// SPDX-License-Identifier: MIT
// What one fuzz input does to the file readers; shared by the libFuzzer targets and the io suite's corpus replay.
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <fusenet/data/idx.hpp>
#include <fusenet/fusenet.hpp>
#include <fusenet/io/safetensors.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace fusenet::fuzz {

/// The small network whose state dict a valid safetensors input is loaded into: conv, BatchNorm (with
/// num_batches_tracked, an I64 scalar) and dense, so every dtype/shape check of load() is reachable.
using fuzz_net = sequential<layers::input<1, 8, 8>, layers::conv2d<4, 3>, layers::batch_norm, layers::relu,
                            layers::flatten, layers::dense<3>>;

/// A per-process scratch file (on tmpfs when there is one, since the fuzzers write it once per input).
inline std::string scratch_path(const std::string& suffix) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
  return (dir / ("fusenet_fuzz_" + std::to_string(::getpid()) + suffix)).string();
}

/// Writes bytes to path, replacing it.
inline void write_bytes(const std::string& path, std::span<const char> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::logic_error("fuzz harness: cannot write scratch file " + path);
}

/// gzip-compresses bytes in memory (windowBits 15 + 16 selects the gzip wrapper that gzopen reads).
inline std::vector<char> gzip(std::span<const char> bytes) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::logic_error("fuzz harness: deflateInit2 failed");
  std::vector<char> out(deflateBound(&z, static_cast<uLong>(bytes.size())) + 32);
  // zlib's API takes non-const pointers but does not write through next_in.
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int r = deflate(&z, Z_FINISH);
  deflateEnd(&z);
  if (r != Z_STREAM_END) throw std::logic_error("fuzz harness: deflate did not finish");
  out.resize(z.total_out);
  return out;
}

/// Parses bytes as a safetensors file; if that succeeds, also loads the same bytes (through a scratch file, since
/// load() takes a path) into a model<fuzz_net, mode::train>.
/// Ensures: returns, or throws fusenet::file_error (weights_mismatch included). Anything else is a bug.
inline void safetensors_input(std::span<const char> bytes) {
  const auto file = io::read_safetensors_bytes(bytes, "fuzz-input");
  // The reader's contract: every returned entry holds exactly product(shape) * itemsize bytes.
  for (const auto& [key, t] : file.tensors)
    if (t.bytes.size() != t.count() * io::safetensors_item_size(t.dtype))
      throw std::logic_error("read_safetensors_bytes returned '" + key + "' with a byte count not matching its shape");
  static model<fuzz_net, mode::train> m{/*seed=*/1};
  const std::string path = scratch_path(".safetensors");
  write_bytes(path, bytes);
  struct remover {
    std::string p;
    ~remover() { std::remove(p.c_str()); }
  } cleanup{path};
  load(m, path);
}

/// Reads bytes as an IDX image file and as an IDX label file (zlib's gzread passes raw bytes through and
/// decompresses gzip ones, so a gzipped input exercises the gzip path); when the input is not already gzip, reads
/// its gzip-compressed form too, so the mutated IDX content also goes through decompression.
/// Ensures: returns, or throws fusenet::file_error. Anything else is a bug.
inline void idx_input(std::span<const char> bytes) {
  const std::string path = scratch_path(".idx");
  struct remover {
    std::string p;
    ~remover() { std::remove(p.c_str()); }
  } cleanup{path};
  auto read_both = [&](std::span<const char> content) {
    write_bytes(path, content);
    try {
      const auto images = data::read_idx_images(path);
      if (images.dimension() != 4 || images.shape()[1] != 1) throw std::logic_error("images are not N x 1 x H x W");
      for (float v : images)
        if (!(v >= 0.0f && v <= 1.0f)) throw std::logic_error("pixel outside [0, 1]");
    } catch (const file_error&) {
    }
    try {
      const auto labels = data::read_idx_labels(path);
      if (labels.dimension() != 1) throw std::logic_error("labels are not a vector");
    } catch (const file_error&) {
    }
  };
  read_both(bytes);
  const bool gz = bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
                  static_cast<unsigned char>(bytes[1]) == 0x8b;
  if (!gz) {
    const auto packed = gzip(bytes);
    read_both(packed);
  }
}

}  // namespace fusenet::fuzz
