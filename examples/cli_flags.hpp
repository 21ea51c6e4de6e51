// SPDX-License-Identifier: MIT
// The command-line flags of the example programs (fashion_mnist, image_folder): `--name value...` after a command,
// each flag at most once, --help / -h anywhere, --version, and every value checked where it is read, before the
// program starts any work.
#pragma once

#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <fusenet/config.hpp>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace cli {

/// A mistake on the command line: the program prints it with the usage and exits with status 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// --help or -h among a command's flags: the program prints the usage and exits with status 0.
struct help_request {};

/// A command's flags. `known` maps each accepted flag to how many values follow it (--dump-logits N OUT.npy: 2).
/// An unknown flag, a flag given twice or one without its values is a usage_error; --help / -h throws help_request.
class flags {
 public:
  flags(int argc, char** argv, int first, const std::map<std::string, int>& known) {
    for (int i = first; i < argc; ++i) {
      const std::string name = argv[i];
      if (name == "--help" || name == "-h") throw help_request{};
      const auto k = known.find(name);
      if (k == known.end()) throw usage_error("unknown option '" + name + "'");
      if (values_.count(name) != 0) throw usage_error("option " + name + " given twice");
      if (i + k->second >= argc)
        throw usage_error("option " + name + " needs " + std::to_string(k->second) + " value(s)");
      auto& v = values_[name];
      for (int j = 0; j < k->second; ++j) v.push_back(argv[++i]);
    }
  }

  /// Whether the flag was given.
  [[nodiscard]] bool has(const std::string& n) const { return values_.count(n) != 0; }

  /// The flag's i-th value, or `fallback` when the flag is absent.
  [[nodiscard]] std::string text(const std::string& n, const std::string& fallback, std::size_t i = 0) const {
    return has(n) ? values_.at(n)[i] : fallback;
  }

  /// The flag's i-th value as a whole number >= lo, or `fallback` when the flag is absent.
  [[nodiscard]] long long integer(const std::string& n, long long fallback, long long lo, std::size_t i = 0) const {
    if (!has(n)) return fallback;
    const std::string& s = values_.at(n)[i];
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || s.empty() || v < lo)
      throw usage_error(n + " expects a whole number \u2265 " + std::to_string(lo) + ", got '" + s + "'");
    return v;
  }

  /// The flag's value as a positive finite number, or `fallback` when the flag is absent.
  [[nodiscard]] float real(const std::string& n, float fallback) const {
    if (!has(n)) return fallback;
    const std::string& s = values_.at(n)[0];
    std::size_t used = 0;
    float v = 0;
    try {
      v = std::stof(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || s.empty() || !(v > 0.0f) || !std::isfinite(v))
      throw usage_error(n + " expects a positive number, got '" + s + "'");
    return v;
  }

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

/// A usage error now, rather than after an epoch, if `path` (an output file) cannot be created: its folder must
/// exist and take a new file. Probes with a scratch file beside it, removed again; an existing file is left as is.
inline void check_writable(const std::string& flag, const std::string& path) {
  const std::string probe = path + ".fusenet-probe";
  {
    std::ofstream out(probe, std::ios::binary);
    if (!out) throw usage_error(flag + " " + path + ": cannot write there (no such folder, or no permission)");
  }
  std::remove(probe.c_str());
}

/// Handles a program's first argument when it is --help / -h (prints `usage` to stdout) or --version (prints
/// "PROGRAM (fusenet VERSION)"); true when it was one of them, and the program then exits with status 0.
inline bool help_or_version(const std::string& arg, const char* program, const char* usage) {
  if (arg == "--help" || arg == "-h") {
    std::cout << usage;
    return true;
  }
  if (arg == "--version") {
    std::cout << program << " (fusenet " << fusenet::version() << ")\n";
    return true;
  }
  return false;
}

}  // namespace cli
