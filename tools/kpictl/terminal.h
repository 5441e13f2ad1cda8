// What kpictl draws on a terminal: a progress line and charts. Off a
// terminal neither writes an escape code or a carriage return.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "kpidb/query.h"

namespace kpidb::kpictl {

bool IsTerminal(std::FILE* f);
// The terminal's columns (TIOCGWINSZ), else $COLUMNS, else 80.
int TerminalWidth(std::FILE* f);

// A progress line redrawn in place on a terminal (at most 10 times a
// second): what, a bar of done/total, points, points/s and the time left.
// Off a terminal it draws nothing.
class Progress {
 public:
  Progress(std::FILE* out, std::string what, uint64_t total);
  void Update(uint64_t done, uint64_t points);
  // The final state, and a newline (on a terminal).
  void Finish(uint64_t points);
  // Erases the line (before other output to the terminal); the next
  // Update draws it again.
  void Clear();

 private:
  void Draw(uint64_t done, uint64_t points);
  std::FILE* const out_;
  const bool terminal_;
  const std::string what_;
  const uint64_t total_;
  const std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  uint64_t done_ = 0;
  bool drawn_ = false;
};

// The series as a line chart `width` columns wide: a y axis with its
// values, the series plotted in one colour each (when `colour`), an x axis
// with its times, a legend; with more than kChartMaxLines series, a
// sparkline per series instead.
inline constexpr size_t kChartMaxLines = 6;
std::string RenderChart(const std::vector<query::ResultSeries>& series, int width, bool colour);

}  // namespace kpidb::kpictl
