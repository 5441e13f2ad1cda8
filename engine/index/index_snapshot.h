// series.idx: a snapshot of the series index, so that opening a data dir
// of a million series maps one file instead of re-hashing a million keys
// and eleven million postings entries from series.log.
//
// series.log stays the source of truth. The snapshot says how much of it
// it covers (a byte length, and a hash of the bytes just before it); an open
// maps the snapshot, checks its checksum and structure, and reads only the
// definitions series.log gained after it. A snapshot that is missing,
// damaged or does not match series.log is ignored (logged, with its path):
// the index is then rebuilt from series.log as before.
//
// The file is built to be used where it lies (mmap): fixed-width arrays and
// open-addressing hash tables with fixed hash functions, all 8-byte aligned.
// Layout: docs/index-format.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/common/file_util.h"
#include "engine/index/series_ref.h"
#include "kpidb/series.h"
#include "kpidb/status.h"

namespace kpidb {

inline constexpr char kIndexSnapshotMagic[] = "KPIDBIDX";
inline constexpr char kIndexSnapshotFileName[] = "series.idx";  // in the data dir
inline constexpr uint32_t kIndexSnapshotVersion = 1;

// What, besides the index, a snapshot records about the dir it was taken in.
struct SnapshotCoverage {
  uint64_t series_log_bytes = 0;      // series.log's length when taken
  uint64_t series_log_tail_hash = 0;  // SeriesLog::ResumePoint's hash of the bytes before that
  // Every segment file numbered below this holds only series the snapshot
  // has: an open need not look for unknown ids in them.
  uint64_t segments_below = 0;
};

// One posting (label pair) to write: its key ("name\0value") and its refs,
// ascending: those of `first`, then those of `second`.
struct SnapshotPosting {
  std::string_view key;
  std::span<const SeriesRef> first;
  std::span<const SeriesRef> second;
};

// What a snapshot is written from: refs 0 .. series() - 1, with their ids
// and canonical keys, and the postings, sorted by key (each ref < series()).
// The writer walks the postings several times rather than have them listed
// (a million of them would cost 48 MB more while it writes).
class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;
  virtual SeriesRef series() const = 0;
  virtual SeriesId Id(SeriesRef ref) const = 0;
  virtual std::string_view Key(SeriesRef ref) const = 0;
  // Calls fn for every posting, in key order, the same each time; stops at
  // the first error fn returns.
  virtual Status ForEachPosting(const std::function<Status(const SnapshotPosting&)>& fn) const = 0;
};

// The hash the snapshot's id table places a series id by (a fixed mix:
// the file must mean the same to every process).
uint64_t SnapshotIdHash(SeriesId id);
// The hash its key and posting tables place bytes by (XXH3-64).
uint64_t SnapshotBytesHash(std::string_view bytes);

// Writes a snapshot of `source` to `tmp_path` (not yet synced): what the
// index's lock must cover. InstallIndexSnapshot then makes it durable, as
// `path`, without the lock.
Status WriteIndexSnapshot(const std::string& tmp_path, const SnapshotSource& source,
                          const SnapshotCoverage& cover);
// fsyncs `tmp_path`, renames it to `path` and fsyncs the dir: a crash leaves
// the old snapshot or the new one.
Status InstallIndexSnapshot(const std::string& tmp_path, const std::string& path);

class IndexSnapshot {
 public:
  // Maps `path` and checks it whole (checksum, then every offset, ref and
  // table slot in range, postings ascending): Corruption names the path.
  // The pages read go back out of the resident set; lookups fault in what
  // they touch.
  static Result<std::unique_ptr<const IndexSnapshot>> Open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  size_t file_bytes() const { return file_->data().size(); }
  const SnapshotCoverage& coverage() const { return coverage_; }

  SeriesRef series() const { return series_; }
  SeriesId Id(SeriesRef ref) const { return ids_[ref]; }
  std::string_view Key(SeriesRef ref) const {
    return {keys_ + key_offsets_[ref], key_offsets_[ref + 1] - key_offsets_[ref]};
  }
  std::optional<SeriesRef> FindId(SeriesId id) const;
  std::optional<SeriesRef> FindKey(std::string_view canonical) const;

  // Postings are numbered 0 .. postings() - 1 in key order.
  uint32_t postings() const { return postings_; }
  std::optional<uint32_t> FindPosting(std::string_view key) const;
  std::string_view PostingKey(uint32_t p) const {
    return {posting_keys_ + posting_key_offsets_[p],
            posting_key_offsets_[p + 1] - posting_key_offsets_[p]};
  }
  std::span<const SeriesRef> PostingRefs(uint32_t p) const {
    return {refs_ + ref_offsets_[p], ref_offsets_[p + 1] - ref_offsets_[p]};
  }
  // The postings of label `name`'s values ("__name__": the metrics), a
  // range of posting numbers; empty when the label is not in use.
  std::pair<uint32_t, uint32_t> NameRange(std::string_view name) const;
  // The label names in use, sorted ("__name__" among them).
  const std::vector<std::string_view>& names() const { return names_; }

 private:
  explicit IndexSnapshot(std::unique_ptr<MappedFile> file) : file_(std::move(file)) {}
  Status Parse();

  std::unique_ptr<MappedFile> file_;
  SnapshotCoverage coverage_;
  SeriesRef series_ = 0;
  uint32_t postings_ = 0;
  const SeriesId* ids_ = nullptr;
  const uint64_t* key_offsets_ = nullptr;
  const char* keys_ = nullptr;
  std::span<const uint32_t> id_slots_;   // ref + 1, or 0 for empty
  std::span<const uint32_t> key_slots_;  // ref + 1, or 0
  const uint64_t* posting_key_offsets_ = nullptr;
  const char* posting_keys_ = nullptr;
  const uint64_t* ref_offsets_ = nullptr;
  const SeriesRef* refs_ = nullptr;
  std::span<const uint32_t> posting_slots_;  // posting + 1, or 0
  // name -> [begin, end) of its postings, sorted by name.
  std::vector<std::string_view> names_;
  std::vector<std::pair<uint32_t, uint32_t>> name_ranges_;
};

}  // namespace kpidb
