// SPDX-License-Identifier: MIT
// safetensors reading (every field validated before anything is returned) and atomic writing.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <fusenet/io/safetensors.hpp>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace fusenet::io {
namespace {

// The reference implementation (huggingface/safetensors) rejects headers above 100 MB; so do we, before allocating.
constexpr std::uint64_t max_header_size = 100'000'000;

std::string range_text(std::uint64_t begin, std::uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// Product of the shape times the item size, or nothing on overflow.
std::optional<std::uint64_t> byte_size(const std::vector<std::size_t>& shape, std::size_t item) {
  std::uint64_t n = item;
  for (auto d : shape) {
    if (d != 0 && n > std::numeric_limits<std::uint64_t>::max() / d) return std::nullopt;
    n *= d;
  }
  return n;
}

std::vector<std::size_t> read_shape(const nlohmann::json& j, const std::string& where) {
  if (!j.is_array()) throw file_error(where + ": \"shape\" must be an array of non-negative integers, found " + j.dump());
  std::vector<std::size_t> shape;
  for (const auto& d : j) {
    if (!d.is_number_unsigned())
      throw file_error(where + ": \"shape\" must hold non-negative integers, found " + j.dump());
    shape.push_back(d.get<std::size_t>());
  }
  return shape;
}

struct placed {
  std::uint64_t begin, end;
  const std::string* key;
};

}  // namespace

safetensors_file read_safetensors(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw file_error(path + ": safetensors file does not exist");
  if (fs::is_directory(path, ec)) throw file_error(path + ": is a directory, expected a safetensors file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw file_error(path + ": cannot open safetensors file: " + std::strerror(errno));
  const auto end_pos = in.tellg();
  if (end_pos < 0) throw file_error(path + ": cannot determine the file size");
  std::vector<char> bytes(static_cast<std::size_t>(end_pos));
  in.seekg(0);
  if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size())))
    throw file_error(path + ": read failed (file changed while reading?)");
  return read_safetensors_bytes(bytes, path);
}

safetensors_file read_safetensors_bytes(std::span<const char> bytes, const std::string& path) {
  const std::uint64_t file_size = bytes.size();
  if (file_size < 8)
    throw file_error(path + ": file is " + std::to_string(file_size) +
                     " bytes, too short for the 8-byte header length of a safetensors file (truncated?)");
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i)  // little-endian u64
    header_len = (header_len << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  if (header_len > file_size - 8)
    throw file_error(path + ": header length " + std::to_string(header_len) + " exceeds the " +
                     std::to_string(file_size - 8) + " bytes that follow it (truncated file, or not safetensors)");
  if (header_len > max_header_size)
    throw file_error(path + ": header length " + std::to_string(header_len) + " is implausible (limit " +
                     std::to_string(max_header_size) + ")");
  const std::uint64_t buffer_size = file_size - 8 - header_len;
  const auto header = bytes.subspan(8, static_cast<std::size_t>(header_len));
  const auto buffer = bytes.subspan(static_cast<std::size_t>(8 + header_len));

  // nlohmann keeps the last of duplicate keys silently; a duplicated tensor name means a broken writer, so detect it.
  std::string duplicate;
  auto on_event = [&, seen = std::set<std::string>{}](int depth, nlohmann::json::parse_event_t event,
                                                         nlohmann::json& parsed) mutable {
    if (depth == 1 && event == nlohmann::json::parse_event_t::key) {
      auto k = parsed.get<std::string>();
      if (!seen.insert(k).second && duplicate.empty()) duplicate = k;
    }
    return true;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header.begin(), header.end(), on_event);
  } catch (const nlohmann::json::exception& e) {
    throw file_error(path + ": safetensors header is not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw file_error(path + ": safetensors header is not a JSON object");
  if (!duplicate.empty()) throw file_error(path + ": key '" + duplicate + "' appears more than once in the header");

  safetensors_file out;
  std::vector<placed> places;
  for (const auto& [key, value] : j.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) throw file_error(path + ": \"__metadata__\" must be an object of strings");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string())
          throw file_error(path + ": \"__metadata__\" entry '" + mk + "' must be a string, found " + mv.dump());
        out.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    const std::string where = path + ": tensor '" + key + "'";
    if (!value.is_object()) throw file_error(where + ": entry must be an object, found " + value.dump());
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!value.contains(field)) throw file_error(where + ": missing \"" + field + "\"");
    const auto& jd = value["dtype"];
    if (!jd.is_string()) throw file_error(where + ": \"dtype\" must be a string, found " + jd.dump());
    tensor_entry t;
    t.dtype = jd.get<std::string>();
    const std::size_t item = safetensors_item_size(t.dtype);
    if (item == 0) throw file_error(where + ": unknown dtype '" + t.dtype + "'");
    t.shape = read_shape(value["shape"], where);
    const auto& jo = value["data_offsets"];
    if (!jo.is_array() || jo.size() != 2 || !jo[0].is_number_unsigned() || !jo[1].is_number_unsigned())
      throw file_error(where + ": \"data_offsets\" must be [begin, end] with non-negative integers, found " +
                       jo.dump());
    const auto begin = jo[0].get<std::uint64_t>(), end = jo[1].get<std::uint64_t>();
    if (begin > end)
      throw file_error(where + ": data_offsets " + range_text(begin, end) + " have begin > end");
    if (end > buffer_size)
      throw file_error(where + ": data_offsets " + range_text(begin, end) + " exceed the data buffer of " +
                       std::to_string(buffer_size) + " bytes (truncated file?)");
    const auto expected = byte_size(t.shape, item);
    if (!expected || *expected != end - begin)
      throw file_error(where + ": data_offsets " + range_text(begin, end) + " hold " + std::to_string(end - begin) +
                       " bytes, but shape " + detail::shape_text(t.shape) + " of " + t.dtype + " needs " +
                       (expected ? std::to_string(*expected) : std::string("more than 2^64")));
    t.bytes.assign(buffer.begin() + static_cast<std::ptrdiff_t>(begin),
                   buffer.begin() + static_cast<std::ptrdiff_t>(end));
    auto [it, inserted] = out.tensors.emplace(key, std::move(t));
    if (begin != end) places.push_back({begin, end, &it->first});
  }
  std::sort(places.begin(), places.end(), [](const placed& a, const placed& b) { return a.begin < b.begin; });
  for (std::size_t i = 1; i < places.size(); ++i)
    if (places[i].begin < places[i - 1].end)
      throw file_error(path + ": tensors '" + *places[i - 1].key + "' " +
                       range_text(places[i - 1].begin, places[i - 1].end) + " and '" + *places[i].key + "' " +
                       range_text(places[i].begin, places[i].end) + " have overlapping data_offsets");
  // As the reference implementation (its MetadataIncompleteBuffer / InvalidOffset errors), the tensors must tile
  // the data buffer exactly: bytes no tensor owns mean a corrupt, concatenated or hand-edited file, which
  // safetensors.torch.load_file would refuse too.
  std::uint64_t covered = 0;
  for (const auto& p : places) {
    if (p.begin != covered)
      throw file_error(path + ": bytes " + range_text(covered, p.begin) + " of the data buffer belong to no tensor ('" +
                       *p.key + "' starts at " + std::to_string(p.begin) + ")");
    covered = p.end;
  }
  if (covered != buffer_size)
    throw file_error(path + ": " + std::to_string(buffer_size - covered) + " trailing bytes after the last tensor " +
                     "(data buffer is " + std::to_string(buffer_size) + " bytes, tensors end at " +
                     std::to_string(covered) + "; concatenated or corrupt file)");
  return out;
}

