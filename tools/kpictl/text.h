// kpictl's text forms: times (RFC 3339, epoch ms, relative), durations,
// values (shortest round-trip decimals, every float64 bit kept), sizes, and
// CSV fields.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kpidb/status.h"

namespace kpidb::kpictl {

// Exit codes (README "Operating kpidb").
enum Exit { kExitOk = 0, kExitFailure = 1, kExitUsage = 2, kExitCorruption = 3 };

int64_t NowMs();
// "now", "now-7d", "-90d", "+1h", epoch milliseconds ("1767225600000"),
// RFC 3339 ("2026-12-01", "2026-12-01T10:00:00Z", "2026-12-01 10:00:00.5+02:00").
// INVALID_ARGUMENT naming `what` (e.g. "--from") otherwise.
Result<int64_t> ParseTime(std::string_view text, int64_t now_ms, std::string_view what);
// "500ms", "30s", "5m", "1h", "1d", "2w" (and sums: "1h30m"); > 0.
Result<int64_t> ParseDuration(std::string_view text, std::string_view what);
// RFC 3339 in UTC, milliseconds only when not zero: 2026-12-01T10:00:00Z.
std::string FormatTime(int64_t ms);
// A value that reads back to the same bits: the shortest round-trip
// decimal, "NaN" (the canonical quiet NaN), "+Inf", "-Inf", or for any
// other NaN its bits as "0x7ff0000000000001".
std::string FormatValue(double v);
Result<double> ParseValue(std::string_view text, std::string_view what);
// 1536 -> "1.5 KiB".
std::string FormatBytes(uint64_t bytes);
// 93784 s -> "1d 2h 3m".
std::string FormatSeconds(double seconds);

// One CSV record (RFC 4180 quoting) split into fields; false when a quote
// is left open.
bool SplitCsv(std::string_view line, std::vector<std::string>* fields);
// A field quoted when it must be.
std::string CsvField(std::string_view field);

// A JSON string literal.
std::string JsonString(std::string_view s);
// A JSON number that reads back to the same bits (-0 as -0.0), or for what
// JSON has no number for (NaN, infinities) FormatValue's text as a string.
std::string JsonValue(double v);

// Rows of cells printed as aligned columns (the first row is the header).
std::string AlignedTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace kpidb::kpictl
