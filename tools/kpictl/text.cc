#include "tools/kpictl/text.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace kpidb::kpictl {
namespace {

Status Bad(std::string_view what, std::string_view text, std::string_view expected) {
  std::string msg(what);
  msg += ": cannot read \"";
  msg += text;
  msg += "\" (expected ";
  msg += expected;
  msg += ")";
  return Status::InvalidArgument(msg);
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// algorithm, written out here).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp + (mp < 10 ? 3 : -9);
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool ParseRfc3339(std::string_view s, int64_t* ms) {
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!Digits(s, 0, 4, &y) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2, &mo) || s[7] != '-' ||
      !Digits(s, 8, 2, &d)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
  size_t p = 10;
  int64_t frac_ms = 0;
  int64_t offset_min = 0;
  if (p < s.size()) {
    if (s[p] != 'T' && s[p] != 't' && s[p] != ' ') return false;
    if (!Digits(s, p + 1, 2, &h) || p + 3 >= s.size() || s[p + 3] != ':' || !Digits(s, p + 4, 2, &mi)) {
      return false;
    }
    p += 6;
    if (p < s.size() && s[p] == ':') {
      if (!Digits(s, p + 1, 2, &sec)) return false;
      p += 3;
      if (p < s.size() && s[p] == '.') {
        ++p;
        int64_t scale = 100;
        const size_t start = p;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
          frac_ms += (s[p] - '0') * scale;
          scale /= 10;
          ++p;
        }
        if (p == start) return false;
      }
    }
    if (h > 23 || mi > 59 || sec > 60) return false;
    if (p < s.size()) {
      if (s[p] == 'Z' || s[p] == 'z') {
        ++p;
      } else if (s[p] == '+' || s[p] == '-') {
        int oh, om;
        if (!Digits(s, p + 1, 2, &oh) || p + 3 >= s.size() || s[p + 3] != ':' ||
            !Digits(s, p + 4, 2, &om)) {
          return false;
        }
        offset_min = (oh * 60 + om) * (s[p] == '-' ? -1 : 1);
        p += 6;
      } else {
        return false;
      }
    }
  }
  if (p != s.size()) return false;
  const int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  *ms = ((days * 24 + h) * 60 + mi - offset_min) * 60'000 + sec * 1000 + frac_ms;
  return true;
}

}  // namespace

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<int64_t> ParseDuration(std::string_view text, std::string_view what) {
  const std::string_view expected = "a duration such as 30s, 5m, 1h, 1d, 2w or 1h30m";
  if (text.empty()) return Bad(what, text, expected);
  int64_t total = 0;
  size_t p = 0;
  while (p < text.size()) {
    int64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data() + p, text.data() + text.size(), n);
    if (ec != std::errc() || n < 0) return Bad(what, text, expected);
    p = static_cast<size_t>(end - text.data());
    int64_t unit = 0;
    if (text.substr(p, 2) == "ms") {
      unit = 1;
      p += 2;
    } else if (p < text.size()) {
      switch (text[p]) {
        case 's': unit = 1000; break;
        case 'm': unit = 60'000; break;
        case 'h': unit = 3'600'000; break;
        case 'd': unit = 86'400'000; break;
        case 'w': unit = 7 * 86'400'000LL; break;
        default: return Bad(what, text, expected);
      }
      ++p;
    } else {
      return Bad(what, text, expected);
    }
    if (n > INT64_MAX / unit || total > INT64_MAX - n * unit) return Bad(what, text, expected);
    total += n * unit;
  }
  if (total <= 0) return Bad(what, text, expected);
  return total;
}

