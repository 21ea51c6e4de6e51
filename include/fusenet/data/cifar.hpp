// SPDX-License-Identifier: MIT
// The CIFAR-10 / CIFAR-100 binary format: fixed-size records of label byte(s) + 32×32 RGB pixels.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "fusenet/data/idx.hpp"

namespace fusenet::data {

/// Which CIFAR binary format, and for CIFAR-100 which of its two labels to keep.
enum class cifar_kind {
  cifar10,          ///< records of 1 label byte (< 10) + 3072 pixel bytes: data_batch_*.bin, test_batch.bin
  cifar100_fine,    ///< records of coarse (< 20) + fine (< 100) label bytes + 3072 pixel bytes; keeps the fine
  cifar100_coarse,  ///< the same records; keeps the coarse (superclass) label
};

/// Bytes per record: 3073 for CIFAR-10, 3074 for CIFAR-100.
std::size_t cifar_record_size(cifar_kind kind);

/// Number of classes of the kept label: 10, 100 or 20.
std::size_t cifar_classes(cifar_kind kind);

/// Reads one or more CIFAR binary files, concatenated in the order given, into a dataset of N×3×32×32 floats
/// (pixel / 255, the file's own R, G, B planes, row-major) and labels.
/// Throws file_error naming the file for a missing or unreadable file, a size that is not a positive multiple
/// of the record size (saying the size, the record size, and whether it fits the other CIFAR format), or a label
/// out of range (naming the record).
dataset read_cifar(const std::vector<std::string>& paths, cifar_kind kind);

/// Parses the bytes of one CIFAR file; `name` is the file named in errors. Throws file_error as read_cifar does.
dataset parse_cifar(std::span<const std::uint8_t> bytes, cifar_kind kind, const std::string& name);

/// Which half of a CIFAR dataset to load.
enum class cifar_split { train, test };

/// The standard files of a split under `dir` (dir itself, or its cifar-10-batches-bin / cifar-100-binary
/// sub-folder as the archives unpack): data_batch_1..5.bin or test_batch.bin; train.bin or test.bin.
/// Throws file_error naming the folder and the first missing file.
std::vector<std::string> cifar_files(const std::string& dir, cifar_kind kind, cifar_split which);

/// read_cifar(cifar_files(dir, kind, which), kind).
inline dataset load_cifar(const std::string& dir, cifar_kind kind, cifar_split which) {
  return read_cifar(cifar_files(dir, kind, which), kind);
}

}  // namespace fusenet::data
