#include "engine/engine.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <numeric>

#include "engine/record_log.h"

namespace kpidb {
namespace {

constexpr uint64_t kMaxGroupPoints = 4'000'000;  // one WAL write covers at most this

std::string SegmentFileName(uint64_t number) { return NumberedFileName(number, ".kps"); }

bool ParseSegmentFileName(std::string_view name, uint64_t* number) {
  return ParseNumberedFileName(name, ".kps", number);
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// Merges runs of sorted points, appended oldest source first, into one
// sorted run with the newest value for each timestamp.
void MergeRuns(const std::vector<size_t>& run_starts, std::vector<int64_t>* ts,
               std::vector<double>* vs) {
  bool disjoint = true;
  for (size_t r = 1; r < run_starts.size() && disjoint; ++r) {
    disjoint = (*ts)[run_starts[r] - 1] < (*ts)[run_starts[r]];
  }
  if (disjoint) return;
  const size_t n = ts->size();
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return (*ts)[a] < (*ts)[b]; });
  std::vector<int64_t> out_ts;
  std::vector<double> out_vs;
  out_ts.reserve(n);
  out_vs.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (i + 1 < n && (*ts)[order[i + 1]] == (*ts)[order[i]]) continue;  // a newer one follows
    out_ts.push_back((*ts)[order[i]]);
    out_vs.push_back((*vs)[order[i]]);
  }
  ts->swap(out_ts);
  vs->swap(out_vs);
}

Status ValidateOptions(const EngineOptions& o) {
  if (o.max_points_per_chunk == 0 || o.max_points_per_chunk > kMaxChunkPoints) {
    return Status::InvalidArgument("max_points_per_chunk must be in [1, " +
                                   std::to_string(kMaxChunkPoints) + "]");
  }
  if (o.segment_partition_ms <= 0) {
    return Status::InvalidArgument("segment_partition_ms must be positive");
  }
  if (o.head_max_bytes == 0) return Status::InvalidArgument("head_max_bytes must be positive");
  if (o.wal_sync == WalSyncPolicy::kInterval && o.wal_sync_interval_ms == 0) {
    return Status::InvalidArgument("wal_sync_interval_ms must be positive");
  }
  if (!o.logger) return Status::InvalidArgument("logger must be set");
  return Status::Ok();
}

}  // namespace

Logger StderrLogger() {
  return [](std::string_view line) {
    std::fprintf(stderr, "kpidb: %.*s\n", static_cast<int>(line.size()), line.data());
  };
}

struct Engine::Writer {
  const WriteBatch* batch = nullptr;
  std::vector<SeriesKey> keys;
  std::vector<std::string> canonicals;
  std::vector<std::string> encoded;  // WAL points per series
  std::vector<SeriesId> ids;
  uint64_t points = 0;
  Status status;
  bool done = false;
  std::condition_variable cv;
};

Engine::Engine(std::string dir, EngineOptions options)
    : dir_(std::move(dir)),
      wal_dir_(JoinPath(dir_, "wal")),
      segment_dir_(JoinPath(dir_, "segments")),
      options_(std::move(options)) {}

Result<std::unique_ptr<Engine>> Engine::Open(const std::string& dir,
                                             const EngineOptions& options) {
  KPIDB_RETURN_IF_ERROR(ValidateOptions(options));
  std::unique_ptr<Engine> engine(new Engine(dir, options));
  KPIDB_RETURN_IF_ERROR(CreateDirIfMissing(dir));
  KPIDB_ASSIGN_OR_RETURN(engine->lock_, DirLock::Acquire(dir));
  for (const char* sub : {"wal", "segments", "quarantine"}) {
    KPIDB_RETURN_IF_ERROR(CreateDirIfMissing(JoinPath(dir, sub)));
  }
  KPIDB_RETURN_IF_ERROR(engine->Recover());
  engine->bg_thread_ = std::thread([e = engine.get()] { e->BackgroundLoop(); });
  return engine;
}

Engine::~Engine() {
  Status s = Close();
  if (!s.ok()) options_.logger("close of " + dir_ + " failed: " + s.ToString());
}

std::string Engine::SegmentPath(uint64_t number) const {
  return JoinPath(segment_dir_, SegmentFileName(number));
}

