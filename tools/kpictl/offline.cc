// kpictl's offline commands, on a data directory no server holds: verify
// (every checksum of the manifest, series.log, the WAL and the segments)
// and inspect (what the segments and the WAL hold).
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_set>

#include "engine/codec/chunk.h"
#include "engine/common/file_util.h"
#include "engine/segment/manifest.h"
#include "engine/segment/segment.h"
#include "engine/wal/record_log.h"
#include "engine/wal/series_log.h"
#include "engine/wal/wal.h"
#include "tools/kpictl/offline.h"
#include "tools/kpictl/terminal.h"
#include "tools/kpictl/text.h"

namespace kpidb::kpictl {
namespace {

// The numbered files of `dir` (WAL or segments), in number order.
Result<std::vector<std::pair<uint64_t, std::string>>> Numbered(
    const std::string& dir, bool (*parse)(std::string_view, uint64_t*)) {
  std::vector<std::pair<uint64_t, std::string>> out;
  if (!FileExists(dir)) return out;  // the server creates it at open
  KPIDB_ASSIGN_OR_RETURN(auto names, ListDir(dir));
  for (const std::string& name : names) {
    uint64_t n;
    if (parse(name, &n)) out.emplace_back(n, JoinPath(dir, name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Locks the data dir for the command, or says why not. `read_only`
// commands go on without the lock where it cannot be taken for want of
// write access (a backup on read-only media, another user's dir): null.
Result<std::unique_ptr<DirLock>> LockOrExplain(const Context& ctx, const std::string& dir,
                                               bool read_only) {
  if (!FileExists(JoinPath(dir, "MANIFEST")) && !FileExists(JoinPath(dir, "series.log"))) {
    return Status::NotFound(dir + " is not a kpidb data directory (no MANIFEST or series.log)");
  }
  auto lock = DirLock::Acquire(dir);
  if (!lock.ok() && lock.status().code() == StatusCode::kFailedPrecondition) {
    return Status::FailedPrecondition(lock.status().message() +
                                      ": a server runs on it; stop it first, or use the online "
                                      "commands (--server HOST:PORT)");
  }
  if (!lock.ok() && read_only && ::access(dir.c_str(), W_OK) != 0) {
    std::fprintf(ctx.err, "kpictl: %s is not writable: reading it without taking its lock\n", dir.c_str());
    return std::unique_ptr<DirLock>();
  }
  return lock;
}

}  // namespace

int Verify(Context& ctx, const std::string& dir) {
  auto lock = LockOrExplain(ctx, dir, /*read_only=*/true);
  if (!lock.ok()) return ctx.Fail("verify", lock.status());
  size_t files = 0, problems = 0;
  std::unordered_set<SeriesId> defined;  // series ids series.log, the segments and the WAL define
  // A progress line over the files on a terminal (segments are most of the time).
  auto wal = Numbered(JoinPath(dir, "wal"), ParseWalFileName);
  auto segments = Numbered(JoinPath(dir, "segments"), ParseSegmentFileName);
  Progress progress(ctx.err, "verify " + dir,
                    2 + (wal.ok() ? wal->size() : 0) + (segments.ok() ? segments->size() : 0));
  uint64_t points = 0;
  auto problem = [&](const std::string& message) {
    ++problems;
    progress.Clear();
    std::fprintf(ctx.out, "BAD  %s\n", message.c_str());
    std::fflush(ctx.out);
    progress.Update(files, points);
  };
  auto ok = [&](const std::string& path, const std::string& what) {
    progress.Clear();
    std::fprintf(ctx.out, "ok   %s (%s)\n", path.c_str(), what.c_str());
    std::fflush(ctx.out);
    progress.Update(files, points);
  };

  // The manifest: which segments are live.
  std::set<uint64_t> live;
  ++files;
  auto manifest = ReadManifest(dir);
  if (manifest.ok()) {
    live.insert(manifest->segments.begin(), manifest->segments.end());
    ok(JoinPath(dir, "MANIFEST"), std::to_string(live.size()) + " live segments");
  } else if (manifest.status().code() != StatusCode::kNotFound) {
    problem(manifest.status().message());
  } else {
    --files;
  }

  // series.log: its records' checksums (a torn tail is the unacknowledged
  // end of a crash, which the server truncates).
  const std::string series_log = JoinPath(dir, "series.log");
  if (FileExists(series_log)) {
    ++files;
    std::string contents;
    Status read = ReadFileToString(series_log, &contents);
    if (!read.ok()) {
      problem(read.message());
    } else {
      ParsedLog parsed = ParseLog(contents, std::string_view(kSeriesLogMagic, 8));
      if (!parsed.header_ok && !parsed.header_torn) {
        problem(series_log + " at offset 0: bad file header");
      } else if (parsed.bad_tail && parsed.valid_records_after_bad) {
        problem(series_log + " at offset " + std::to_string(parsed.valid_bytes) +
                ": corrupt record followed by " + std::to_string(parsed.records_after_bad) +
                " valid records");
      } else {
        std::vector<SeriesLog::DefinitionView> definitions;
        for (const LogRecord& rec : parsed.records) {
          if (!SeriesLog::DecodeRecord(rec, &definitions)) {
            problem(series_log + " at offset " + std::to_string(rec.offset) + ": malformed definition record");
          }
        }
        for (const auto& [id, canonical] : definitions) defined.insert(id);
        ok(series_log, std::to_string(parsed.records.size()) + " records" +
                           (parsed.bad_tail ? ", torn tail at offset " + std::to_string(parsed.valid_bytes) +
                                                  " (dropped at the next open)"
                                            : ""));
      }
    }
  }

  // Every segment, every chunk and rollup block decoded and checked.
  if (!segments.ok()) {
    problem(segments.status().message());
  } else {
    for (const auto& [number, path] : *segments) {
      if (manifest.ok() && !live.count(number)) {
        std::fprintf(ctx.out, "--   %s (not in the MANIFEST: left by an interrupted flush or merge, "
                     "removed at the next open)\n", path.c_str());
        continue;
      }
      ++files;
      auto reader = SegmentReader::Open(path, /*verify_chunks=*/true);
      if (!reader.ok()) {
        problem(reader.status().message());
        continue;
      }
      points += (*reader)->point_count();
      (void)(*reader)->ForEachKey([&](SeriesId id, std::string_view) {
        defined.insert(id);
        return Status::Ok();
      });
      ok(path, std::to_string((*reader)->series_count()) + " series, " +
                   std::to_string((*reader)->point_count()) + " points");
    }
    if (manifest.ok()) {
      for (uint64_t n : live) {
        if (!std::any_of(segments->begin(), segments->end(), [&](const auto& s) { return s.first == n; })) {
          problem(JoinPath(JoinPath(dir, "segments"), SegmentFileName(n)) +
                  ": missing, and the MANIFEST lists it");
        }
      }
    }
  }
  // The WAL, as a replay reads it.
  if (!wal.ok()) {
    problem(wal.status().message());
  } else {
    const uint64_t checkpoint = manifest.ok() ? manifest->wal_checkpoint : 0;
    for (size_t f = 0; f < wal->size(); ++f) {
      const std::string& path = (*wal)[f].second;
      if ((*wal)[f].first < checkpoint) {
        std::fprintf(ctx.out, "--   %s (flushed: not replayed, removed at the next open)\n", path.c_str());
        continue;
      }
      ++files;
      std::string contents;
      WalFileCheck check;
      Status read = ReadFileToString(path, &contents);
      if (!read.ok()) {
        problem(read.message());
        continue;
      }
      // Replay refuses a record that refers by id to a series nothing defined.
      std::string undefined;
      Status s = CheckWalFile(path, contents, f + 1 == wal->size(),
                              [&](std::vector<WalSeriesEntry>& entries) {
                                for (const WalSeriesEntry& e : entries) {
                                  if (!e.canonical.empty()) {
                                    defined.insert(e.id);
                                  } else if (!defined.count(e.id) && undefined.empty()) {
                                    undefined = std::to_string(e.id);
                                  }
                                }
                                return Status::Ok();
                              },
                              &check);
      if (s.ok() && !undefined.empty()) {
        problem(path + ": a record refers to series id " + undefined +
                ", which no series.log record, segment or earlier WAL record defines (the server "
                "refuses to open)");
        continue;
      }
      if (!s.ok()) {
        problem(s.message());
        continue;
      }
      ok(path, std::to_string(check.records) + " records, " + std::to_string(check.points) + " points" +
                   (check.torn ? ", torn tail at offset " + std::to_string(check.torn_at) +
                                     " (an unacknowledged write, dropped at the next open)"
                               : ""));
    }
  }

  progress.Clear();
  std::fprintf(ctx.out, "%zu files checked, %zu problem(s)\n", files, problems);
  if (problems > 0) {
    std::fprintf(ctx.err,
                 "kpictl: verify found %zu problem(s) in %s\nhint: keep a copy of the directory; a "
                 "damaged segment can be restored from a backup\n",
                 problems, dir.c_str());
    return kExitCorruption;
  }
  return kExitOk;
}

int Inspect(Context& ctx, const std::string& dir, const std::string& what) {
  auto lock = LockOrExplain(ctx, dir, /*read_only=*/true);
  if (!lock.ok()) return ctx.Fail("inspect", lock.status());
  if (what == "wal") {
    auto wal = Numbered(JoinPath(dir, "wal"), ParseWalFileName);
    if (!wal.ok()) return ctx.Fail("inspect wal", wal.status());
    std::vector<std::vector<std::string>> rows = {{"file", "bytes", "records", "points", "state"}};
    bool corrupt = false;
    for (size_t f = 0; f < wal->size(); ++f) {
      const std::string& path = (*wal)[f].second;
      std::string contents;
      Status read = ReadFileToString(path, &contents);
      if (!read.ok()) return ctx.Fail("inspect wal", read);
      WalFileCheck check;
      Status s = CheckWalFile(path, contents, f + 1 == wal->size(),
                              [](std::vector<WalSeriesEntry>&) { return Status::Ok(); }, &check);
      corrupt |= !s.ok();
      rows.push_back({path, FormatBytes(contents.size()), std::to_string(check.records),
                      std::to_string(check.points),
                      !s.ok() ? "CORRUPT: " + s.message()
                              : check.torn ? "torn tail at " + std::to_string(check.torn_at) : "ok"});
    }
    std::fputs(AlignedTable(rows).c_str(), ctx.out);
    return corrupt ? kExitCorruption : kExitOk;
  }
  if (!what.empty()) {
    // One segment's index: each series with its chunks and rows.
    auto reader = SegmentReader::Open(what, /*verify_chunks=*/false);
    if (!reader.ok()) return ctx.Fail("inspect " + what, reader.status());
    std::vector<std::vector<std::string>> rows = {
        {"series", "chunks", "points", "from", "to", "bytes", "bytes/point", "value codecs", "rollup bytes"}};
    SegmentSeries entry;
    for (size_t i = 0; i < (*reader)->series_count(); ++i) {
      auto found = (*reader)->Find((*reader)->id_at(i), &entry);
      if (!found.ok()) return ctx.Fail("inspect " + what, found.status());
      auto key = SeriesKey::FromCanonical(entry.canonical);
      uint64_t points = 0, bytes = 0;
      std::map<std::string, int> codecs;  // "decimal" -> chunks (", lz4" when compressed)
      for (const ChunkMeta& c : entry.chunks) {
        points += c.stats.count;
        bytes += c.length;
        auto header = ReadChunkHeader((*reader)->contents().substr(c.offset, c.length));
        static const char* const kNames[] = {"?", "rle", "xor", "decimal"};
        std::string name = header.ok() && header->value_codec <= 3 ? kNames[header->value_codec] : "?";
        if (header.ok() && header->lz4) name += "+lz4";
        ++codecs[name];
      }
      std::string codec_text;
      for (const auto& [name, n] : codecs) {
        codec_text += (codec_text.empty() ? "" : " ") + name + ":" + std::to_string(n);
      }
      char bpp[32];
      std::snprintf(bpp, sizeof bpp, "%.3f", points ? static_cast<double>(bytes) / static_cast<double>(points) : 0.0);
      rows.push_back({key.ok() ? key->ToString() : "(bad key)", std::to_string(entry.chunks.size()),
                      std::to_string(points),
                      entry.chunks.empty() ? "" : FormatTime(entry.chunks.front().stats.min_timestamp_ms),
                      entry.chunks.empty() ? "" : FormatTime(entry.chunks.back().stats.max_timestamp_ms),
                      std::to_string(bytes), bpp, codec_text, std::to_string(entry.rollup_length)});
    }
    std::fputs(AlignedTable(rows).c_str(), ctx.out);
    return kExitOk;
  }
  auto manifest = ReadManifest(dir);
  if (!manifest.ok()) return ctx.Fail("inspect", manifest.status());
  std::vector<std::vector<std::string>> rows = {
      {"segment", "from", "to", "series", "points", "size", "bytes/point", "format"}};
  uint64_t total_points = 0, total_bytes = 0;
  for (uint64_t n : manifest->segments) {
    const std::string path = JoinPath(JoinPath(dir, "segments"), SegmentFileName(n));
    auto reader = SegmentReader::Open(path, /*verify_chunks=*/false);
    if (!reader.ok()) return ctx.Fail("inspect", reader.status());
    const SegmentReader& r = **reader;
    char bpp[32];
    std::snprintf(bpp, sizeof bpp, "%.3f",
                  r.point_count() ? static_cast<double>(r.file_size()) / static_cast<double>(r.point_count()) : 0.0);
    std::string format = "v" + std::to_string(r.format_version());
    for (int64_t step : r.rollup_steps()) {
      format += ", ";
      format += step % 86'400'000 == 0   ? std::to_string(step / 86'400'000) + "d"
                : step % 3'600'000 == 0  ? std::to_string(step / 3'600'000) + "h"
                                         : std::to_string(step / 1000) + "s";
      format += " rows";
    }
    rows.push_back({SegmentFileName(n), FormatTime(r.min_timestamp_ms()), FormatTime(r.max_timestamp_ms()),
                    std::to_string(r.series_count()), std::to_string(r.point_count()),
                    FormatBytes(r.file_size()), bpp, format});
    total_points += r.point_count();
    total_bytes += r.file_size();
  }
  std::fputs(AlignedTable(rows).c_str(), ctx.out);
  std::fprintf(ctx.out, "%zu live segments, %llu points, %s (%.3f bytes/point)\n",
               manifest->segments.size(), static_cast<unsigned long long>(total_points),
               FormatBytes(total_bytes).c_str(),
               total_points ? static_cast<double>(total_bytes) / static_cast<double>(total_points) : 0.0);
  return kExitOk;
}

int Repair(Context& ctx, const std::string& dir, bool yes) {
  auto lock = LockOrExplain(ctx, dir, /*read_only=*/false);
  if (!lock.ok()) return ctx.Fail("repair", lock.status());
  auto manifest = ReadManifest(dir);
  const uint64_t checkpoint = manifest.ok() ? manifest->wal_checkpoint : 0;
  const std::string wal_dir = JoinPath(dir, "wal");
  auto wal = Numbered(wal_dir, ParseWalFileName);
  if (!wal.ok()) return ctx.Fail("repair", wal.status());
  struct Plan {
    std::string path;
    std::string contents;
    std::string repaired;  // empty with whole: the file goes aside whole
    bool whole = false;
  };
  std::vector<Plan> plans;
  for (size_t f = 0; f < wal->size(); ++f) {
    if ((*wal)[f].first < checkpoint) continue;  // flushed: replay skips it
    Plan plan;
    plan.path = (*wal)[f].second;
    Status read = ReadFileToString(plan.path, &plan.contents);
    if (!read.ok()) return ctx.Fail("repair", read);
    WalFileCheck check;
    const bool last = f + 1 == wal->size();
    Status s = CheckWalFile(plan.path, plan.contents, last,
                            [](std::vector<WalSeriesEntry>&) { return Status::Ok(); }, &check);
    if (s.ok()) continue;  // readable (a torn tail of the last file the server truncates itself)
    ParsedLog parsed = ParseLog(plan.contents, std::string_view(kWalMagic, 8));
    std::fprintf(ctx.out, "%s: %s\n", plan.path.c_str(), s.message().c_str());
    if (!parsed.header_ok) {
      plan.whole = true;
      std::fprintf(ctx.out, "  its header is damaged: the whole file (%s) goes aside, its records are lost\n",
                   FormatBytes(plan.contents.size()).c_str());
      plans.push_back(std::move(plan));
      continue;
    }
    const size_t header = parsed.version == 1 ? kLogRecordHeaderSizeV1 : kLogRecordHeaderSizeV2;
    // Kept: the valid prefix and every valid record found past the damage;
    // lost: the bytes between them.
    plan.repaired.assign(plan.contents.data(), parsed.valid_bytes);
    uint64_t kept_records = parsed.records.size(), kept_points = 0, lost_bytes = 0;
    auto points_of = [&](const LogRecord& rec) {
      WalFileCheck one;
      std::string framed(plan.contents.substr(0, kLogFileHeaderSize));
      framed.append(plan.contents, rec.offset, header + rec.payload.size());
      (void)CheckWalFile(plan.path, framed, true, [](std::vector<WalSeriesEntry>&) { return Status::Ok(); },
                         &one);
      return one.points;
    };
    for (const LogRecord& rec : parsed.records) kept_points += points_of(rec);
    uint64_t at = parsed.valid_bytes;
    auto lost = [&](uint64_t from, uint64_t to) {
      if (to <= from) return;
      lost_bytes += to - from;
      std::fprintf(ctx.out, "  lost: bytes [%llu, %llu) (%llu bytes), damaged record(s) whose points cannot be counted\n",
                   static_cast<unsigned long long>(from), static_cast<unsigned long long>(to),
                   static_cast<unsigned long long>(to - from));
    };
    for (const LogRecord& rec : parsed.records_after) {
      lost(at, rec.offset);
      plan.repaired.append(plan.contents, rec.offset, header + rec.payload.size());
      at = rec.offset + header + rec.payload.size();
      ++kept_records;
      kept_points += points_of(rec);
    }
    lost(at, plan.contents.size());
    std::fprintf(ctx.out, "  kept: %llu records (%llu points)\n", static_cast<unsigned long long>(kept_records),
                 static_cast<unsigned long long>(kept_points));
    plans.push_back(std::move(plan));
  }
  if (plans.empty()) {
    std::fprintf(ctx.out, "nothing to repair: every WAL file a server replays is readable\n");
    return kExitOk;
  }
  if (!yes) {
    if (!ctx.stdin_is_terminal) {
      return ctx.Usage("repair: refusing to change files without confirmation on a non-terminal",
                       "add --yes to repair without asking");
    }
    std::fprintf(ctx.out, "move the damaged part%s aside to %s/quarantine and keep the rest? [y/N] ",
                 plans.size() > 1 ? "s" : "", dir.c_str());
    std::fflush(ctx.out);
    char answer[16] = {};
    if (std::fgets(answer, sizeof answer, ctx.in) == nullptr || (answer[0] != 'y' && answer[0] != 'Y')) {
      std::fprintf(ctx.out, "nothing changed\n");
      return kExitFailure;
    }
  }
  const std::string quarantine = JoinPath(dir, "quarantine");
  Status made = CreateDirIfMissing(quarantine);
  if (!made.ok()) return ctx.Fail("repair", made);
  for (const Plan& plan : plans) {
    const std::string name = plan.path.substr(plan.path.rfind('/') + 1);
    const std::string aside = JoinPath(quarantine, name + ".damaged-" + std::to_string(NowMs()));
    const std::string tmp = plan.path + ".repair";
    if (!plan.whole) {
      Status w = AtomicWriteFile(tmp, plan.repaired);
      if (!w.ok()) return ctx.Fail("repair", w);
    }
    if (std::rename(plan.path.c_str(), aside.c_str()) != 0) {
      return ctx.Fail("repair", Status::IOError("rename " + plan.path + " -> " + aside + ": " + std::strerror(errno)));
    }
    if (!plan.whole && std::rename(tmp.c_str(), plan.path.c_str()) != 0) {
      return ctx.Fail("repair", Status::IOError("rename " + tmp + " -> " + plan.path + ": " + std::strerror(errno)));
    }
    std::fprintf(ctx.out, "%s: the original is in %s%s\n", plan.path.c_str(), aside.c_str(),
                 plan.whole ? "" : "; the file now holds the records kept");
  }
  for (const std::string& d : {wal_dir, quarantine}) {
    Status s = SyncDir(d);
    if (!s.ok()) return ctx.Fail("repair", s);
  }
  std::fprintf(ctx.out, "repaired: the server opens with everything else\n");
  return kExitOk;
}

int Backup(Context& ctx, const std::string& dest) {
  std::error_code ec;
  const std::string path = std::filesystem::absolute(dest, ec).lexically_normal().string();
  Client* c = ctx.client();
  if (c == nullptr) return kExitFailure;
  auto snap = c->Snapshot(path);
  if (!snap.ok()) return ctx.Fail("backup to " + path, snap.status());
  std::fprintf(ctx.out, "backup in %s: %llu segments (%llu hard links), %llu WAL files, %s copied\n",
               path.c_str(), static_cast<unsigned long long>(snap->segments),
               static_cast<unsigned long long>(snap->segments_linked),
               static_cast<unsigned long long>(snap->wal_files), FormatBytes(snap->bytes_copied).c_str());
  if (!FileExists(JoinPath(path, "MANIFEST"))) {
    std::fprintf(ctx.out,
                 "not verified here (the server's machine holds it): kpictl --data-dir %s verify there\n",
                 path.c_str());
    return kExitOk;
  }
  return Verify(ctx, path);
}

int Restore(Context& ctx, const std::string& src, const std::string& dir, bool force) {
  namespace fs = std::filesystem;
  if (!FileExists(JoinPath(src, "MANIFEST"))) {
    return ctx.Fail("restore", Status::NotFound(src + " is not a kpidb backup (no MANIFEST)"));
  }
  std::error_code ec;
  const fs::path from = fs::weakly_canonical(src, ec), to = fs::weakly_canonical(dir, ec);
  auto within = [](const fs::path& a, const fs::path& b) {  // a is b or under it
    auto [ai, bi] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
    return bi == b.end();
  };
  if (ec || within(from, to) || within(to, from)) {
    return ctx.Usage("restore: the backup " + src + " and --data-dir " + dir + " overlap",
                     "restore into a directory outside the backup");
  }
  std::fprintf(ctx.out, "verifying the backup %s\n", src.c_str());
  const int verified = Verify(ctx, src);
  if (verified != kExitOk) return verified;
  fs::create_directories(dir, ec);
  if (ec) return ctx.Fail("restore", Status::IOError("cannot create " + dir + ": " + ec.message()));
  auto lock = DirLock::Acquire(dir);
  if (!lock.ok()) {
    return ctx.Fail("restore", lock.status().code() == StatusCode::kFailedPrecondition
                                   ? Status::FailedPrecondition(lock.status().message() +
                                                                ": stop the server before restoring into it")
                                   : lock.status());
  }
  std::vector<fs::path> present;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename() != "LOCK") present.push_back(it->path());
  }
  if (ec) return ctx.Fail("restore", Status::IOError("cannot list " + dir + ": " + ec.message()));
  if (!present.empty()) {
    if (!force) {
      std::fprintf(ctx.err, "kpictl: restore: %s is not empty (%zu entries)\nhint: --force replaces what it holds\n",
                   dir.c_str(), present.size());
      return kExitFailure;
    }
    // MANIFEST first: an interrupted emptying leaves no dir that opens as data.
    std::sort(present.begin(), present.end(), [](const fs::path& a, const fs::path& b) {
      return (a.filename() == "MANIFEST") > (b.filename() == "MANIFEST");
    });
    for (const fs::path& p : present) {
      fs::remove_all(p, ec);
      if (ec) return ctx.Fail("restore", Status::IOError("cannot remove " + p.string() + ": " + ec.message()));
    }
  }
  // The files to copy, MANIFEST last: until it is in place (synced, after
  // everything it names), the directory is not a data dir.
  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator it(src, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec) || type_ec) continue;
    const fs::path rel = it->path().lexically_relative(src);
    const std::string top = rel.begin()->string();
    if (rel == "LOCK" || top == "quarantine" || rel == "series.idx" || rel == "MANIFEST") continue;
    files.push_back(rel);
  }
  if (ec) return ctx.Fail("restore", Status::IOError("cannot list " + src + ": " + ec.message()));
  files.push_back("MANIFEST");
  for (const char* sub : {"wal", "segments", "quarantine"}) {
    fs::create_directories(fs::path(dir) / sub, ec);
    if (ec) return ctx.Fail("restore", Status::IOError("cannot create " + dir + "/" + sub + ": " + ec.message()));
  }
  uint64_t bytes = 0;
  for (const fs::path& rel : files) {
    if (rel == "MANIFEST") {
      for (const char* sub : {"wal", "segments", ""}) {
        Status synced = SyncDir((fs::path(dir) / sub).string());
        if (!synced.ok()) return ctx.Fail("restore", synced);
      }
    }
    const std::string source = (fs::path(src) / rel).string();
    const std::string target = (fs::path(dir) / rel).string();
    fs::create_directories(fs::path(target).parent_path(), ec);
    Status s = CopyFileSynced(source, target, &bytes);
    if (!s.ok()) return ctx.Fail("restore", s);
  }
  Status synced = SyncDir(dir);
  if (!synced.ok()) return ctx.Fail("restore", synced);
  lock->reset();
  std::fprintf(ctx.out, "restored %zu files (%s) into %s; verifying\n", files.size(),
               FormatBytes(bytes).c_str(), dir.c_str());
  return Verify(ctx, dir);
}

}  // namespace kpidb::kpictl