void write_safetensors(const std::string& path, const safetensors_file& file) {
  // Validate everything before touching the disk.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;  // first, as the reference writer does
  std::uint64_t offset = 0;
  for (const auto& [key, t] : file.tensors) {
    const std::string where = path + ": tensor '" + key + "'";
    if (key.empty() || key == "__metadata__") throw file_error(where + ": reserved or empty tensor name");
    const std::size_t item = safetensors_item_size(t.dtype);
    if (item == 0) throw file_error(where + ": unknown dtype '" + t.dtype + "'");
    const auto expected = byte_size(t.shape, item);
    if (!expected || *expected != t.bytes.size())
      throw file_error(where + ": holds " + std::to_string(t.bytes.size()) + " bytes, but shape " +
                       detail::shape_text(t.shape) + " of " + t.dtype + " needs " +
                       (expected ? std::to_string(*expected) : std::string("more than 2^64")));
    header[key] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw file_error(path + ": cannot encode the header (names and metadata must be UTF-8): " + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // the data buffer then starts 8-byte aligned
  std::string head(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) head[i] = static_cast<char>((text.size() >> (8 * i)) & 0xff);

  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw file_error(path + ": cannot create " + tmp + ": " + std::strerror(errno));
  auto fail = [&](const std::string& what) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    throw file_error(path + ": " + what + " " + tmp + " failed: " + std::strerror(err) + "; " + path +
                     " was left unchanged");
  };
  auto write_all = [&](const char* p, std::size_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail("writing");
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  };
  write_all(head.data(), head.size());
  write_all(text.data(), text.size());
  for (const auto& [key, t] : file.tensors) write_all(t.bytes.data(), t.bytes.size());
  if (::fsync(fd) != 0) fail("flushing");  // data on disk before the rename makes it visible
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw file_error(path + ": closing " + tmp + " failed: " + std::strerror(err) + "; " + path +
                     " was left unchanged");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw file_error(path + ": renaming " + tmp + " failed: " + std::strerror(err) + "; " + path +
                     " was left unchanged");
  }
}

}  // namespace fusenet::io
