// SPDX-License-Identifier: MIT
// End to end: examples/image_folder trains to high accuracy on a generated folder of three easy classes
// (horizontal stripes, vertical stripes, checkerboards, in random colours, phases and noise), eval reproduces
// the accuracy from the saved weights, and a corrupt image stops a run naming the file without touching the
// saved weights. The example's path comes from FUSENET_IMAGE_FOLDER (set by tests/data/meson.build).
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "image_writer.hpp"

namespace t = fusenet::test;
namespace fs = std::filesystem;

namespace {

const char* const class_names[] = {"checker", "horizontal", "vertical"};

// One 32×32 RGB image of class c: two random colours laid out as the class's pattern, plus noise.
std::vector<std::uint8_t> pattern(std::size_t c, std::mt19937& rng) {
  std::uniform_int_distribution<int> colour(0, 255), period(3, 6), phase(0, 11), noise(-20, 20);
  int fg[3], bg[3];
  for (int k = 0; k < 3; ++k) {
    fg[k] = colour(rng);
    bg[k] = (fg[k] + 128) % 256;  // far from fg in every channel, so the pattern is always visible
  }
  const int p = period(rng), ph = phase(rng);
  std::vector<std::uint8_t> px(32 * 32 * 3);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x) {
      const bool on = c == 0 ? (((x + ph) / p + (y + ph) / p) % 2 == 0) : c == 1 ? ((y + ph) / p) % 2 == 0 : ((x + ph) / p) % 2 == 0;
      for (int k = 0; k < 3; ++k) {
        const int v = (on ? fg[k] : bg[k]) + noise(rng);
        px[static_cast<std::size_t>((y * 32 + x) * 3 + k)] = static_cast<std::uint8_t>(std::clamp(v, 0, 255));
      }
    }
  return px;
}

// ROOT/{train,test}/<class>/NNN.{png,jpg}: every fifth image a JPEG, so both decoders take part.
void make_dataset(const fs::path& root, std::size_t train_per_class, std::size_t test_per_class) {
  std::mt19937 rng(2024);
  for (const auto& [split, count] : {std::pair{"train", train_per_class}, std::pair{"test", test_per_class}})
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t i = 0; i < count; ++i) {
        const auto px = pattern(c, rng);
        const bool jpeg = i % 5 == 4;
        const auto name = std::to_string(1000 + i) + (jpeg ? ".jpg" : ".png");
        t::write_file(root / split / class_names[c] / name, jpeg ? t::encode_jpeg(px, 32, 32, 3, 90) : t::encode_png(px, 32, 32, 3));
      }
}

struct run_result {
  int status;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

run_result run(const std::string& args, const fs::path& scratch) {
  const char* exe = std::getenv("FUSENET_IMAGE_FOLDER");
  REQUIRE_MESSAGE(exe != nullptr, "set FUSENET_IMAGE_FOLDER to the image_folder executable");
  const auto out = scratch / "stdout.txt", err = scratch / "stderr.txt";
  const std::string cmd = std::string(exe) + " " + args + " > '" + out.string() + "' 2> '" + err.string() + "'";
  const int raw = std::system(cmd.c_str());
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(out), slurp(err)};
}

double final_accuracy(const std::string& out) {
  const auto at = out.rfind("test accuracy: ");
  REQUIRE(at != std::string::npos);
  return std::stod(out.substr(at + 15));
}

}  // namespace

TEST_CASE("image_folder train reaches high test accuracy on three synthetic classes; eval agrees from the file") {
  t::scratch_dir dir;
  make_dataset(dir / "data", 120, 40);
  const auto weights = dir / "w.safetensors", log = dir / "log.csv";
  const auto r = run("train --data '" + (dir / "data").string() + "' --epochs 4 --batch 32 --seed 3 --threads 2 "
                     "--loader-threads 1 --save '" + weights.string() + "' --log '" + log.string() + "'",
                     dir.path());
  INFO(r.out);
  INFO(r.err);
  REQUIRE(r.status == 0);
  const double acc = final_accuracy(r.out);
  CHECK(acc >= 0.9);
  // One log line per epoch after the header, and the last test accuracy is the printed one.
  std::istringstream lines(slurp(log));
  std::vector<std::string> rows;
  for (std::string line; std::getline(lines, line);) rows.push_back(line);
  REQUIRE(rows.size() == 5);
  CHECK(rows[0].starts_with("epoch,"));
  const auto e = run("eval --data '" + (dir / "data").string() + "' --weights '" + weights.string() + "'", dir.path());
  INFO(e.err);
  REQUIRE(e.status == 0);
  CHECK(final_accuracy(e.out) == doctest::Approx(acc).epsilon(1e-9));

  // A truncated image in the middle of the training set: the run stops naming it; the weights file is unchanged.
  const auto before = slurp(weights);
  const auto bad = dir / "data/train/horizontal/1050.png";
  auto bytes = t::encode_png(t::pattern_pixels(32, 32, 3, 5), 32, 32, 3);
  bytes.resize(bytes.size() / 2);  // the header survives, so the folder scan passes and training reaches it
  t::write_file(bad, bytes);
  const auto stopped = run("train --data '" + (dir / "data").string() + "' --epochs 2 --batch 32 --save '" +
                               weights.string() + "'",
                           dir.path());
  INFO(stopped.err);
  CHECK(stopped.status == 1);
  CHECK(stopped.err.find(bad.string()) != std::string::npos);
  CHECK(stopped.err.find("(epoch 1, batch ") != std::string::npos);  // found by the loader, mid-epoch
  CHECK(stopped.err.find("no epoch completed") != std::string::npos);
  CHECK(slurp(weights) == before);
}

TEST_CASE("image_folder: a root without train/ or test/, and a text file named .jpg, are errors naming them") {
  t::scratch_dir dir;
  t::write_file(dir / "data/train/a/1.png", t::encode_png(std::vector<std::uint8_t>(32 * 32 * 3, 1), 32, 32, 3));
  const auto missing = run("train --data '" + (dir / "data").string() + "' --epochs 1", dir.path());
  CHECK(missing.status == 1);
  CHECK(missing.err.find("has no test/ folder") != std::string::npos);
  t::write_file(dir / "data/test/a/1.png", t::encode_png(std::vector<std::uint8_t>(32 * 32 * 3, 1), 32, 32, 3));
  t::write_text(dir / "data/test/a/2.jpg", "not a picture");
  const auto text = run("eval --data '" + (dir / "data").string() + "' --weights nowhere", dir.path());
  CHECK(text.status == 1);
  CHECK(text.err.find((dir / "data/test/a/2.jpg").string()) != std::string::npos);
}