Result<int64_t> ParseTime(std::string_view text, int64_t now_ms, std::string_view what) {
  const std::string_view expected =
      "now, now-7d, -90d, epoch milliseconds or RFC 3339 such as 2026-12-01T10:00:00Z";
  std::string_view rest = text;
  int64_t base = now_ms;
  bool relative = false;
  if (rest.substr(0, 3) == "now") {
    rest.remove_prefix(3);
    relative = true;
    if (rest.empty()) return now_ms;
  }
  if (!rest.empty() && (rest[0] == '-' || rest[0] == '+') && rest.size() > 1 &&
      (relative || !std::all_of(rest.begin() + 1, rest.end(), [](char c) { return c >= '0' && c <= '9'; }))) {
    auto d = ParseDuration(rest.substr(1), what);
    if (!d.ok()) return Bad(what, text, expected);
    return rest[0] == '-' ? base - *d : base + *d;
  }
  if (relative) return Bad(what, text, expected);
  int64_t ms = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec == std::errc() && end == text.data() + text.size()) return ms;
  if (ParseRfc3339(text, &ms)) return ms;
  return Bad(what, text, expected);
}

std::string FormatTime(int64_t ms) {
  int64_t days = ms / 86'400'000;
  int64_t rem = ms % 86'400'000;
  if (rem < 0) {
    rem += 86'400'000;
    --days;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  char buf[64];
  const int64_t s = rem / 1000, frac = rem % 1000;
  if (frac != 0) {
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                  static_cast<long long>(y), m, d, static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60),
                  static_cast<long long>(frac));
  } else {
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ",
                  static_cast<long long>(y), m, d, static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  }
  return buf;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    if (bits == 0x7ff8000000000000ULL) return "NaN";
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(bits));
    return buf;
  }
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, ec == std::errc() ? end : buf);
}

Result<double> ParseValue(std::string_view text, std::string_view what) {
  const std::string_view expected = "a number, NaN, +Inf, -Inf or 0x followed by 16 hex digits";
  if (text == "NaN" || text == "nan") return std::nan("");
  if (text == "+Inf" || text == "Inf" || text == "inf" || text == "+inf") return HUGE_VAL;
  if (text == "-Inf" || text == "-inf") return -HUGE_VAL;
  if (text.size() == 18 && text.substr(0, 2) == "0x") {
    uint64_t bits = 0;
    const auto [end, ec] = std::from_chars(text.data() + 2, text.data() + text.size(), bits, 16);
    if (ec != std::errc() || end != text.data() + text.size()) return Bad(what, text, expected);
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  std::string_view t = text;
  if (!t.empty() && t[0] == '+') t.remove_prefix(1);
  double v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size() || std::isnan(v) || std::isinf(v)) {
    return Bad(what, text, expected);
  }
  return v;
}

std::string FormatBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  }
  return buf;
}

std::string FormatSeconds(double seconds) {
  uint64_t s = seconds > 0 ? static_cast<uint64_t>(seconds) : 0;
  const uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;
  char buf[64];
  if (d > 0) {
    std::snprintf(buf, sizeof buf, "%llud %lluh %llum", static_cast<unsigned long long>(d),
                  static_cast<unsigned long long>(h), static_cast<unsigned long long>(m));
  } else if (h > 0) {
    std::snprintf(buf, sizeof buf, "%lluh %llum", static_cast<unsigned long long>(h),
                  static_cast<unsigned long long>(m));
  } else {
    std::snprintf(buf, sizeof buf, "%llum %llus", static_cast<unsigned long long>(m),
                  static_cast<unsigned long long>(s % 60));
  }
  return buf;
}

bool SplitCsv(std::string_view line, std::vector<std::string>* fields) {
  fields->clear();
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cur.push_back(c);
      }
    } else if (c == '"' && cur.empty()) {
      quoted = true;
    } else if (c == ',') {
      fields->push_back(std::move(cur));
      cur.clear();
    } else if (c != '\r' || i + 1 != line.size()) {
      cur.push_back(c);
    }
  }
  fields->push_back(std::move(cur));
  return !quoted;
}

std::string CsvField(std::string_view field) {
  if (field.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(field);
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string JsonValue(double v) {
  if (v == 0 && std::signbit(v)) return "-0.0";  // "-0" reads back as the integer 0
  const std::string text = FormatValue(v);
  return std::isfinite(v) ? text : JsonString(text);
}

std::string AlignedTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line.append(width[c] - row[c].size() + 2, ' ');
    }
    out += line;
    out.push_back('\n');
  }
  return out;
}

}  // namespace kpidb::kpictl
