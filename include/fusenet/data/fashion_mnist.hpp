// SPDX-License-Identifier: MIT
// Fashion-MNIST (Zalando, 28×28 grey images, 10 classes) from the standard IDX files.
#pragma once

#include <string>

#include "fusenet/data/idx.hpp"

namespace fusenet::data {

/// Which half of Fashion-MNIST to load: train (60000 images) or test (10000 images).
enum class split { train, test };

/// The directory holding the four Fashion-MNIST files: $FUSENET_DATA if set and not empty, else
/// /usr/share/datasets/fashion-mnist (where Debian's dataset-fashion-mnist package installs them).
std::string default_data_dir();

/// Loads one split from `dir`: {train,t10k}-{images-idx3,labels-idx1}-ubyte, with or without a .gz suffix.
/// Ensures: images N×1×28×28 in [0, 1], labels in [0, 10).
/// Throws file_error naming the missing directory or file (and how to install the data), or any problem
/// load_idx_dataset reports, or images that are not 28×28.
dataset load_fashion_mnist(const std::string& dir, split which);

/// Loads one split from default_data_dir().
inline dataset load_fashion_mnist(split which) { return load_fashion_mnist(default_data_dir(), which); }

}  // namespace fusenet::data