Status Engine::OpenSegments() {
  std::vector<std::shared_ptr<SegmentReader>> readers;
  std::vector<uint64_t> live;
  for (uint64_t number : manifest_.segments) {
    const std::string path = SegmentPath(number);
    auto reader = SegmentReader::Open(path, options_.verify_segments_on_open);
    Status s = reader.ok() ? Status::Ok() : reader.status();
    if (s.ok()) {
      for (const SegmentSeries& series : (*reader)->series()) {
        s = index_.Register(series.id, series.canonical);
        if (!s.ok()) {
          s = Status::Corruption("segment " + path + ": " + s.message());
          break;
        }
      }
    }
    if (!s.ok()) {
      // Quarantine: move it aside, keep serving everything else.
      const std::string aside = JoinPath(JoinPath(dir_, "quarantine"), SegmentFileName(number));
      options_.logger("quarantining corrupt segment " + path + " -> " + aside + ": " +
                      s.ToString());
      if (FileExists(path)) KPIDB_RETURN_IF_ERROR(RenameFile(path, aside));
      quarantined_.fetch_add(1);
      continue;
    }
    live.push_back(number);
    readers.push_back(std::shared_ptr<SegmentReader>(std::move(reader).value()));
  }
  manifest_.segments = live;
  auto state = std::make_shared<ReadState>();
  state->active = std::make_shared<Head>();
  state->segments = std::move(readers);
  SetState(state);
  return Status::Ok();
}

Status Engine::Recover() {
  auto manifest = ReadManifest(dir_);
  if (manifest.ok()) {
    manifest_ = std::move(manifest).value();
  } else if (!manifest.status().IsNotFound()) {
    return manifest.status();
  }
  std::vector<SeriesLog::Definition> definitions;
  KPIDB_ASSIGN_OR_RETURN(series_log_, SeriesLog::Open(JoinPath(dir_, "series.log"),
                                                      options_.logger, &definitions));
  for (const auto& [id, canonical] : definitions) {
    Status s = index_.Register(id, canonical);
    if (!s.ok()) return Status::Corruption(JoinPath(dir_, "series.log") + ": " + s.message());
  }
  KPIDB_RETURN_IF_ERROR(OpenSegments());

  // Files a crashed flush left behind (not in the manifest) hold nothing the
  // WAL does not: remove them.
  uint64_t max_number = manifest_.next_file_number;
  KPIDB_ASSIGN_OR_RETURN(auto names, ListDir(segment_dir_));
  for (const std::string& name : names) {
    uint64_t number;
    bool known = ParseSegmentFileName(name, &number) &&
                 std::find(manifest_.segments.begin(), manifest_.segments.end(), number) !=
                     manifest_.segments.end();
    if (ParseSegmentFileName(name, &number)) max_number = std::max(max_number, number + 1);
    if (!known) {
      options_.logger("removing unreferenced file " + JoinPath(segment_dir_, name));
      KPIDB_RETURN_IF_ERROR(RemoveFile(JoinPath(segment_dir_, name)));
    }
  }

  std::shared_ptr<Head> head = State()->active;
  WalReplayStats stats;
  uint64_t max_wal = 0;
  KPIDB_RETURN_IF_ERROR(ReplayWal(
      wal_dir_, manifest_.wal_checkpoint, options_.logger,
      [&](std::vector<WalSeriesEntry>& entries) -> Status {
        for (WalSeriesEntry& e : entries) {
          if (!e.canonical.empty()) {
            std::string canonical(e.canonical);
            KPIDB_RETURN_IF_ERROR(index_.Register(e.id, canonical));
            new_series_.emplace_back(e.id, std::move(canonical));
          } else if (!index_.Key(e.id)) {
            return Status::Corruption("WAL refers to undefined series id " +
                                      std::to_string(e.id));
          }
          head->Append(e.id, e.timestamps, e.values);
        }
        return Status::Ok();
      },
      &stats, &max_wal));
  max_number = std::max(max_number, max_wal + 1);

  // WAL files below the checkpoint were flushed before a crash.
  KPIDB_ASSIGN_OR_RETURN(auto wal_names, ListDir(wal_dir_));
  for (const std::string& name : wal_names) {
    uint64_t number;
    if (ParseWalFileName(name, &number) && number < manifest_.wal_checkpoint) {
      KPIDB_RETURN_IF_ERROR(RemoveFile(JoinPath(wal_dir_, name)));
    }
  }

  next_file_number_ = max_number;
  KPIDB_ASSIGN_OR_RETURN(wal_, WalWriter::Create(wal_dir_, next_file_number_++));
  manifest_.next_file_number = next_file_number_;
  KPIDB_RETURN_IF_ERROR(WriteManifest(dir_, manifest_));
  options_.logger("opened " + dir_ + ": " + std::to_string(index_.size()) + " series, " +
                  std::to_string(manifest_.segments.size()) + " segments, replayed " +
                  std::to_string(stats.records) + " WAL records (" +
                  std::to_string(stats.points) + " points) from " +
                  std::to_string(stats.files) + " files");
  return Status::Ok();
}

