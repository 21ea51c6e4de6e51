// SPDX-License-Identifier: MIT
// Fashion-MNIST file names, default location and the errors that tell the user how to get the data.
#include <cstdlib>
#include <filesystem>
#include <fusenet/data/fashion_mnist.hpp>
#include <string>

namespace fusenet::data {
namespace {

constexpr const char* install_hint =
    "; install it with `apt-get install dataset-fashion-mnist`, or set FUSENET_DATA to a directory holding "
    "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz";

// The .gz file if present, else the uncompressed one (some downloads unpack them), else an error naming both.
std::string find_file(const std::filesystem::path& dir, const std::string& stem) {
  std::error_code ec;
  const auto gz = dir / (stem + ".gz");
  if (std::filesystem::exists(gz, ec)) return gz.string();
  const auto raw = dir / stem;
  if (std::filesystem::exists(raw, ec)) return raw.string();
  throw file_error(gz.string() + ": Fashion-MNIST file does not exist (nor " + raw.string() + ")" + install_hint);
}

}  // namespace

std::string default_data_dir() {
  const char* env = std::getenv("FUSENET_DATA");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string("/usr/share/datasets/fashion-mnist");
}

dataset load_fashion_mnist(const std::string& dir, split which) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw file_error(dir + (std::filesystem::exists(dir, ec) ? ": is not a directory; expected the Fashion-MNIST directory"
                                                             : ": Fashion-MNIST directory does not exist") +
                     install_hint);
  const std::string prefix = which == split::train ? "train" : "t10k";
  const auto images = find_file(dir, prefix + "-images-idx3-ubyte");
  const auto labels = find_file(dir, prefix + "-labels-idx1-ubyte");
  auto d = load_idx_dataset(images, labels, 10);
  if (d.images.shape()[2] != 28 || d.images.shape()[3] != 28)
    throw file_error(images + ": images are " + std::to_string(d.images.shape()[2]) + " x " +
                     std::to_string(d.images.shape()[3]) + ", Fashion-MNIST images are 28 x 28");
  return d;
}

}  // namespace fusenet::data
