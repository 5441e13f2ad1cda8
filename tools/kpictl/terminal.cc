#include "tools/kpictl/terminal.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "kpidb/series.h"
#include "tools/kpictl/text.h"

namespace kpidb::kpictl {
namespace {

using Clock = std::chrono::steady_clock;

// Distinct colours (ANSI 256), then the 8 basic ones.
const char* const kColours[] = {"\x1b[38;5;39m", "\x1b[38;5;208m", "\x1b[38;5;70m", "\x1b[38;5;199m",
                                "\x1b[38;5;178m", "\x1b[38;5;141m", "\x1b[38;5;37m", "\x1b[38;5;160m"};
constexpr const char* kReset = "\x1b[0m";
constexpr size_t kColourCount = sizeof(kColours) / sizeof(kColours[0]);

std::string Short(double v) {
  char buf[32];
  const double a = std::fabs(v);
  if (a != 0 && (a >= 1e6 || a < 1e-3)) {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.4g", v);
  }
  return buf;
}

std::string Pad(std::string s, size_t width, bool left = false) {
  if (s.size() >= width) return s.substr(0, width);
  return left ? s + std::string(width - s.size(), ' ') : std::string(width - s.size(), ' ') + s;
}

// The time of a column, as short as the range allows.
std::string AxisTime(int64_t ms, int64_t span) {
  std::string t = FormatTime(ms);  // 2026-12-01T10:00:00Z (or .123Z)
  if (span >= 2 * 86'400'000LL) return t.substr(0, 10);
  return t.substr(0, 10) + " " + t.substr(11, 5);
}

// A series' values averaged into `cols` columns over [t0, t0 + span]:
// (sum, count) per column; NaN values (fill null) are left out.
struct Columns {
  std::vector<double> sum, n;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double mean(int x) const { return sum[x] / n[x]; }
};
Columns IntoColumns(const query::ResultSeries& s, int64_t t0, int64_t span, int cols) {
  Columns c{std::vector<double>(cols, 0), std::vector<double>(cols, 0)};
  for (size_t i = 0; i < s.values.size(); ++i) {
    const double v = s.values[i];
    if (std::isnan(v)) continue;
    const int x = static_cast<int>((static_cast<__int128>(s.timestamps_ms[i] - t0) * (cols - 1)) / span);
    c.sum[x] += v;
    c.n[x] += 1;
    c.min = std::min(c.min, v);
    c.max = std::max(c.max, v);
  }
  return c;
}

}  // namespace

bool IsTerminal(std::FILE* f) { return ::isatty(::fileno(f)) != 0; }

int TerminalWidth(std::FILE* f) {
  struct winsize ws;
  if (::ioctl(::fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS")) {
    const int n = std::atoi(c);
    if (n > 0) return n;
  }
  return 80;
}

Progress::Progress(std::FILE* out, std::string what, uint64_t total)
    : out_(out), terminal_(IsTerminal(out)), what_(std::move(what)), total_(total), start_(Clock::now()) {}

void Progress::Clear() {
  if (!terminal_ || !drawn_) return;
  std::fputs("\r\x1b[K", out_);
  std::fflush(out_);
  drawn_ = false;
}

void Progress::Update(uint64_t done, uint64_t points) {
  done_ = done;
  if (!terminal_) return;
  const auto now = Clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  Draw(done, points);
}

void Progress::Finish(uint64_t points) {
  if (!terminal_) return;
  Draw(total_, points);
  std::fputc('\n', out_);
  std::fflush(out_);
}

void Progress::Draw(uint64_t done, uint64_t points) {
  const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  const double fraction = total_ == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
  const double rate = seconds > 0 ? static_cast<double>(points) / seconds : 0;
  char tail[128];
  const double left = fraction > 0 ? seconds * (1 - fraction) / fraction : 0;
  std::snprintf(tail, sizeof tail, " %3.0f%%  %llu points  %s points/s  ETA %s", fraction * 100,
                static_cast<unsigned long long>(points), Short(rate).c_str(),
                fraction >= 1 ? "0s" : FormatSeconds(left).c_str());
  const int width = TerminalWidth(out_);
  std::string name = what_;
  const int room = width - static_cast<int>(std::string(tail).size()) - 4;
  const int name_width = std::min<int>(static_cast<int>(name.size()), std::max(8, room / 3));
  if (static_cast<int>(name.size()) > name_width) name = "…" + name.substr(name.size() - name_width + 1);
  const int bar = std::max(10, room - name_width);
  const int filled = static_cast<int>(fraction * bar);
  std::string line = "\r" + name + " [" + std::string(filled, '=') + (filled < bar ? ">" : "") +
                     std::string(std::max(0, bar - filled - 1), ' ') + "]" + tail + "\x1b[K";
  std::fputs(line.c_str(), out_);
  std::fflush(out_);
  drawn_ = true;
}

std::string RenderChart(const std::vector<query::ResultSeries>& series, int width, bool colour) {
  if (series.empty()) return "";
  int64_t t0 = std::numeric_limits<int64_t>::max(), t1 = std::numeric_limits<int64_t>::min();
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& s : series) {
    for (size_t i = 0; i < s.values.size(); ++i) {
      if (std::isnan(s.values[i])) continue;
      t0 = std::min(t0, s.timestamps_ms[i]);
      t1 = std::max(t1, s.timestamps_ms[i]);
      lo = std::min(lo, s.values[i]);
      hi = std::max(hi, s.values[i]);
    }
  }
  if (t0 > t1) return "(no values)\n";
  if (lo == hi) {
    lo -= 1;
    hi += 1;
  }
  auto paint = [&](size_t k, const std::string& text) {
    return colour ? kColours[k % kColourCount] + text + kReset : text;
  };
  std::vector<std::string> names;
  for (const auto& s : series) names.push_back(SeriesKey{s.metric, s.labels}.ToString());
  std::string out;
  const int64_t span = std::max<int64_t>(1, t1 - t0);

  if (series.size() > kChartMaxLines) {
    // A sparkline per series: name, line, min..max.
    static const char* const kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    size_t name_width = 0;
    for (const auto& n : names) name_width = std::max(name_width, n.size());
    name_width = std::min<size_t>(name_width, static_cast<size_t>(std::max(10, width / 3)));
    const int cols = std::max(10, width - static_cast<int>(name_width) - 24);
    for (size_t k = 0; k < series.size(); ++k) {
      const Columns c = IntoColumns(series[k], t0, span, cols);
      const double smin = c.min, smax = c.max;
      std::string line;
      for (int x = 0; x < cols; ++x) {
        if (c.n[x] == 0) {
          line += " ";
          continue;
        }
        const double v = c.mean(x);
        const int level = smax == smin ? 3 : static_cast<int>((v - smin) / (smax - smin) * 7 + 0.5);
        line += kBlocks[std::clamp(level, 0, 7)];
      }
      out += Pad(names[k], name_width, true) + " " + paint(k, line) + " " + Short(smin) + ".." + Short(smax) + "\n";
    }
    out += Pad("", name_width, true) + " " + AxisTime(t0, span) + " .. " + AxisTime(t1, span) + "\n";
    return out;
  }

  // A line chart: rows of cells, each series' mean in each column.
  const int label_width = 10;
  const int cols = std::max(10, width - label_width - 2);
  const int rows = 12;
  std::vector<std::vector<int>> cell(rows, std::vector<int>(cols, -1));  // series index
  for (size_t k = 0; k < series.size(); ++k) {
    const Columns c = IntoColumns(series[k], t0, span, cols);
    int prev_y = -1;
    for (int x = 0; x < cols; ++x) {
      if (c.n[x] == 0) continue;  // the line joins across empty columns
      const int y = std::clamp(static_cast<int>((c.mean(x) - lo) / (hi - lo) * (rows - 1) + 0.5), 0, rows - 1);
      // Join to the previous column so a line reads as one.
      const int from = prev_y < 0 ? y : std::min(prev_y, y), to = prev_y < 0 ? y : std::max(prev_y, y);
      for (int r = from; r <= to; ++r) cell[r][x] = static_cast<int>(k);
      prev_y = y;
    }
  }
  for (int r = rows - 1; r >= 0; --r) {
    std::string label;
    if (r == rows - 1) label = Short(hi);
    else if (r == 0) label = Short(lo);
    else if (r == (rows - 1) / 2) label = Short(lo + (hi - lo) * r / (rows - 1));
    out += Pad(label, label_width) + " │";
    for (int x = 0; x < cols; ++x) {
      out += cell[r][x] < 0 ? " " : paint(static_cast<size_t>(cell[r][x]), "•");
    }
    out += "\n";
  }
  out += std::string(label_width + 1, ' ') + "└";
  for (int x = 0; x < cols; ++x) out += "─";
  out += "\n";
  const std::string left = AxisTime(t0, span), right = AxisTime(t1, span);
  const int gap = cols + 1 - static_cast<int>(left.size()) - static_cast<int>(right.size());
  out += std::string(label_width + 1, ' ') + left + std::string(std::max(1, gap), ' ') + right + "\n";
  for (size_t k = 0; k < series.size(); ++k) out += "  " + paint(k, "•") + " " + names[k] + "\n";
  return out;
}

}  // namespace kpidb::kpictl