std::shared_ptr<const Engine::ReadState> Engine::State() const {
  std::shared_lock lock(state_mu_);
  return state_;
}

void Engine::SetState(std::shared_ptr<const ReadState> state) {
  std::unique_lock lock(state_mu_);
  state_ = std::move(state);
}

Status Engine::Write(const WriteBatch& batch) {
  Writer w;
  w.batch = &batch;
  KPIDB_RETURN_IF_ERROR(ValidateWriteBatch(batch, options_.limits, &w.keys));
  // The expensive encoding happens here, in the caller's thread.
  w.canonicals.reserve(batch.series.size());
  w.encoded.reserve(batch.series.size());
  for (size_t i = 0; i < batch.series.size(); ++i) {
    w.canonicals.push_back(w.keys[i].Canonical());
    w.encoded.push_back(EncodeWalPoints(batch.series[i].timestamps_ms, batch.series[i].values));
    w.points += batch.series[i].timestamps_ms.size();
  }

  std::unique_lock lock(queue_mu_);
  if (closed_) return Status::Unavailable("engine " + dir_ + " is closed");
  if (!background_error_.ok()) return background_error_;
  writers_.push_back(&w);
  w.cv.wait(lock, [&] { return w.done || writers_.front() == &w; });
  if (w.done) return w.status;

  // This writer leads: it writes the whole group queued behind it.
  std::vector<Writer*> group;
  uint64_t group_points = 0;
  for (Writer* g : writers_) {
    if (!group.empty() && group_points + g->points > kMaxGroupPoints) break;
    group.push_back(g);
    group_points += g->points;
  }
  lock.unlock();

  // Backpressure: if the head is full while the previous one is still being
  // flushed, wait for that flush rather than grow without bound.
  {
    auto state = State();
    if (state->active->bytes() > options_.head_max_bytes) {
      std::unique_lock bg(bg_mu_);
      flush_requested_ = true;
      bg_cv_.notify_one();
      while (State()->flushing && !bg_stop_) flush_done_cv_.wait_for(bg, std::chrono::milliseconds(50));
    }
  }

  Status s;
  {
    std::lock_guard wal_lock(wal_mu_);
    s = WriteGroup(group);
  }
  if (State()->active->bytes() > options_.head_max_bytes) {
    std::lock_guard bg(bg_mu_);
    flush_requested_ = true;
    bg_cv_.notify_one();
  }

  lock.lock();
  if (!s.ok()) {
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

Status Engine::WriteGroup(std::vector<Writer*>& group) {
  std::string framed;
  std::string body;
  std::vector<std::string_view> fresh;
  for (Writer* g : group) {
    // The series limit, checked against the exact state: only the leader
    // creates series.
    fresh.clear();
    for (const std::string& c : g->canonicals) {
      if (!index_.Find(c) && std::find(fresh.begin(), fresh.end(), c) == fresh.end()) {
        fresh.push_back(c);
      }
    }
    if (index_.size() + fresh.size() > options_.max_series) {
      g->status = Status::ResourceExhausted(
          "the write would create " + std::to_string(fresh.size()) + " new series, over max_series=" +
          std::to_string(options_.max_series) + " (" + std::to_string(index_.size()) + " exist)");
      continue;
    }
    body.clear();
    StartWalRecord(static_cast<uint32_t>(g->canonicals.size()), &body);
    g->ids.resize(g->canonicals.size());
    for (size_t i = 0; i < g->canonicals.size(); ++i) {
      bool created;
      SeriesId id = index_.GetOrAssign(g->keys[i], g->canonicals[i], &created);
      if (created) new_series_.emplace_back(id, g->canonicals[i]);
      g->ids[i] = id;
      AppendWalSeries(id, created ? std::string_view(g->canonicals[i]) : std::string_view(),
                      static_cast<uint32_t>(g->batch->series[i].timestamps_ms.size()),
                      g->encoded[i], &body);
    }
    AppendLogRecord(kWalWriteRecord, body, &framed);
  }
  if (framed.empty()) return Status::Ok();
  KPIDB_RETURN_IF_ERROR(wal_->Append(framed));
  if (options_.wal_sync == WalSyncPolicy::kAlways) KPIDB_RETURN_IF_ERROR(wal_->Sync());

  Head& head = *State()->active;
  for (Writer* g : group) {
    if (!g->status.ok()) continue;
    for (size_t i = 0; i < g->ids.size(); ++i) {
      const SeriesPoints& sp = g->batch->series[i];
      head.Append(g->ids[i], sp.timestamps_ms, sp.values);
    }
  }
  if (wal_->file_size() > options_.wal_file_bytes) {
    if (options_.wal_sync != WalSyncPolicy::kAlways) KPIDB_RETURN_IF_ERROR(wal_->Sync());
    KPIDB_ASSIGN_OR_RETURN(wal_, WalWriter::Create(wal_dir_, next_file_number_++));
  }
  return Status::Ok();
}

Result<SeriesData> Engine::Read(SeriesId id, int64_t start_ms, int64_t end_ms) const {
  SeriesData out;
  out.id = id;
  auto key = index_.Key(id);
  if (!key) return Status::NotFound("no series with id " + std::to_string(id));
  out.key = std::move(*key);
  if (start_ms >= end_ms) return out;
  auto state = State();
  std::vector<size_t> run_starts;
  auto& ts = out.timestamps_ms;
  auto& vs = out.values;
  for (const auto& segment : state->segments) {
    if (segment->max_timestamp_ms() < start_ms || segment->min_timestamp_ms() >= end_ms) continue;
    size_t before = ts.size();
    KPIDB_RETURN_IF_ERROR(segment->Read(id, start_ms, end_ms, &ts, &vs));
    if (ts.size() > before) run_starts.push_back(before);
  }
  for (const Head* head : {state->flushing.get(), state->active.get()}) {
    if (head == nullptr) continue;
    size_t before = ts.size();
    if (head->Read(id, start_ms, end_ms, &ts, &vs) > 0) run_starts.push_back(before);
  }
  if (run_starts.size() > 1) MergeRuns(run_starts, &ts, &vs);
  return out;
}

std::vector<SeriesId> Engine::SelectSeries(std::string_view metric,
                                           const Labels& equal_labels) const {
  return index_.SelectEqual(metric, equal_labels);
}

std::optional<SeriesId> Engine::FindSeries(std::string_view metric, const Labels& labels) const {
  SeriesKey key{std::string(metric), labels};
  std::sort(key.labels.begin(), key.labels.end());
  return index_.Find(key.Canonical());
}

std::optional<SeriesKey> Engine::SeriesKeyOf(SeriesId id) const { return index_.Key(id); }

Status Engine::Flush() {
  std::lock_guard lock(flush_mu_);
  return FlushLocked();
}

Status Engine::FlushLocked() {
  if (!State()->flushing) {
    // Freeze the head and start a new WAL file: everything before it is in
    // the frozen head, so once segments hold it the old files can go.
    std::lock_guard wal_lock(wal_mu_);
    auto state = State();
    if (state->active->empty()) return Status::Ok();
    if (options_.wal_sync != WalSyncPolicy::kAlways) KPIDB_RETURN_IF_ERROR(wal_->Sync());
    KPIDB_ASSIGN_OR_RETURN(wal_, WalWriter::Create(wal_dir_, next_file_number_++));
    flushing_checkpoint_ = wal_->file_number();
    flushing_series_.insert(flushing_series_.end(), new_series_.begin(), new_series_.end());
    new_series_.clear();
    auto next = std::make_shared<ReadState>(*state);
    next->flushing = state->active;
    next->active = std::make_shared<Head>();
    SetState(next);
  }
  auto state = State();
  std::vector<uint64_t> numbers;
  KPIDB_RETURN_IF_ERROR(WriteSegments(*state->flushing, &numbers));
  KPIDB_RETURN_IF_ERROR(SyncDir(segment_dir_));
  KPIDB_RETURN_IF_ERROR(series_log_->Append(flushing_series_));
  std::vector<std::shared_ptr<SegmentReader>> readers;
  for (uint64_t number : numbers) {
    KPIDB_ASSIGN_OR_RETURN(auto reader, SegmentReader::Open(SegmentPath(number), false));
    readers.push_back(std::move(reader));
  }
  Manifest next_manifest = manifest_;
  next_manifest.segments.insert(next_manifest.segments.end(), numbers.begin(), numbers.end());
  next_manifest.wal_checkpoint = flushing_checkpoint_;
  next_manifest.next_file_number = next_file_number_;
  KPIDB_RETURN_IF_ERROR(WriteManifest(dir_, next_manifest));
  manifest_ = std::move(next_manifest);
  flushing_series_.clear();
  {
    std::unique_lock lock(state_mu_);
    auto next = std::make_shared<ReadState>(*state_);
    next->flushing = nullptr;
    next->segments.insert(next->segments.end(), readers.begin(), readers.end());
    state_ = next;
  }
  KPIDB_ASSIGN_OR_RETURN(auto wal_names, ListDir(wal_dir_));
  for (const std::string& name : wal_names) {
    uint64_t number;
    if (ParseWalFileName(name, &number) && number < manifest_.wal_checkpoint) {
      KPIDB_RETURN_IF_ERROR(RemoveFile(JoinPath(wal_dir_, name)));
    }
  }
  flushes_.fetch_add(1);
  options_.logger("flushed " + std::to_string(state->flushing->points()) + " points into " +
                  std::to_string(numbers.size()) + " segment files");
  {
    std::lock_guard bg(bg_mu_);
    flush_done_cv_.notify_all();
  }
  return Status::Ok();
}

Status Engine::WriteSegments(const Head& head, std::vector<uint64_t>* numbers) {
  std::map<int64_t, std::pair<uint64_t, std::unique_ptr<SegmentWriter>>> writers;
  std::vector<int64_t> ts;
  std::vector<double> vs;
  for (SeriesId id : head.Ids()) {
    ts.clear();
    vs.clear();
    head.Read(id, INT64_MIN, INT64_MAX, &ts, &vs);
    if (ts.empty()) continue;
    auto canonical = index_.Canonical(id);
    if (!canonical) return Status::Internal("head holds unknown series " + std::to_string(id));
    size_t start = 0;
    while (start < ts.size()) {
      const int64_t partition = FloorDiv(ts[start], options_.segment_partition_ms);
      size_t end = start + 1;
      while (end < ts.size() && FloorDiv(ts[end], options_.segment_partition_ms) == partition) ++end;
      auto& slot = writers[partition];
      if (!slot.second) {
        slot.first = next_file_number_++;
        KPIDB_ASSIGN_OR_RETURN(slot.second, SegmentWriter::Create(SegmentPath(slot.first),
                                                                  options_.max_points_per_chunk));
      }
      KPIDB_RETURN_IF_ERROR(slot.second->AddSeries(
          id, *canonical, std::span<const int64_t>(ts).subspan(start, end - start),
          std::span<const double>(vs).subspan(start, end - start)));
      start = end;
    }
  }
  for (auto& [partition, slot] : writers) {
    KPIDB_RETURN_IF_ERROR(slot.second->Finish());
    numbers->push_back(slot.first);
  }
  std::sort(numbers->begin(), numbers->end());
  return Status::Ok();
}

void Engine::BackgroundLoop() {
  const auto period = options_.wal_sync == WalSyncPolicy::kInterval
                          ? std::chrono::milliseconds(options_.wal_sync_interval_ms)
                          : std::chrono::milliseconds(1000);
  std::unique_lock lock(bg_mu_);
  while (!bg_stop_) {
    bg_cv_.wait_for(lock, period, [&] { return bg_stop_ || flush_requested_; });
    if (bg_stop_) break;
    const bool flush = flush_requested_;
    flush_requested_ = false;
    lock.unlock();
    if (flush) {
      std::lock_guard flush_lock(flush_mu_);
      Status s = FlushLocked();
      if (!s.ok()) options_.logger("background flush failed (will retry): " + s.ToString());
    }
    if (options_.wal_sync == WalSyncPolicy::kInterval) {
      std::lock_guard wal_lock(wal_mu_);
      Status s = wal_->Sync();
      if (!s.ok()) options_.logger("WAL sync failed: " + s.ToString());
    }
    lock.lock();
    flush_done_cv_.notify_all();
  }
}

Status Engine::Close() {
  {
    std::unique_lock lock(queue_mu_);
    if (closed_) return Status::Ok();
    closed_ = true;
  }
  // Writers queued before closing still complete.
  while (true) {
    std::unique_lock lock(queue_mu_);
    if (writers_.empty()) break;
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  {
    std::lock_guard lock(bg_mu_);
    bg_stop_ = true;
    bg_cv_.notify_all();
    flush_done_cv_.notify_all();
  }
  if (bg_thread_.joinable()) bg_thread_.join();
  Status s;
  {
    std::lock_guard wal_lock(wal_mu_);
    if (wal_) s = wal_->Sync();
  }
  lock_.reset();
  return s;
}

EngineStats Engine::GetStats() const {
  EngineStats st;
  auto state = State();
  st.series = index_.size();
  for (const Head* head : {state->flushing.get(), state->active.get()}) {
    if (head == nullptr) continue;
    st.head_points += head->points();
    st.head_bytes += head->bytes();
  }
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
