#include "engine/core/engine_core.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include <xxhash.h>

#include "engine/common/coding.h"
#include "engine/common/point_order.h"
#include "engine/read/merge_scan.h"
#include "engine/wal/record_log.h"

namespace kpidb {
namespace {

Status ValidateOptions(const EngineOptions& o) {
  if (o.max_points_per_chunk == 0 || o.max_points_per_chunk > kMaxChunkPoints) {
    return Status::InvalidArgument("max_points_per_chunk must be in [1, " +
                                   std::to_string(kMaxChunkPoints) + "]");
  }
  if (o.segment_partition_ms <= 0) {
    return Status::InvalidArgument("segment_partition_ms must be positive");
  }
  for (size_t i = 0; i < o.rollup_tiers_ms.size(); ++i) {
    const int64_t step = o.rollup_tiers_ms[i];
    if (step <= 0 || (i > 0 && step <= o.rollup_tiers_ms[i - 1])) {
      return Status::InvalidArgument("rollup_tiers_ms must be positive and increasing");
    }
  }
  int64_t width = o.segment_partition_ms;
  for (uint32_t factor : o.partition_level_factors) {
    if (factor < 2 || __builtin_mul_overflow(width, int64_t{factor}, &width)) {
      return Status::InvalidArgument(
          "partition_level_factors must each be at least 2 (and the widest level fit in 64 bits)");
    }
  }
  if (o.partition_merge_after_ms < 0) {
    return Status::InvalidArgument("partition_merge_after_ms must not be negative");
  }
  if (o.compaction_trigger_files < 2) {
    return Status::InvalidArgument("compaction_trigger_files must be at least 2");
  }
  if (o.compaction_interval_ms == 0) {
    return Status::InvalidArgument("compaction_interval_ms must be positive");
  }
  if (o.rollup_min_points_per_row == 0) {
    return Status::InvalidArgument("rollup_min_points_per_row must be at least 1");
  }
  if (o.head_max_bytes == 0) return Status::InvalidArgument("head_max_bytes must be positive");
  if (o.wal_sync == WalSyncPolicy::kInterval && o.wal_sync_interval_ms == 0) {
    return Status::InvalidArgument("wal_sync_interval_ms must be positive");
  }
  if (!o.logger) return Status::InvalidArgument("logger must be set");
  return ValidateRetention(o);
}

}  // namespace

EngineCore::EngineCore(std::string dir, EngineOptions options)
    : dir_(std::move(dir)),
      wal_dir_(JoinPath(dir_, "wal")),
      segment_dir_(JoinPath(dir_, "segments")),
      options_(std::move(options)),
      head_slabs_(std::make_shared<SlabPool>(options_.head_max_bytes)),
      versions_(dir_, segment_dir_),
      queue_(dir_, options_.wal_sync == WalSyncPolicy::kAlways ? options_.group_commit_wait_us : 0) {}

Result<std::unique_ptr<EngineCore>> EngineCore::Open(const std::string& dir,
                                             const EngineOptions& options) {
  KPIDB_RETURN_IF_ERROR(ValidateOptions(options));
  std::unique_ptr<EngineCore> engine(new EngineCore(dir, options));
  KPIDB_RETURN_IF_ERROR(CreateDirIfMissing(dir));
  KPIDB_ASSIGN_OR_RETURN(engine->lock_, DirLock::Acquire(dir));
  for (const char* sub : {"wal", "segments", "quarantine"}) {
    KPIDB_RETURN_IF_ERROR(CreateDirIfMissing(JoinPath(dir, sub)));
  }
  KPIDB_ASSIGN_OR_RETURN(auto recovered, engine->Recover());
  EngineCore& e = *engine;
  e.flusher_ = std::make_unique<Flusher>(Flusher::Deps{
      &e.options_, e.wal_dir_, e.segment_dir_, &e.log_, &e.versions_, &e.index_, &e.queue_,
      e.head_slabs_, std::move(recovered.series_log), JoinPath(dir, kIndexSnapshotFileName),
      recovered.logged_series, recovered.snapshot_series});
  e.compactor_ =
      std::make_unique<Compactor>(e.options_, e.segment_dir_, &e.versions_, e.flusher_.get(), &e.queue_);
  Compactor* compactor = e.compactor_.get();
  e.compactor_->SetVanishedListener(
      [&e](const std::vector<SeriesId>& ids, bool installed) { return e.OnVanished(ids, installed); });
  KPIDB_RETURN_IF_ERROR(e.LoadEmptied());
  e.flusher_->SetFlushListener([compactor] { compactor->Wake(); });
  e.flusher_->Start();
  e.compactor_->Start();
  return engine;
}

EngineCore::~EngineCore() {
  Status s = Close();
  if (!s.ok()) options_.logger("close of " + dir_ + " failed: " + s.ToString());
}

Status EngineCore::Write(const WriteBatch& batch) {
  WriteQueue::InFlight in_flight(queue_);
  PendingWrite w;
  w.batch = &batch;
  try {
    KPIDB_RETURN_IF_ERROR(ValidateWriteBatch(batch, options_.limits, &w.keys));
    KPIDB_RETURN_IF_ERROR(CheckNotExpired(batch, w.keys));
    // The expensive encoding happens here, in the caller's thread.
    w.canonicals.reserve(batch.series.size());
    w.encoded.reserve(batch.series.size());
    for (size_t i = 0; i < batch.series.size(); ++i) {
      w.canonicals.push_back(w.keys[i].Canonical());
      w.encoded.push_back(EncodeWalPoints(batch.series[i].timestamps_ms, batch.series[i].values));
      w.points += batch.series[i].timestamps_ms.size();
    }
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory encoding the write; nothing was written");
  }
  w.record_bytes = 64;
  for (size_t i = 0; i < w.encoded.size(); ++i) {
    w.record_bytes += w.encoded[i].size() + w.canonicals[i].size() + 32;
  }
  if (w.record_bytes > kMaxLogRecordBytes) {
    return Status::ResourceExhausted("the write encodes to " + std::to_string(w.record_bytes) +
                                     " bytes, over the WAL record limit of " +
                                     std::to_string(kMaxLogRecordBytes) + "; split it");
  }
  Status s = queue_.Submit(&w, [this](std::vector<PendingWrite*>& group) { return CommitGroup(group); });
  if (s.ok()) points_written_.fetch_add(w.points, std::memory_order_relaxed);
  if (s.ok() && EmptiedCount() > 0) {
    // Written again: listed again (DIR/emptied keeps it until the next
    // open, which checks).
    std::lock_guard lock(emptied_mu_);
    for (SeriesId id : w.ids) emptied_.erase(id);
    emptied_count_.store(emptied_.size(), std::memory_order_relaxed);
  }
  return s;
}

namespace {
constexpr char kEmptiedMagic[] = "KPIDBEMP";
constexpr uint32_t kEmptiedVersion = 1;
}  // namespace

bool EngineCore::HasData(SeriesId id) const {
  auto state = versions_.Current();
  for (const Head* head : {state->flushing.get(), state->active.get()}) {
    if (head != nullptr && head->Count(id) > 0) return true;
  }
  for (const auto& segment : state->segments) {
    if (segment->Contains(id)) return true;
  }
  return false;
}

bool EngineCore::IsEmptied(SeriesId id) const {
  if (EmptiedCount() == 0) return false;
  std::lock_guard lock(emptied_mu_);
  return emptied_.contains(id);
}

Status EngineCore::StoreEmptiedLocked(const std::unordered_set<SeriesId>& ids) const {
  // emptied := magic[8] version:u32 count:u64 id:u64* checksum:u64 (XXH3-64 of the rest)
  std::string out(kEmptiedMagic, 8);
  PutFixed32(&out, kEmptiedVersion);
  PutFixed64(&out, ids.size());
  std::vector<SeriesId> sorted(ids.begin(), ids.end());
  std::sort(sorted.begin(), sorted.end());
  for (SeriesId id : sorted) PutFixed64(&out, id);
  PutFixed64(&out, XXH3_64bits(out.data(), out.size()));
  return AtomicWriteFile(JoinPath(dir_, "emptied"), out);
}

Status EngineCore::OnVanished(const std::vector<SeriesId>& ids, bool installed) {
  std::lock_guard lock(emptied_mu_);
  if (!installed) {
    // Before the install: the candidates are on disk, so that a crash after
    // it still finds them (the next open keeps only those without data).
    std::unordered_set<SeriesId> candidates = emptied_;
    candidates.insert(ids.begin(), ids.end());
    return StoreEmptiedLocked(candidates);
  }
  for (SeriesId id : ids) {
    if (!HasData(id)) emptied_.insert(id);
  }
  emptied_count_.store(emptied_.size(), std::memory_order_relaxed);
  return Status::Ok();
}

Status EngineCore::LoadEmptied() {
  const std::string path = JoinPath(dir_, "emptied");
  if (!FileExists(path)) return Status::Ok();
  std::string data;
  KPIDB_RETURN_IF_ERROR(ReadFileToString(path, &data));
  std::unordered_set<SeriesId> candidates;
  const bool framed = data.size() >= 28 && data.compare(0, 8, kEmptiedMagic) == 0 &&
                      DecodeFixed32(data.data() + 8) == kEmptiedVersion &&
                      XXH3_64bits(data.data(), data.size() - 8) == DecodeFixed64(data.data() + data.size() - 8);
  const uint64_t count = framed ? DecodeFixed64(data.data() + 12) : 0;
  if (!framed || count != (data.size() - 28) / 8 || (data.size() - 28) % 8 != 0) {
    // Only listings depend on it: log, and list every series.
    options_.logger("ignoring " + path + ": damaged (every series is listed until deleted again)");
    return RemoveFile(path);
  }
  for (uint64_t i = 0; i < count; ++i) candidates.insert(DecodeFixed64(data.data() + 20 + 8 * i));
  std::lock_guard lock(emptied_mu_);
  for (SeriesId id : candidates) {
    if (index_.Contains(id) && !HasData(id)) emptied_.insert(id);
  }
  emptied_count_.store(emptied_.size(), std::memory_order_relaxed);
  if (emptied_.size() != candidates.size()) return StoreEmptiedLocked(emptied_);
  return Status::Ok();
}

Status EngineCore::CheckNotExpired(const WriteBatch& batch, const std::vector<SeriesKey>& keys) const {
  if (options_.raw_retention_ms <= 0) return Status::Ok();
  const int64_t from = CurrentRetention().raw_from_ms;
  for (size_t i = 0; i < batch.series.size(); ++i) {
    const auto& ts = batch.series[i].timestamps_ms;
    for (size_t p = 0; p < ts.size(); ++p) {
      if (ts[p] >= from) continue;
      std::string m = "series[";
      m += std::to_string(i);
      m += "] ";
      m += keys[i].ToString();
      m += " point[";
      m += std::to_string(p);
      m += "]: timestamp_ms ";
      m += std::to_string(ts[p]);
      m += " is older than the raw retention (raw_retention_ms=";
      m += std::to_string(options_.raw_retention_ms);
      m += "): points before ";
      m += std::to_string(from);
      m += " have expired";
      return Status::InvalidArgument(m);
    }
  }
  return Status::Ok();
}

Retention EngineCore::CurrentRetention() const {
  return RetentionAt(options_, WallClockMs(options_));
}

Status EngineCore::CommitGroup(std::vector<PendingWrite*>& group) {
  // Backpressure: while the head is full, wait until a flush has frozen it
  // (and, first, written the head it froze before) rather than grow it
  // without bound, whatever else runs (a compaction never holds flushes back
  // for more than installing one file); if flushing fails, refuse the group
  // (UNAVAILABLE, nothing written) instead of waiting forever.
  auto full = [this] { return versions_.Current()->active->bytes() > options_.head_max_bytes; };
  KPIDB_RETURN_IF_ERROR(flusher_->WaitForRoom(full));
  Status s;
  {
    std::lock_guard wal_lock(log_.mu);
    s = WriteGroup(group);
  }
  if (!s.ok()) {
    // The log's state is unknown: refuse every later write.
    queue_.Poison(s);
    options_.logger("write failed, refusing further writes: " + s.ToString());
  }
  if (full()) flusher_->RequestFlush();
  return s;
}

Status EngineCore::WriteGroup(std::vector<PendingWrite*>& group) {
  // 1. Ids. A new series gets a proposed id; the index learns it only once
  // the group is logged, so that a group refused below leaves no trace.
  std::unordered_map<std::string_view, SeriesId> proposed;  // new series of the group
  std::unordered_set<SeriesId> proposed_ids;
  std::vector<std::string_view> proposed_order;
  std::string members;  // the group record's payload, but for its count
  uint32_t member_count = 0;
  std::vector<std::optional<SeriesId>> known;
  std::unordered_set<std::string_view> fresh;
  const std::shared_ptr<Head> head_owner = versions_.Current()->active;
  Head& head = *head_owner;
  std::vector<Head::Place> places;  // the group's series in the head, in order
  std::string framed;
  // Steps 1 and 2 change nothing outside this function: running out of
  // memory in them refuses the group whole (RESOURCE_EXHAUSTED) and leaves
  // the engine serving.
  try {
  for (PendingWrite* g : group) {
    // The series limit, checked against the exact state: only the leader
    // creates series.
    known.clear();
    fresh.clear();
    for (const std::string& c : g->canonicals) {
      std::optional<SeriesId> id = index_.Find(c);
      if (!id) {
        if (auto p = proposed.find(c); p != proposed.end()) id = p->second;
      }
      known.push_back(id);
      if (!id) fresh.insert(c);
    }
    const size_t existing = index_.size() + proposed.size();
    if (existing + fresh.size() > options_.max_series) {
      g->status = Status::ResourceExhausted(
          "the write would create " + std::to_string(fresh.size()) + " new series, over max_series=" +
          std::to_string(options_.max_series) + " (" + std::to_string(existing) + " exist)");
      continue;
    }
    const size_t member = BeginWalGroupMember(&members);
    StartWalRecord(static_cast<uint32_t>(g->canonicals.size()), &members);
    g->ids.resize(g->canonicals.size());
    for (size_t i = 0; i < g->canonicals.size(); ++i) {
      const std::string& c = g->canonicals[i];
      bool created = false;
      SeriesId id;
      if (known[i]) {
        id = *known[i];
      } else if (auto p = proposed.find(c); p != proposed.end()) {
        id = p->second;  // a series new in this batch twice
      } else {
        id = index_.ProposeId(c, [&](SeriesId x) { return proposed_ids.contains(x); });
        proposed.emplace(c, id);
        proposed_ids.insert(id);
        proposed_order.push_back(c);
        created = true;
      }
      g->ids[i] = id;
      AppendWalSeries(id, created ? std::string_view(c) : std::string_view(),
                      static_cast<uint32_t>(g->batch->series[i].timestamps_ms.size()),
                      g->encoded[i], &members);
    }
    EndWalGroupMember(member, &members);
    ++member_count;
  }
  if (member_count == 0) return Status::Ok();

  // 2. Memory, before anything is logged: room in the head for every point,
  // and for the new series' definitions.
    for (PendingWrite* g : group) {
      if (!g->status.ok()) continue;
      for (size_t i = 0; i < g->ids.size(); ++i) {
        places.push_back(head.Reserve(g->ids[i], g->batch->series[i].timestamps_ms.size()));
      }
    }
    log_.new_series.reserve(log_.new_series.size() + proposed_order.size());
    AppendLogRecord(kWalGroupRecord, WalGroupCount(member_count), members, &framed);
  } catch (const std::bad_alloc&) {
    for (PendingWrite* g : group) {
      if (g->status.ok()) {
        g->status = Status::ResourceExhausted(
            "out of memory for the write's " + std::to_string(g->points) +
            " points in the head; nothing was written (retry later, or raise the memory limit)");
      }
    }
    options_.logger("a write group was refused: out of memory reserving the head");
    return Status::Ok();
  }

  // 3. The log: durable once this returns (per the sync policy).
  MaybeRotateWal();
  KPIDB_RETURN_IF_ERROR(log_.wal->Append(framed));
  if (options_.wal_sync == WalSyncPolicy::kAlways) KPIDB_RETURN_IF_ERROR(log_.wal->Sync());

  // 4. Apply. The group is logged by then, so running out of memory here
  // makes the engine refuse further writes (as a failed WAL write does): a
  // restart replays the group whole. What may still allocate: the index's
  // structures for new series, and the head for a series twice in the
  // group (its room is the larger of its writes: Reserve does not add up).
  try {
    for (std::string_view c : proposed_order) {
      const SeriesId id = proposed.at(c);
      KPIDB_RETURN_IF_ERROR(index_.Register(id, c));
      log_.new_series.push_back(id);
    }
    size_t place = 0;
    for (PendingWrite* g : group) {
      if (!g->status.ok()) continue;
      for (size_t i = 0; i < g->ids.size(); ++i) {
        const SeriesPoints& sp = g->batch->series[i];
        head.Append(places[place++], g->ids[i], sp.timestamps_ms, sp.values);
      }
    }
  } catch (const std::bad_alloc&) {
    return Status::Internal("out of memory applying a write after it was logged; "
                            "refusing writes until a restart replays it");
  }
  return Status::Ok();
}

void EngineCore::MaybeRotateWal() {
  if (log_.wal->file_size() <= options_.wal_file_bytes) return;
  Status s = options_.wal_sync == WalSyncPolicy::kAlways ? Status::Ok() : log_.wal->Sync();
  if (s.ok()) {
    auto next = WalWriter::Create(wal_dir_, versions_.NewFileNumber());
    if (next.ok()) {
      log_.wal = std::move(next).value();
      return;
    }
    s = next.status();
  }
  options_.logger("WAL rotation failed, continuing in " + WalFileName(log_.wal->file_number()) +
                  ": " + s.ToString());
}

namespace {

// Collects every point; never takes stats.
class CollectingVisitor : public ScanVisitor {
 public:
  explicit CollectingVisitor(SeriesData* out) : out_(out) {}
  bool OnChunkStats(const ChunkStats&) override { return false; }
  Status OnPoints(std::span<const int64_t> ts, std::span<const double> vs) override {
    out_->timestamps_ms.insert(out_->timestamps_ms.end(), ts.begin(), ts.end());
    out_->values.insert(out_->values.end(), vs.begin(), vs.end());
    return Status::Ok();
  }

