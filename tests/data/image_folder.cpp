// SPDX-License-Identifier: MIT
// image_folder and open_train_test_folders on folders the test writes: class order, labels, pixels, and every
// bad-input case (each error must name the file or folder).
#include <doctest/doctest.h>

#include <fusenet/data/image_folder.hpp>
#include <string>
#include <vector>

#include "image_writer.hpp"
#include "io/throws.hpp"

namespace data = fusenet::data;
namespace t = fusenet::test;

namespace {

using fusenet::test::file_error_of;  // the message, or "" when nothing was thrown

bool mentions(const std::string& msg, const std::filesystem::path& p) { return msg.find(p.string()) != std::string::npos; }

void png(const std::filesystem::path& p, std::size_t channels, unsigned seed, std::size_t size = 4) {
  t::write_file(p, t::encode_png(t::pattern_pixels(size, size, channels, seed), size, size, channels));
}

}  // namespace

TEST_CASE("classes are the sub-folders sorted by name; files are found at any depth, sorted, any extension case") {
  t::scratch_dir root;
  png(root / "zebra/a.png", 3, 1);
  png(root / "Apple/b.PNG", 3, 2);  // upper case sorts first, as in Python's sorted()
  png(root / "mango/nested/deep/c.png", 3, 3);
  png(root / "mango/a.png", 3, 4);
  t::write_file(root / "mango/d.jpeg", t::encode_jpeg(t::pattern_pixels(4, 4, 3, 5), 4, 4, 3));
  t::write_text(root / "mango/readme.txt", "ignored");
  png(root / "stray.png", 3, 6);  // not in a class folder: ignored
  const data::image_folder f(root.path().string(), {3, 4, 4});
  CHECK(f.classes() == std::vector<std::string>{"Apple", "mango", "zebra"});
  REQUIRE(f.size() == 5);
  const std::vector<std::pair<std::filesystem::path, std::uint32_t>> expected{
      {root / "Apple/b.PNG", 0}, {root / "mango/a.png", 1}, {root / "mango/d.jpeg", 1},
      {root / "mango/nested/deep/c.png", 1}, {root / "zebra/a.png", 2}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CHECK(f.files()[i].path == expected[i].first.string());
    CHECK(f.files()[i].label == expected[i].second);
  }
  CHECK(f.file_channels() == 3);
}

TEST_CASE("load and read_all give the pixels / 255 as C×H×W, converted to the input's channel count") {
  t::scratch_dir root;
  const auto pixels = t::pattern_pixels(3, 2, 3, 8);
  t::write_file(root / "only/x.png", t::encode_png(pixels, 3, 2, 3));
  const data::image_folder rgb(root.path().string(), {3, 2, 3});
  std::vector<float> out(18);
  CHECK(rgb.load(0, out) == 0);
  for (std::size_t c = 0; c < 3; ++c)
    for (std::size_t p = 0; p < 6; ++p) CHECK(out[c * 6 + p] == static_cast<float>(pixels[p * 3 + c]) / 255.0f);
  const auto all = rgb.read_all();
  REQUIRE(all.images.shape() == std::array<std::size_t, 4>{1, 3, 2, 3});
  CHECK(std::equal(out.begin(), out.end(), all.images.begin()));
  CHECK(all.labels(0) == 0);
  // The same file for a grey network: Pillow's luma, checked on the first pixel.
  const data::image_folder grey(root.path().string(), {1, 2, 3});
  std::vector<float> g(6);
  grey.load(0, g);
  const unsigned luma = (pixels[0] * 19595u + pixels[1] * 38470u + pixels[2] * 7471u + 0x8000u) >> 16;
  CHECK(g[0] == static_cast<float>(luma) / 255.0f);
}

