// SPDX-License-Identifier: MIT
// The exception types for bad files and mismatched weights.
#pragma once

#include <stdexcept>
#include <string>

namespace fusenet {

/// A file could not be read or written, or its content is malformed; the message names the file and the problem.
struct file_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A tensor in a file does not fit the network (missing or extra key, wrong dtype or shape).
struct weights_mismatch : file_error {
  using file_error::file_error;
};

}  // namespace fusenet
