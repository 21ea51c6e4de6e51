// SPDX-License-Identifier: MIT
// Fashion-MNIST: the real files (when installed), the default directory, and the errors that say how to get them.
#include <doctest/doctest.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <fusenet/data/fashion_mnist.hpp>
#include <string>
#include <algorithm>

#include "data/idx_bytes.hpp"
#include "io/scratch.hpp"
#include "io/throws.hpp"

namespace fs = std::filesystem;
namespace data = fusenet::data;
using fusenet::file_error;
using fusenet::test::check_mentions;
using fusenet::test::message_of;

namespace {

constexpr const char* installed = "/usr/share/datasets/fashion-mnist";

using fusenet::test::be32;
using fusenet::test::scratch_dir;
void put(const fs::path& path, const std::string& bytes) { fusenet::test::put(path.string(), bytes); }

void check_split(data::split which, std::size_t n) {
  const auto d = data::load_fashion_mnist(installed, which);
  REQUIRE(d.images.shape() == std::array<std::size_t, 4>{n, 1, 28, 28});
  REQUIRE(d.size() == n);
  const auto [lo, hi] = std::minmax_element(d.images.begin(), d.images.end());
  CHECK(*lo == 0.0f);
  CHECK(*hi == 1.0f);
  std::array<std::size_t, 10> histogram{};
  for (auto l : d.labels) ++histogram.at(l);
  for (std::size_t c = 0; c < 10; ++c) {
    CAPTURE(c);
    CHECK(histogram[c] == n / 10);  // Fashion-MNIST is balanced: 6000 per class in train, 1000 in test
  }
}

}  // namespace

TEST_CASE("the installed Fashion-MNIST loads: 60000 train and 10000 test, pixels in [0, 1], balanced classes") {
  if (!fs::is_directory(installed)) {
    MESSAGE("skipped: " << installed << " is absent (apt-get install dataset-fashion-mnist)");
    return;
  }
  check_split(data::split::train, 60000);
  check_split(data::split::test, 10000);
}

TEST_CASE("default_data_dir honours FUSENET_DATA") {
  const char* old = std::getenv("FUSENET_DATA");
  const std::string saved = old ? old : "";
  ::setenv("FUSENET_DATA", "/some/where", 1);
  CHECK(data::default_data_dir() == "/some/where");
  ::setenv("FUSENET_DATA", "", 1);
  CHECK(data::default_data_dir() == installed);
  ::unsetenv("FUSENET_DATA");
  CHECK(data::default_data_dir() == installed);
  if (old) ::setenv("FUSENET_DATA", saved.c_str(), 1);
}

TEST_CASE("a missing directory or file names the path and how to install the data") {
  scratch_dir tmp;
  const auto nowhere = (tmp.dir / "nowhere").string();
  check_mentions(message_of<file_error>([&] { data::load_fashion_mnist(nowhere, data::split::train); }),
                 {nowhere, "does not exist", "apt-get install dataset-fashion-mnist", "FUSENET_DATA"});
  put(tmp.dir / "t10k-images-idx3-ubyte", be32(0x803) + be32(1) + be32(28) + be32(28) + std::string(784, '\x80'));
  check_mentions(message_of<file_error>([&] { data::load_fashion_mnist(tmp.dir.string(), data::split::test); }),
                 {(tmp.dir / "t10k-labels-idx1-ubyte.gz").string(), "does not exist", "apt-get install"});
}

TEST_CASE("uncompressed files are found too; images that are not 28x28 are rejected") {
  scratch_dir tmp;
  put(tmp.dir / "t10k-images-idx3-ubyte", be32(0x803) + be32(2) + be32(28) + be32(28) + std::string(2 * 784, '\xff'));
  put(tmp.dir / "t10k-labels-idx1-ubyte", be32(0x801) + be32(2) + std::string("\x07\x02"));
  const auto d = data::load_fashion_mnist(tmp.dir.string(), data::split::test);
  CHECK(d.size() == 2);
  CHECK(d.labels(0) == 7);
  CHECK(d.images(1, 0, 27, 27) == 1.0f);
  put(tmp.dir / "t10k-images-idx3-ubyte", be32(0x803) + be32(2) + be32(27) + be32(28) + std::string(2 * 756, '\0'));
  check_mentions(message_of<file_error>([&] { data::load_fashion_mnist(tmp.dir.string(), data::split::test); }),
                 {"t10k-images-idx3-ubyte", "27 x 28", "28 x 28"});
}
