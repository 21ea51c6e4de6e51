// SPDX-License-Identifier: MIT
// Replays every file of the fuzz corpora (seeds and past fuzzer findings): the readers either succeed or throw
// fusenet::file_error, and the seeds that describe the fuzzers' network load into it, or not, as they should.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <typeinfo>
#include <vector>

#include "fuzz/harness.hpp"

namespace fs = std::filesystem;

namespace {

const fs::path corpus_dir = fs::path(FUSENET_FUZZ_CORPUS_DIR);

std::vector<char> slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<fs::path> files_in(const std::string& name) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(corpus_dir / name))
    if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Runs one input; returns "ok", "file_error" or "weights_mismatch", and fails the test on anything else.
template <class F>
std::string outcome(const fs::path& p, F run) {
  const auto bytes = slurp(p);
  try {
    run(std::span<const char>(bytes));
    return "ok";
  } catch (const fusenet::weights_mismatch&) {
    return "weights_mismatch";
  } catch (const fusenet::file_error&) {
    return "file_error";
  } catch (const std::exception& e) {
    FAIL_CHECK(p.string() << ": threw " << typeid(e).name() << ": " << e.what());
  } catch (...) {
    FAIL_CHECK(p.string() << ": threw a non-std exception");
  }
  return "other";
}

}  // namespace

TEST_CASE("fuzz corpus: safetensors inputs parse and load, or throw file_error") {
  const auto files = files_in("safetensors");
  REQUIRE(files.size() >= 10);
  for (const auto& p : files) {
    CAPTURE(p.string());
    const auto result = outcome(p, fusenet::fuzz::safetensors_input);
    const auto name = p.filename().string();
    // The hand-made seeds state their expected outcome in their name; fuzzer findings only need to not crash.
    if (name == "valid_fuzz_net.safetensors") CHECK(result == "ok");
    if (name.starts_with("valid_") && name != "valid_fuzz_net.safetensors") CHECK(result == "weights_mismatch");
    if (name.starts_with("wrong_") || name.starts_with("missing_")) CHECK(result == "weights_mismatch");
    if (!name.starts_with("valid_") && !name.starts_with("wrong_") && !name.starts_with("missing_") &&
        !name.starts_with("crash-") && !name.starts_with("oom-") && !name.starts_with("timeout-"))
      CHECK(result == "file_error");
  }
}

TEST_CASE("fuzz corpus: the valid network seed loads the values torch saved") {
  const auto bytes = slurp(corpus_dir / "safetensors" / "valid_fuzz_net.safetensors");
  const auto file = fusenet::io::read_safetensors_bytes(bytes, "seed");
  fusenet::model<fusenet::fuzz::fuzz_net, fusenet::mode::train> m{/*seed=*/9};
  const std::string path = fusenet::fuzz::scratch_path("_replay.safetensors");
  fusenet::fuzz::write_bytes(path, bytes);
  fusenet::load(m, path);
  std::remove(path.c_str());
  std::size_t checked = 0;
  for (const auto& t : m.tensors()) {
    CAPTURE(t.name);
    const auto& entry = file.tensors.at(t.name);
    if (t.counter != nullptr) {
      CHECK(*t.counter == fusenet::io::read_i64_scalar(entry, t.name));
    } else {
      REQUIRE(entry.bytes.size() == t.spec.size() * sizeof(float));
      CHECK(std::memcmp(entry.bytes.data(), t.value, entry.bytes.size()) == 0);
    }
    ++checked;
  }
  CHECK(checked == 9);  // conv weight/bias, BN weight/bias/running_mean/running_var/num_batches_tracked, dense weight/bias
}

TEST_CASE("fuzz corpus: IDX inputs (raw, gzipped, and their gzip-compressed form) read or throw file_error") {
  const auto files = files_in("idx");
  REQUIRE(files.size() >= 10);
  for (const auto& p : files) {
    CAPTURE(p.string());
    CHECK(outcome(p, fusenet::fuzz::idx_input) == "ok");  // idx_input keeps file_error to itself
    const auto name = p.filename().string();
    if (!name.starts_with("valid_")) continue;
    // The valid seeds must really be read, as images or labels, so the fuzzer starts from accepted inputs.
    const std::string path = fusenet::fuzz::scratch_path("_replay.idx");
    fusenet::fuzz::write_bytes(path, slurp(p));
    if (name.find("images") != std::string::npos) {
      const auto images = fusenet::data::read_idx_images(path);
      CHECK(images.shape()[0] == 3);
      CHECK(images.shape()[2] == 4);
      CHECK(images.shape()[3] == 5);
    } else {
      CHECK(fusenet::data::read_idx_labels(path).size() == 6);
    }
    std::remove(path.c_str());
  }
}
