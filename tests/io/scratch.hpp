// SPDX-License-Identifier: MIT
// A temporary directory per test case and whole-file read/write helpers, for the file-format tests.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace fusenet::test {

/// A fresh, empty directory, unique to this process and this object, removed when it goes out of scope.
struct scratch_dir {
  std::filesystem::path dir;
  scratch_dir() : dir(std::filesystem::temp_directory_path() / unique_name()) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  ~scratch_dir() { std::filesystem::remove_all(dir); }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  [[nodiscard]] std::string operator/(const std::string& name) const { return (dir / name).string(); }

 private:
  static std::string unique_name() {
    static std::atomic<unsigned> next{0};
    return "fusenet_test_" + std::to_string(::getpid()) + "_" + std::to_string(next++);
  }
};

/// The whole content of a file ("" if it cannot be read).
inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Writes `bytes` as the whole content of `path`.
inline void put(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace fusenet::test
