// SPDX-License-Identifier: MIT
// Image folders as torchvision's ImageFolder reads them: ROOT/<class>/**/*.png|*.jpg|*.jpeg.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fusenet/data/idx.hpp"
#include "fusenet/data/image_tensor.hpp"
#include "fusenet/data/sample_source.hpp"

namespace fusenet::data {

/// One image of a folder: its path and its class index.
struct image_file {
  std::string path;
  std::uint32_t label = 0;
};

/// The images under ROOT, one sub-folder per class. Classes are the sub-folders sorted by name (so class i is
/// the i-th name, as in torchvision); each class holds the .png/.jpg/.jpeg files (any letter case) found at any
/// depth below its folder, sorted by path; other files are ignored. Images are decoded on load(), so a folder
/// larger than memory can be streamed through a batch_pipeline.
/// Example: examples/image_folder.cpp
class image_folder final : public sample_source {
 public:
  /// Scans `root` and reads every image's header (not its pixels).
  /// Throws file_error naming: a missing root or one that is not a folder; a root with no class folder; a class
  /// folder with no image; a file that is neither PNG nor JPEG or whose header is corrupt; and, for images of
  /// mixed channel counts (grey and colour), one file of each.
  image_folder(const std::string& root, image_format format);

  /// The class names, sorted; label i is classes()[i].
  [[nodiscard]] const std::vector<std::string>& classes() const { return classes_; }
  /// Every image with its label, class by class.
  [[nodiscard]] const std::vector<image_file>& files() const { return files_; }
  /// The colour channels all images share (1 or 3) before conversion to format().channels.
  [[nodiscard]] std::size_t file_channels() const { return file_channels_; }
  /// The root folder as given.
  [[nodiscard]] const std::string& root() const { return root_; }
  [[nodiscard]] const image_format& format() const { return format_; }

  [[nodiscard]] std::size_t size() const override { return files_.size(); }
  [[nodiscard]] std::array<std::size_t, 3> sample_shape() const override {
    return {format_.channels, format_.height, format_.width};
  }
  /// Decodes file `index` and writes it as to_tensor() does. Throws file_error naming the file if it cannot be
  /// decoded (truncated, corrupt) or has changed channel count since the scan.
  std::uint32_t load(std::size_t index, std::span<float> out) const override;

  /// Decodes every image into memory (images N×C×H×W, labels in class order).
  /// Throws file_error as load() does; std::length_error if there are more than 256 classes (dataset labels
  /// are bytes).
  [[nodiscard]] dataset read_all() const;

 private:
  std::string root_;
  image_format format_;
  std::vector<std::string> classes_;
  std::vector<image_file> files_;
  std::size_t file_channels_ = 0;
};

/// ROOT/train and ROOT/test, each an image_folder with the same classes.
struct train_test_folders {
  image_folder train, test;
};

/// Opens ROOT/train and ROOT/test. Throws file_error naming the root if either folder is missing (saying the
/// layout it expects), or naming both folders if their class lists differ, or what image_folder throws.
train_test_folders open_train_test_folders(const std::string& root, image_format format);

}  // namespace fusenet::data
