#include "engine/core/engine_core.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "engine/common/coding.h"
#include "engine/common/point_order.h"
#include "engine/wal/record_log.h"

namespace kpidb {
namespace {

constexpr uint64_t kMaxGroupPoints = 4'000'000;  // one WAL write covers at most this
constexpr uint64_t kMaxGroupBytes = 256ull << 20;  // keeps a group record far below the limit

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
  if (o.head_max_bytes == 0) return Status::InvalidArgument("head_max_bytes must be positive");
  if (o.wal_sync == WalSyncPolicy::kInterval && o.wal_sync_interval_ms == 0) {
    return Status::InvalidArgument("wal_sync_interval_ms must be positive");
  }
  if (!o.logger) return Status::InvalidArgument("logger must be set");
  return Status::Ok();
}

}  // namespace

struct EngineCore::Writer {
  const WriteBatch* batch = nullptr;
  std::vector<SeriesKey> keys;
  std::vector<std::string> canonicals;
  std::vector<std::string> encoded;  // WAL points per series
  std::vector<SeriesId> ids;
  uint64_t points = 0;
  uint64_t record_bytes = 0;  // estimated size of its WAL record
  Status status;
  bool done = false;
  std::condition_variable cv;
};

EngineCore::EngineCore(std::string dir, EngineOptions options)
    : dir_(std::move(dir)),
      wal_dir_(JoinPath(dir_, "wal")),
      segment_dir_(JoinPath(dir_, "segments")),
      options_(std::move(options)),
      head_slabs_(std::make_shared<SlabPool>(options_.head_max_bytes)) {}

Result<std::unique_ptr<EngineCore>> EngineCore::Open(const std::string& dir,
                                             const EngineOptions& options) {
  KPIDB_RETURN_IF_ERROR(ValidateOptions(options));
  std::unique_ptr<EngineCore> engine(new EngineCore(dir, options));
  KPIDB_RETURN_IF_ERROR(CreateDirIfMissing(dir));
  KPIDB_ASSIGN_OR_RETURN(engine->lock_, DirLock::Acquire(dir));
  for (const char* sub : {"wal", "segments", "quarantine"}) {
    KPIDB_RETURN_IF_ERROR(CreateDirIfMissing(JoinPath(dir, sub)));
  }
  KPIDB_RETURN_IF_ERROR(engine->Recover());
  engine->bg_thread_ = std::thread([e = engine.get()] { e->BackgroundLoop(); });
  return engine;
}

EngineCore::~EngineCore() {
  Status s = Close();
  if (!s.ok()) options_.logger("close of " + dir_ + " failed: " + s.ToString());
}

std::string EngineCore::SegmentPath(uint64_t number) const {
  return JoinPath(segment_dir_, SegmentFileName(number));
}

std::shared_ptr<const EngineCore::ReadState> EngineCore::State() const {
  std::shared_lock lock(state_mu_);
  return state_;
}

void EngineCore::SetState(std::shared_ptr<const ReadState> state) {
  std::unique_lock lock(state_mu_);
  state_ = std::move(state);
}