TEST_CASE("bad folders: missing root, a file as root, no class folder, an empty class folder") {
  t::scratch_dir root;
  const auto missing = root / "nope";
  CHECK(mentions(file_error_of([&] { data::image_folder(missing.string(), {}); }), missing));
  t::write_text(root / "file", "x");
  CHECK(file_error_of([&] { data::image_folder((root / "file").string(), {}); }).find("is not a folder") != std::string::npos);
  const auto bare = root / "bare";
  std::filesystem::create_directories(bare);
  png(bare / "loose.png", 3, 1);
  const auto no_class = file_error_of([&] { data::image_folder(bare.string(), {}); });
  CHECK(mentions(no_class, bare));
  CHECK(no_class.find("no class folder") != std::string::npos);
  png(bare / "cats/a.png", 3, 1);
  std::filesystem::create_directories(bare / "dogs");
  t::write_text(bare / "dogs/notes.txt", "no images here");
  const auto empty = file_error_of([&] { data::image_folder(bare.string(), {}); });
  CHECK(mentions(empty, bare / "dogs"));
  CHECK(empty.find("holds no .png") != std::string::npos);
}

TEST_CASE("bad files: a text file named .jpg fails the scan; a truncated PNG fails when loaded; both named") {
  t::scratch_dir root;
  png(root / "a/1.png", 3, 1);
  t::write_text(root / "a/2.jpg", "I am text\n");
  const auto msg = file_error_of([&] { data::image_folder(root.path().string(), {3, 4, 4}); });
  CHECK(mentions(msg, root / "a/2.jpg"));
  CHECK(msg.find("neither a PNG nor a JPEG") != std::string::npos);
  std::filesystem::remove(root / "a/2.jpg");
  // The header survives the cut, so the scan passes and load() is what fails, naming the file.
  auto bytes = t::encode_png(t::pattern_pixels(16, 16, 3, 2), 16, 16, 3);
  bytes.resize(bytes.size() / 2);
  t::write_file(root / "a/2.png", bytes);
  const data::image_folder f(root.path().string(), {3, 4, 4});
  std::vector<float> out(48);
  CHECK_NOTHROW(f.load(0, out));
  const auto load_msg = file_error_of([&] { f.load(1, out); });
  CHECK(mentions(load_msg, root / "a/2.png"));
  CHECK(file_error_of([&] { static_cast<void>(f.read_all()); }) == load_msg);
}

TEST_CASE("images of mixed channel counts are an error naming a grey and a colour file") {
  t::scratch_dir root;
  png(root / "a/colour.png", 3, 1);
  png(root / "b/grey.png", 1, 2);
  const auto msg = file_error_of([&] { data::image_folder(root.path().string(), {3, 4, 4}); });
  CHECK(msg.find("mixed channel counts") != std::string::npos);
  CHECK(mentions(msg, root / "a/colour.png"));
  CHECK(mentions(msg, root / "b/grey.png"));
}

TEST_CASE("train/test roots: both folders required, with the same classes") {
  t::scratch_dir root;
  png(root / "train/a/1.png", 3, 1);
  png(root / "train/b/1.png", 3, 2);
  const auto no_test = file_error_of([&] { data::open_train_test_folders(root.path().string(), {3, 4, 4}); });
  CHECK(mentions(no_test, root.path()));
  CHECK(no_test.find("no test/ folder") != std::string::npos);
  png(root / "test/a/1.png", 3, 3);
  const auto differ = file_error_of([&] { data::open_train_test_folders(root.path().string(), {3, 4, 4}); });
  CHECK(differ.find("same classes") != std::string::npos);
  png(root / "test/b/1.png", 3, 4);
  const auto folders = data::open_train_test_folders(root.path().string(), {3, 4, 4});
  CHECK(folders.train.size() == 2);
  CHECK(folders.test.classes() == folders.train.classes());
  t::scratch_dir other;
  png(other / "test/a/1.png", 3, 1);
  CHECK(file_error_of([&] { data::open_train_test_folders(other.path().string(), {}); }).find("no train/ folder") !=
        std::string::npos);
}
