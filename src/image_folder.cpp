// SPDX-License-Identifier: MIT
// Scanning an image folder (classes, files, channel counts) and decoding its images on demand.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fusenet/data/image_folder.hpp>
#include <map>
#include <stdexcept>
#include <string>

namespace fusenet::data {
namespace {

namespace fs = std::filesystem;

// torchvision's IMG_EXTENSIONS test lowercases the name, so .PNG and .Jpg count too.
bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

std::vector<std::string> images_below(const fs::path& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  // follow_directory_symlink: torchvision walks with followlinks=True.
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && has_image_extension(it->path())) found.push_back(it->path().string());
  }
  if (ec) throw file_error(dir.string() + ": cannot list class folder: " + ec.message());
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

image_folder::image_folder(const std::string& root, image_format format) : root_(root), format_(format) {
  if (format_.channels != 1 && format_.channels != 3)
    throw std::invalid_argument("fusenet: image_folder: the input must have 1 (grey) or 3 (RGB) channels, not " +
                                std::to_string(format_.channels));
  std::error_code ec;
  if (!fs::exists(root, ec)) throw file_error(root + ": image folder does not exist");
  if (!fs::is_directory(root, ec)) throw file_error(root + ": is not a folder; expected ROOT/<class>/<image>");
  for (const auto& entry : fs::directory_iterator(root, ec))
    if (std::error_code dir_ec; entry.is_directory(dir_ec)) classes_.push_back(entry.path().filename().string());
  if (ec) throw file_error(root + ": cannot list: " + ec.message());
  // Python's sorted() on str compares code points; on UTF-8 names byte order is the same order.
  std::sort(classes_.begin(), classes_.end());
  if (classes_.empty())
    throw file_error(root + ": holds no class folder; expected one sub-folder per class, ROOT/<class>/<image>");
  for (std::size_t c = 0; c < classes_.size(); ++c) {
    const fs::path dir = fs::path(root) / classes_[c];
    const auto paths = images_below(dir);
    if (paths.empty())
      throw file_error(dir.string() + ": class folder '" + classes_[c] + "' holds no .png, .jpg or .jpeg image");
    for (const auto& p : paths) files_.push_back({p, static_cast<std::uint32_t>(c)});
  }
  // All images of a set must share a channel count: a mix is usually a data-preparation mistake, and the
  // conversion to format.channels would hide it.
  std::map<std::size_t, std::string> first_with;
  for (const auto& f : files_) first_with.emplace(read_image_info(f.path).channels, f.path);
  if (first_with.size() > 1) {
    const auto grey = first_with.at(1), colour = first_with.at(3);
    throw file_error(root + ": images of mixed channel counts: " + grey + " is grey (1 channel), " + colour +
                     " is colour (3 channels); convert them to one kind");
  }
  file_channels_ = first_with.begin()->first;
}

std::uint32_t image_folder::load(std::size_t index, std::span<float> out) const {
  if (index >= files_.size())
    throw std::out_of_range("fusenet: image_folder: sample " + std::to_string(index) + " of " +
                            std::to_string(files_.size()));
  const auto& f = files_[index];
  const auto image = read_image(f.path);
  if (image.info.channels != file_channels_)
    throw file_error(f.path + ": has " + std::to_string(image.info.channels) + " channel(s), the other images of " +
                     root_ + " have " + std::to_string(file_channels_) + " (the file changed since the folder was scanned)");
  to_tensor(image, format_, out);
  return f.label;
}

dataset image_folder::read_all() const {
  if (classes_.size() > 256)
    throw std::length_error("fusenet: image_folder::read_all: " + root_ + " has " + std::to_string(classes_.size()) +
                            " classes; a dataset holds byte labels (at most 256 classes); stream it with a "
                            "batch_pipeline instead");
  dataset d{xt::xtensor<float, 4>::from_shape({files_.size(), format_.channels, format_.height, format_.width}),
            xt::xtensor<std::uint8_t, 1>::from_shape({files_.size()})};
  const std::size_t per = format_.size();
  for (std::size_t i = 0; i < files_.size(); ++i)
    d.labels(i) = static_cast<std::uint8_t>(load(i, std::span<float>(d.images.data() + i * per, per)));
  return d;
}

train_test_folders open_train_test_folders(const std::string& root, image_format format) {
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    throw file_error(root + (fs::exists(root, ec) ? ": is not a folder" : ": data folder does not exist") +
                     "; expected ROOT/train/<class>/<image> and ROOT/test/<class>/<image>");
  for (const char* part : {"train", "test"})
    if (!fs::is_directory(fs::path(root) / part, ec))
      throw file_error(root + ": has no " + part + "/ folder; expected ROOT/train/<class>/<image> and "
                       "ROOT/test/<class>/<image>");
  train_test_folders folders{image_folder((fs::path(root) / "train").string(), format),
                             image_folder((fs::path(root) / "test").string(), format)};
  if (folders.train.classes() != folders.test.classes()) {
    auto list = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& c : v) s += (s.empty() ? "" : ", ") + c;
      return s;
    };
    throw file_error(folders.train.root() + " has classes {" + list(folders.train.classes()) + "} but " +
                     folders.test.root() + " has {" + list(folders.test.classes()) + "}; both need the same classes");
  }
  return folders;
}

}  // namespace fusenet::data