Status EngineCore::Write(const WriteBatch& batch) {
  struct InFlight {
    explicit InFlight(std::atomic<int>& n) : n(n) { n.fetch_add(1); }
    ~InFlight() { n.fetch_sub(1); }
    std::atomic<int>& n;
  } in_flight(writers_in_flight_);
  Writer w;
  w.batch = &batch;
  try {
    KPIDB_RETURN_IF_ERROR(ValidateWriteBatch(batch, options_.limits, &w.keys));
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

  std::unique_lock lock(queue_mu_);
  if (closed_) return Status::Unavailable("engine " + dir_ + " is closed");
  if (!background_error_.ok()) return background_error_;
  writers_.push_back(&w);
  // Wake the front writer: if it leads and waits for its group to fill, this
  // arrival may complete it.
  if (writers_.front() != &w) writers_.front()->cv.notify_one();
  w.cv.wait(lock, [&] { return w.done || writers_.front() == &w; });
  if (w.done) return w.status;

  if (options_.wal_sync == WalSyncPolicy::kAlways && options_.group_commit_wait_us > 0) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::microseconds(options_.group_commit_wait_us);
    while (writers_.size() < static_cast<size_t>(writers_in_flight_.load()) &&
           w.cv.wait_until(lock, deadline) != std::cv_status::timeout) {
    }
  }

  // This writer leads: it writes the whole group queued behind it.
  std::vector<Writer*> group;
  try {
    group.reserve(writers_.size());
  } catch (const std::bad_alloc&) {
    writers_.pop_front();
    if (!writers_.empty()) writers_.front()->cv.notify_one();
    return Status::ResourceExhausted("out of memory forming a write group; nothing was written");
  }
  uint64_t group_points = 0;
  uint64_t group_bytes = 0;
  for (Writer* g : writers_) {
    if (!group.empty() && (group_points + g->points > kMaxGroupPoints ||
                           group_bytes + g->record_bytes > kMaxGroupBytes)) {
      break;
    }
    group.push_back(g);
    group_points += g->points;
    group_bytes += g->record_bytes;
  }
  lock.unlock();

  // Backpressure: while the head is full, wait until a flush has frozen it
  // (and, first, written the head it froze before) rather than grow it
  // without bound, whatever else runs (a compaction never holds flushes back
  // for more than installing one file); if flushing fails, refuse the group
  // (UNAVAILABLE, nothing written) instead of waiting forever.
  Status s;
  bool poisoned = false;
  if (State()->active->bytes() > options_.head_max_bytes) {
    std::unique_lock bg(bg_mu_);
    flush_requested_ = true;
    bg_cv_.notify_one();
    while (State()->active->bytes() > options_.head_max_bytes && !bg_stop_ &&
           last_flush_error_.ok()) {
      flush_requested_ = true;
      bg_cv_.notify_one();
      flush_done_cv_.wait_for(bg, std::chrono::milliseconds(50));
    }
    if (!last_flush_error_.ok() && !bg_stop_) {
      s = Status::Unavailable("the head is full and flushing it failed (retrying): " +
                              last_flush_error_.ToString());
    }
  }
  if (s.ok()) {
    std::lock_guard wal_lock(wal_mu_);
    s = WriteGroup(group);
    poisoned = !s.ok();
  }
  if (State()->active->bytes() > options_.head_max_bytes) {
    std::lock_guard bg(bg_mu_);
    flush_requested_ = true;
    bg_cv_.notify_one();
  }

  lock.lock();
  if (poisoned) {
    background_error_ = s;
    options_.logger("write failed, refusing further writes: " + s.ToString());
  }
  for (Writer* g : group) {
    writers_.pop_front();
    if (!s.ok()) g->status = s;
    g->done = true;
    if (g != &w) g->cv.notify_one();
  }
  if (!writers_.empty()) writers_.front()->cv.notify_one();
  return w.status;
}