 private:
  SeriesData* out_;
};

}  // namespace

Result<SeriesData> EngineCore::Read(SeriesId id, int64_t start_ms, int64_t end_ms) const {
  SeriesData out;
  out.id = id;
  auto key = index_.Key(id);
  if (!key) return Status::NotFound("no series with id " + std::to_string(id));
  out.key = std::move(*key);
  CollectingVisitor collect(&out);
  KPIDB_RETURN_IF_ERROR(Scan(id, start_ms, end_ms, &collect));
  return out;
}

std::optional<uint64_t> EngineCore::EstimatePoints(std::span<const SeriesId> ids, int64_t start_ms,
                                               int64_t end_ms, uint64_t enough,
                                               size_t max_lookups) const {
  if (start_ms >= end_ms) return 0;
  auto state = versions_.Current();
  std::vector<const SegmentReader*> overlapping;
  for (const auto& segment : state->segments) {
    if (segment->Overlaps(start_ms, end_ms)) overlapping.push_back(segment.get());
  }
  if (!overlapping.empty() && ids.size() > max_lookups / overlapping.size()) return std::nullopt;
  uint64_t points = 0;
  SegmentSeries entry;
  for (SeriesId id : ids) {
    for (const Head* head : {state->flushing.get(), state->active.get()}) {
      if (head != nullptr) points += head->Count(id);
    }
    for (const SegmentReader* segment : overlapping) {
      auto chunks = segment->ChunksOverlapping(id, start_ms, end_ms, &entry);
      if (!chunks.ok()) return std::nullopt;  // not known: the scan reports the error
      for (const ChunkMeta& c : *chunks) points += c.stats.count;
    }
    if (points > enough) break;
  }
  return points;
}

Status EngineCore::Scan(SeriesId id, int64_t start_ms, int64_t end_ms, ScanVisitor* visitor) const {
  const Retention retention = CurrentRetention();
  return Scan(id, start_ms, end_ms, visitor, retention, nullptr);
}

Status EngineCore::Scan(SeriesId id, int64_t start_ms, int64_t end_ms, ScanVisitor* visitor,
                        const Retention& retention, bool* incomplete) const {
  if (start_ms >= end_ms) return Status::Ok();
  auto state = versions_.Current();  // pins the heads and segments for the scan
  // Head points: flushing (older) then active (newer), newest kept.
  std::vector<int64_t> head_ts;
  std::vector<double> head_vs;
  int head_sources = 0;
  for (const Head* head : {state->flushing.get(), state->active.get()}) {
    if (head != nullptr) head_sources += head->Read(id, start_ms, end_ms, &head_ts, &head_vs) > 0;
  }
  if (head_sources > 1) SortByTimestampKeepingLast(&head_ts, &head_vs);
  MergeScan scan(start_ms, end_ms, visitor, &retention);
  scan.SetHeadPoints(std::move(head_ts), std::move(head_vs));
  for (const auto& segment : state->segments) {
    KPIDB_RETURN_IF_ERROR(scan.AddSegment(*segment, id));
  }
  KPIDB_RETURN_IF_ERROR(scan.Run());
  if (incomplete != nullptr && scan.incomplete()) *incomplete = true;
  return Status::Ok();
}

std::vector<SeriesId> EngineCore::SelectSeries(std::string_view metric,
                                           const Labels& equal_labels) const {
  return index_.SelectEqual(metric, equal_labels);
}

std::optional<SeriesId> EngineCore::FindSeries(std::string_view metric, const Labels& labels) const {
  SeriesKey key{std::string(metric), labels};
  std::sort(key.labels.begin(), key.labels.end());
  return index_.Find(key.Canonical());
}

std::optional<SeriesKey> EngineCore::SeriesKeyOf(SeriesId id) const { return index_.Key(id); }

Status EngineCore::Close() {
  if (!queue_.Close()) return Status::Ok();
  // Stop background work first: a writer waiting for a flush must not wait
  // for a background thread that is going away. No flush outlives the dir
  // lock.
  if (compactor_) compactor_->Stop();  // a merge in progress gives up
  if (flusher_) flusher_->Stop();
  queue_.Drain();  // writers queued before closing still complete
  if (flusher_) flusher_->WriteIndexSnapshotAtClose();
  versions_.Seal();  // a merge still running installs nothing
  Status s;
  {
    std::lock_guard wal_lock(log_.mu);
    if (log_.wal) s = log_.wal->Sync();
  }
  lock_.reset();
  return s;
}

Status EngineCore::Flush() { return flusher_->Flush(); }

Status EngineCore::Compact(uint64_t* merged) { return compactor_->Compact(/*wait=*/true, merged); }
Status EngineCore::StartCompaction() { return compactor_->Compact(/*wait=*/false, nullptr); }

Status EngineCore::Delete(const std::vector<SeriesId>& ids, int64_t start_ms, int64_t end_ms,
                          uint64_t* deleted_points) {
  return compactor_->Delete(ids, start_ms, end_ms, deleted_points);
}

EngineStats EngineCore::GetStats() const {
  EngineStats st;
  auto state = versions_.Current();
  st.series = index_.size() - EmptiedCount();
  for (const Head* head : {state->flushing.get(), state->active.get()}) {
    if (head == nullptr) continue;
    st.head_points += head->points();
    st.head_bytes += head->bytes();
  }
  st.head_reserved_bytes = head_slabs_->kept() * SlabPool::kSlabBytes;
  st.segments = state->segments.size();
  for (const auto& s : state->segments) {
    st.segment_points += s->point_count();
    st.segment_bytes += s->file_size();
  }
  {
    std::lock_guard lock(distinct_mu_);
    const auto& now = state->segments;
    const bool same = distinct_for_.size() == now.size() &&
                      std::equal(now.begin(), now.end(), distinct_for_.begin(),
                                 [](const auto& a, const auto& b) { return a == b.lock(); });
    if (!same) {
      auto counted = CountDistinctPoints(now);
      // A chunk that cannot be decoded (reads report it): count the copies.
      distinct_points_ = counted.ok() ? *counted : st.segment_points;
      distinct_for_.assign(now.begin(), now.end());
    }
    st.segment_distinct_points = distinct_points_;
  }
  auto names = ListDir(wal_dir_);
  if (names.ok()) {
    for (const std::string& name : *names) {
      uint64_t number;
      if (!ParseWalFileName(name, &number)) continue;
      ++st.wal_files;
      auto size = FileSize(JoinPath(wal_dir_, name));
      if (size.ok()) st.wal_bytes += *size;
    }
  }
  st.quarantined_segments = quarantined_.load();
  st.flushes = flusher_->flushes();
  st.points_written = points_written_.load(std::memory_order_relaxed);
  const CompactionStats c = compactor_->stats();
  st.retention.raw_retention_ms = options_.raw_retention_ms;
  st.retention.tier_steps_ms = options_.rollup_tiers_ms;
  st.retention.tier_retention_ms = options_.rollup_retention_ms;
  st.retention.tier_retention_ms.resize(options_.rollup_tiers_ms.size(), 0);
  if (options_.raw_retention_ms > 0) st.retention.raw_expired_before_ms = CurrentRetention().raw_from_ms;
  st.retention.points_expired = c.points_expired;
  st.retention.rewrites = c.retention_rewrites;
  st.compaction = {c.running, c.backlog, c.waiting, c.merges, c.files_merged, c.bytes_written,
                   c.points_written, c.last_merge_unix_ms, c.last_merge_seconds, c.last_error};
  return st;
}

}  // namespace kpidb
