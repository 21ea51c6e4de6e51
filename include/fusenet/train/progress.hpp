// SPDX-License-Identifier: MIT
// The training progress bar: one line, sized to the terminal, redrawn in place, shown only on a terminal.
#pragma once

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace fusenet {

/// What a progress line shows.
struct progress_state {
  std::size_t epoch = 1;   ///< 1-based
  std::size_t epochs = 1;  ///< of the run
  std::size_t done = 0;    ///< steps done this epoch
  std::size_t total = 0;   ///< steps this epoch
  double images_per_second = 0;
  double loss = 0;         ///< mean training loss of the epoch so far
  double eta_seconds = 0;  ///< until the end of the epoch
};

/// The width of the terminal on file descriptor `fd` (ioctl TIOCGWINSZ), else $COLUMNS, else 80.
inline std::size_t terminal_columns(int fd) {
  winsize ws{};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* env = std::getenv("COLUMNS")) {
    const long v = std::strtol(env, nullptr, 10);
    if (v > 0 && v < 10000) return static_cast<std::size_t>(v);
  }
  return 80;
}

/// One progress line, padded with spaces to exactly columns - 1 characters (all ASCII), so that redrawing it
/// after '\r' overwrites the previous one and the cursor never reaches the last column, where a terminal would
/// wrap. The bar takes the width the text leaves; on a narrow terminal the rate, then the ETA, then the bar are
/// left out, and at worst the line is cut. Ensures: result.size() == max(columns, 1) - 1.
inline std::string progress_line(std::size_t columns, const progress_state& s) {
  const std::size_t width = columns > 0 ? columns - 1 : 0;
  char buf[160];
  std::snprintf(buf, sizeof buf, "epoch %zu/%zu ", s.epoch, s.epochs);
  const std::string head = buf;
  std::snprintf(buf, sizeof buf, " %zu/%zu", s.done, s.total);
  const std::string count = buf;
  std::snprintf(buf, sizeof buf, "  loss %.4f", s.loss);
  const std::string loss = buf;
  std::snprintf(buf, sizeof buf, "  %.0f img/s", std::isfinite(s.images_per_second) ? s.images_per_second : 0.0);
  const std::string rate = buf;
  std::snprintf(buf, sizeof buf, "  ETA %.0fs", std::isfinite(s.eta_seconds) ? std::max(0.0, s.eta_seconds) : 0.0);
  const std::string eta = buf;
  constexpr std::size_t min_bar = 10;  // a bar narrower than this says nothing; drop text first
  std::string tail = count + loss + rate + eta;
  if (head.size() + tail.size() + 2 + min_bar > width) tail = count + loss + eta;
  if (head.size() + tail.size() + 2 + min_bar > width) tail = count + loss;
  std::string line = head;
  if (head.size() + tail.size() + 2 + min_bar <= width) {
    const std::size_t bar = width - head.size() - tail.size() - 2;
    const std::size_t filled = s.total == 0 ? 0 : std::min(bar, bar * std::min(s.done, s.total) / s.total);
    line += '[' + std::string(filled, '#') + std::string(bar - filled, '.') + ']';
  }
  line += tail;
  line.resize(width, ' ');  // pads, or cuts a line that still does not fit
  return line;
}

/// Draws progress lines on a stream when it is a terminal (or when forced), and erases the last one.
class progress_bar {
 public:
  /// Shows the bar on `out` if `enabled`; `columns` 0 measures the terminal of `out` at every draw (it may be
  /// resized during a run).
  progress_bar(std::FILE* out, bool enabled, std::size_t columns = 0)
      : out_(out), enabled_(enabled && out != nullptr), columns_(columns) {}

  /// Whether the stream is a terminal, which is when a progress bar should be shown by default.
  static bool is_terminal(std::FILE* out) { return out != nullptr && isatty(fileno(out)) != 0; }

  /// Redraws the line in place.
  void draw(const progress_state& s) {
    if (!enabled_) return;
    const std::size_t cols = columns_ ? columns_ : terminal_columns(fileno(out_));
    const std::string line = progress_line(cols, s);
    std::fprintf(out_, "\r%s", line.c_str());
    std::fflush(out_);
    drawn_ = line.size();
  }
  /// Erases the line, so that what is printed next starts at column 0 of a clean line.
  void clear() {
    if (!enabled_ || drawn_ == 0) return;
    std::fprintf(out_, "\r%s\r", std::string(drawn_, ' ').c_str());
    std::fflush(out_);
    drawn_ = 0;
  }
  [[nodiscard]] bool enabled() const { return enabled_; }

 private:
  std::FILE* out_;
  bool enabled_;
  std::size_t columns_;
  std::size_t drawn_ = 0;
};

}  // namespace fusenet