Status EngineCore::WriteGroup(std::vector<Writer*>& group) {
  // 1. Ids. A new series gets a proposed id; the index learns it only once
  // the group is logged, so that a group refused below leaves no trace.
  std::unordered_map<std::string_view, SeriesId> proposed;  // new series of the group
  std::unordered_set<SeriesId> proposed_ids;
  std::vector<std::string_view> proposed_order;
  std::string members;  // the group record's payload, but for its count
  uint32_t member_count = 0;
  std::vector<std::optional<SeriesId>> known;
  std::unordered_set<std::string_view> fresh;
  const std::shared_ptr<Head> head_owner = State()->active;
  Head& head = *head_owner;
  std::string framed;
  // Steps 1 and 2 change nothing outside this function: running out of
  // memory in them refuses the group whole (RESOURCE_EXHAUSTED) and leaves
  // the engine serving.
  try {
  for (Writer* g : group) {
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
    for (Writer* g : group) {
      if (!g->status.ok()) continue;
      for (size_t i = 0; i < g->ids.size(); ++i) {
        head.Reserve(g->ids[i], g->batch->series[i].timestamps_ms.size());
      }
    }
    new_series_.reserve(new_series_.size() + proposed_order.size());
    AppendLogRecord(kWalGroupRecord, WalGroupCount(member_count), members, &framed);
  } catch (const std::bad_alloc&) {
    for (Writer* g : group) {
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
  KPIDB_RETURN_IF_ERROR(wal_->Append(framed));
  if (options_.wal_sync == WalSyncPolicy::kAlways) KPIDB_RETURN_IF_ERROR(wal_->Sync());

  // 4. Apply. The head's room is reserved; only the index's small
  // structures for new series may still fail to allocate. The group is
  // logged by then, so that failure makes the engine refuse further writes
  // (as a failed WAL write does): a restart replays the group whole.
  try {
    for (std::string_view c : proposed_order) {
      const SeriesId id = proposed.at(c);
      std::string canonical(c);
      KPIDB_RETURN_IF_ERROR(index_.Register(id, canonical));
      new_series_.emplace_back(id, std::move(canonical));
    }
  } catch (const std::bad_alloc&) {
    return Status::Internal("out of memory adding new series after their write was logged; "
                            "refusing writes until a restart replays it");
  }
  for (Writer* g : group) {
    if (!g->status.ok()) continue;
    for (size_t i = 0; i < g->ids.size(); ++i) {
      const SeriesPoints& sp = g->batch->series[i];
      head.Append(g->ids[i], sp.timestamps_ms, sp.values);
    }
  }
  return Status::Ok();
}

void EngineCore::MaybeRotateWal() {
  if (wal_->file_size() <= options_.wal_file_bytes) return;
  Status s = options_.wal_sync == WalSyncPolicy::kAlways ? Status::Ok() : wal_->Sync();
  if (s.ok()) {
    auto next = WalWriter::Create(wal_dir_, next_file_number_++);
    if (next.ok()) {
      wal_ = std::move(next).value();
      return;
    }
    s = next.status();
  }
  options_.logger("WAL rotation failed, continuing in " + WalFileName(wal_->file_number()) +
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

struct ChunkRef {
  const SegmentSeries* entry;
  const SegmentReader* segment;
  const ChunkMeta* chunk;
  size_t age;  // index of the segment: a higher one holds newer writes
};

// A rollup row a scan visitor took, with its bucket [start, end).
struct TakenRow {
  int64_t start;
  int64_t end;
  int64_t step_ms;
  RollupRow row;
};

// Whether a source other than segment `age` may have points of the series
// in [s, e): a head point there, or a chunk of another segment whose span
// meets it. `refs` is sorted by chunk start, and no chunk spans more than
// `max_span` ms.
bool OthersMayHavePoints(const std::vector<ChunkRef>& refs, int64_t max_span,
                         const std::vector<int64_t>& head_ts, size_t age, int64_t s, int64_t e) {
  auto h = std::lower_bound(head_ts.begin(), head_ts.end(), s);
  if (h != head_ts.end() && *h < e) return true;
  const int64_t from = SaturateInt64(static_cast<__int128>(s) - max_span);
  auto it = std::lower_bound(refs.begin(), refs.end(), from, [](const ChunkRef& r, int64_t t) {
    return r.chunk->stats.min_timestamp_ms < t;
  });
  for (; it != refs.end() && it->chunk->stats.min_timestamp_ms < e; ++it) {
    if (it->age != age && it->chunk->stats.max_timestamp_ms >= s) return true;
  }
  return false;
}

// The rollup rows the visitor takes (see ScanVisitor), sorted by start.
Status ChooseRollupRows(const std::vector<ChunkRef>& refs, const std::vector<int64_t>& head_ts,
                        int64_t start_ms, int64_t end_ms, ScanVisitor* visitor,
                        std::vector<TakenRow>* taken) {
  int64_t max_span = 0;
  for (const ChunkRef& r : refs) {
    max_span = std::max(max_span, r.chunk->stats.max_timestamp_ms - r.chunk->stats.min_timestamp_ms);
  }
  std::vector<RollupTier> tiers;
  std::vector<TakenRow> mine;  // of one segment, sorted by start
  std::vector<const SegmentSeries*> done;
  for (const ChunkRef& ref : refs) {
    // Each segment entry once (its chunks are among the refs).
    if (ref.entry->rollup_length == 0 ||
        std::find(done.begin(), done.end(), ref.entry) != done.end()) {
      continue;
    }
    done.push_back(ref.entry);
    bool stats_serve = true;
    for (const ChunkMeta& c : ref.entry->ChunksOverlapping(start_ms, end_ms)) {
      if (c.stats.min_timestamp_ms < start_ms || c.stats.max_timestamp_ms >= end_ms ||
          !visitor->ChunkStatsSuffice(c.stats) ||
          OthersMayHavePoints(refs, max_span, head_ts, ref.age, c.stats.min_timestamp_ms,
                              c.stats.max_timestamp_ms + 1)) {
        stats_serve = false;
        break;
      }
    }
    if (stats_serve) continue;
    KPIDB_RETURN_IF_ERROR(ref.segment->ReadRollup(*ref.entry, &tiers));
    mine.clear();
    for (auto tier = tiers.rbegin(); tier != tiers.rend(); ++tier) {  // coarsest first
      const size_t coarser = mine.size();
      for (const RollupRow& row : tier->rows) {
        const int64_t s = RollupBucketStart(tier->step_ms, row.bucket);
        const int64_t e = RollupBucketEnd(tier->step_ms, row.bucket);
        if (s < start_ms || e > end_ms) continue;
        auto next = std::partition_point(mine.begin(), mine.begin() + static_cast<ptrdiff_t>(coarser),
                                         [&](const TakenRow& r) { return r.start <= s; });
        if (next != mine.begin() && std::prev(next)->end > s) continue;
        if (next != mine.begin() + static_cast<ptrdiff_t>(coarser) && next->start < e) continue;
        if (OthersMayHavePoints(refs, max_span, head_ts, ref.age, s, e)) continue;
        if (!visitor->WantsRollupRow(tier->step_ms, row)) continue;
        mine.push_back({s, e, tier->step_ms, row});
      }
      std::inplace_merge(mine.begin(), mine.begin() + static_cast<ptrdiff_t>(coarser), mine.end(),
                         [](const TakenRow& a, const TakenRow& b) { return a.start < b.start; });
    }
    taken->insert(taken->end(), mine.begin(), mine.end());
  }
  std::sort(taken->begin(), taken->end(),
            [](const TakenRow& a, const TakenRow& b) { return a.start < b.start; });
  return Status::Ok();
}

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
  auto state = State();
  std::vector<const SegmentReader*> overlapping;
  for (const auto& segment : state->segments) {
    if (segment->Overlaps(start_ms, end_ms)) overlapping.push_back(segment.get());
  }
  if (!overlapping.empty() && ids.size() > max_lookups / overlapping.size()) return std::nullopt;
  uint64_t points = 0;
  for (SeriesId id : ids) {
    for (const Head* head : {state->flushing.get(), state->active.get()}) {
      if (head != nullptr) points += head->Count(id);
    }
    for (const SegmentReader* segment : overlapping) {
      for (const ChunkMeta& c : segment->ChunksOverlapping(id, start_ms, end_ms)) points += c.stats.count;
    }
    if (points > enough) break;
  }
  return points;
}

Status EngineCore::Scan(SeriesId id, int64_t start_ms, int64_t end_ms, ScanVisitor* visitor) const {
  if (start_ms >= end_ms) return Status::Ok();
  auto state = State();

  // Head points: flushing (older) then active (newer), newest kept.
  std::vector<int64_t> head_ts;
  std::vector<double> head_vs;
  int head_sources = 0;
  for (const Head* head : {state->flushing.get(), state->active.get()}) {
    if (head != nullptr) head_sources += head->Read(id, start_ms, end_ms, &head_ts, &head_vs) > 0;
  }
  if (head_sources > 1) SortByTimestampKeepingLast(&head_ts, &head_vs);

  // Segment chunks of this series that overlap the range, by start time.
  std::vector<ChunkRef> refs;
  for (size_t age = 0; age < state->segments.size(); ++age) {
    const SegmentReader& segment = *state->segments[age];
    const SegmentSeries* series = nullptr;
    for (const ChunkMeta& c : segment.ChunksOverlapping(id, start_ms, end_ms, &series)) {
      refs.push_back({series, &segment, &c, age});
    }
  }
  std::stable_sort(refs.begin(), refs.end(), [](const ChunkRef& a, const ChunkRef& b) {
    return a.chunk->stats.min_timestamp_ms < b.chunk->stats.min_timestamp_ms;
  });

  std::vector<TakenRow> taken;
  if (visitor->UsesRollups()) {
    KPIDB_RETURN_IF_ERROR(ChooseRollupRows(refs, head_ts, start_ms, end_ms, visitor, &taken));
  }
  // Everything reaches the visitor in time order: taken rows in place of
  // the points they cover.
  size_t next_row = 0;
  auto emit_rows_through = [&](int64_t t) -> Status {  // rows starting at or before t
    for (; next_row < taken.size() && taken[next_row].start <= t; ++next_row) {
      KPIDB_RETURN_IF_ERROR(visitor->OnRollupRow(taken[next_row].step_ms, taken[next_row].row));
    }
    return Status::Ok();
  };
  auto deliver = [&](std::span<const int64_t> ts, std::span<const double> vs) -> Status {
    for (size_t i = 0; i < ts.size();) {
      KPIDB_RETURN_IF_ERROR(emit_rows_through(ts[i]));
      if (next_row > 0) {  // skip the points of the last row taken
        while (i < ts.size() && ts[i] < taken[next_row - 1].end) ++i;
      }
      size_t j = i;
      while (j < ts.size() && (next_row == taken.size() || ts[j] < taken[next_row].start)) ++j;
      if (j > i) KPIDB_RETURN_IF_ERROR(visitor->OnPoints(ts.subspan(i, j - i), vs.subspan(i, j - i)));
      i = j;
    }
    return Status::Ok();
  };
  // The taken row that meets [lo, hi], if any (rows do not overlap).
  auto row_meeting = [&](int64_t lo, int64_t hi) -> const TakenRow* {
    auto it = std::partition_point(taken.begin(), taken.end(),
                                   [&](const TakenRow& r) { return r.start <= hi; });
    if (it == taken.begin()) return nullptr;
    --it;
    return it->end > lo ? &*it : nullptr;
  };
  auto emit_head = [&](size_t from, size_t to) -> Status {
    if (from == to) return Status::Ok();
    return deliver(std::span<const int64_t>(head_ts).subspan(from, to - from),
                   std::span<const double>(head_vs).subspan(from, to - from));
  };
  std::vector<int64_t> ts, merged_ts;
  std::vector<double> vs, merged_vs;
  size_t head_pos = 0;
  for (size_t i = 0; i < refs.size();) {
    // A component: chunks whose time spans overlap, transitively.
    const int64_t lo = refs[i].chunk->stats.min_timestamp_ms;
    int64_t hi = refs[i].chunk->stats.max_timestamp_ms;
    size_t j = i + 1;
    while (j < refs.size() && refs[j].chunk->stats.min_timestamp_ms <= hi) {
      hi = std::max(hi, refs[j].chunk->stats.max_timestamp_ms);
      ++j;
    }
    const size_t head_lo = static_cast<size_t>(
        std::lower_bound(head_ts.begin() + static_cast<ptrdiff_t>(head_pos), head_ts.end(), lo) -
        head_ts.begin());
    const size_t head_hi = static_cast<size_t>(
        std::upper_bound(head_ts.begin() + static_cast<ptrdiff_t>(head_lo), head_ts.end(), hi) -
        head_ts.begin());
    KPIDB_RETURN_IF_ERROR(emit_head(head_pos, head_lo));
    head_pos = head_hi;

    const TakenRow* row = taken.empty() ? nullptr : row_meeting(lo, lo);
    if (row != nullptr) {
      // Covered by a run of adjacent taken rows: nothing to decode.
      const TakenRow* last = row;
      while (last->end <= hi && last + 1 < taken.data() + taken.size() &&
             (last + 1)->start == last->end) {
        ++last;
      }
      if (hi < last->end) {
        i = j;
        continue;
      }
    } else {
      row = taken.empty() ? nullptr : row_meeting(lo, hi);
    }
    const bool alone = j == i + 1 && head_lo == head_hi;
    const bool inside = lo >= start_ms && hi < end_ms;
    if (alone && inside && row == nullptr) {
      KPIDB_RETURN_IF_ERROR(emit_rows_through(lo));
      if (visitor->OnChunkStats(refs[i].chunk->stats)) {
        i = j;
        continue;
      }
    }
    merged_ts.clear();
    merged_vs.clear();
    if (alone) {
      // One chunk, nothing overlapping it: decode straight into the output.
      KPIDB_RETURN_IF_ERROR(refs[i].segment->ReadChunk(*refs[i].chunk, &merged_ts, &merged_vs));
      if (!inside) {
        ts.swap(merged_ts);
        vs.swap(merged_vs);
        merged_ts.clear();
        merged_vs.clear();
        AppendPointsInRange(ts, vs, start_ms, end_ms, &merged_ts, &merged_vs);
      }
    } else {
      // Older segments first, the head last: the sort keeps the newest value.
      std::stable_sort(refs.begin() + static_cast<ptrdiff_t>(i),
                       refs.begin() + static_cast<ptrdiff_t>(j),
                       [](const ChunkRef& a, const ChunkRef& b) { return a.age < b.age; });
      for (size_t k = i; k < j; ++k) {
        ts.clear();
        vs.clear();
        KPIDB_RETURN_IF_ERROR(refs[k].segment->ReadChunk(*refs[k].chunk, &ts, &vs));
        AppendPointsInRange(ts, vs, start_ms, end_ms, &merged_ts, &merged_vs);
      }
      merged_ts.insert(merged_ts.end(), head_ts.begin() + static_cast<ptrdiff_t>(head_lo),
                       head_ts.begin() + static_cast<ptrdiff_t>(head_hi));
      merged_vs.insert(merged_vs.end(), head_vs.begin() + static_cast<ptrdiff_t>(head_lo),
                       head_vs.begin() + static_cast<ptrdiff_t>(head_hi));
      SortByTimestampKeepingLast(&merged_ts, &merged_vs);
    }
    if (!merged_ts.empty()) KPIDB_RETURN_IF_ERROR(deliver(merged_ts, merged_vs));
    i = j;
  }
  KPIDB_RETURN_IF_ERROR(emit_head(head_pos, head_ts.size()));
  return emit_rows_through(INT64_MAX);
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
  {
    std::unique_lock lock(queue_mu_);
    if (closed_) return Status::Ok();
    closed_ = true;
  }
  // Stop background work first: a writer waiting for a flush must not wait
  // for a background thread that is going away.
  {
    std::lock_guard lock(bg_mu_);
    bg_stop_ = true;
    bg_cv_.notify_all();
    flush_done_cv_.notify_all();
  }
  if (bg_thread_.joinable()) bg_thread_.join();
  // Writers queued before closing still complete.
  while (true) {
    std::unique_lock lock(queue_mu_);
    if (writers_.empty()) break;
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::lock_guard flush_lock(flush_mu_);  // no flush may outlive the dir lock
  Status s;
  {
    std::lock_guard wal_lock(wal_mu_);
    if (wal_) s = wal_->Sync();
  }
  lock_.reset();
  return s;
}

EngineStats EngineCore::GetStats() const {
  EngineStats st;
  auto state = State();
  st.series = index_.size();
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
  st.flushes = flushes_.load();
  return st;
}

}  // namespace kpidb
