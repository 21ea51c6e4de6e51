// SPDX-License-Identifier: MIT
// Replays the data readers' fuzz corpora (tests/fuzz/corpus/{png,jpeg,cifar,csv}: seeds and past findings): a
// valid_* seed must be accepted, every other hand-made seed rejected with file_error, and nothing may crash.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <typeinfo>
#include <vector>

#include "fuzz/data_harness.hpp"

namespace fs = std::filesystem;

namespace {

const fs::path corpus_dir = fs::path(FUSENET_FUZZ_CORPUS_DIR);

std::vector<char> slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <class F>
void replay(const std::string& name, F run) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(corpus_dir / name))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 5);
  for (const auto& p : files) {
    CAPTURE(p.string());
    const auto bytes = slurp(p);
    std::string result = "ok";
    try {
      run(std::span<const char>(bytes));
    } catch (const fusenet::file_error& e) {
      result = "file_error";
      CHECK(std::string(e.what()).find("fuzz.") == 0);  // the message starts with the file's name
    } catch (const std::exception& e) {
      FAIL_CHECK("threw " << typeid(e).name() << ": " << e.what());
      result = "other";
    }
    const auto file = p.filename().string();
    const bool finding = file.starts_with("crash-") || file.starts_with("oom-") || file.starts_with("timeout-");
    if (file.starts_with("valid_")) CHECK(result == "ok");
    else if (!finding) CHECK(result == "file_error");
  }
}

}  // namespace

TEST_CASE("fuzz corpus: PNG") { replay("png", fusenet::fuzz::png_input); }
TEST_CASE("fuzz corpus: JPEG") { replay("jpeg", fusenet::fuzz::jpeg_input); }
TEST_CASE("fuzz corpus: CIFAR") { replay("cifar", fusenet::fuzz::cifar_input); }
TEST_CASE("fuzz corpus: CSV") { replay("csv", fusenet::fuzz::csv_input); }
