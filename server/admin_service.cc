#include "server/admin_service.h"

#include <filesystem>

#include "server/convert.h"
#include "server/reactors.h"

namespace kpidb::server {

namespace {

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) total += it->file_size(size_ec);
  }
  return total;
}

}  // namespace

grpc::ServerUnaryReactor* AdminServiceImpl::Stats(grpc::CallbackServerContext* context,
                                                  const v1::StatsRequest*,
                                                  v1::StatsResponse* response) {
  return RunUnary(context, ctx_, [this, response]() -> Status {
    const EngineStats s = ctx_.engine.GetStats();
    response->set_series(s.series);
    response->set_points(s.segment_distinct_points + s.head_points);
    response->set_segments(s.segments);
    response->set_segment_bytes(s.segment_bytes);
    response->set_bytes_on_disk(DirectoryBytes(ctx_.engine.dir()));
    response->set_bytes_per_point(
        s.segment_distinct_points == 0
            ? 0
            : static_cast<double>(s.segment_bytes) / static_cast<double>(s.segment_distinct_points));
    response->set_wal_files(s.wal_files);
    response->set_wal_bytes(s.wal_bytes);
    response->set_head_points(s.head_points);
    response->set_head_bytes(s.head_bytes);
    response->set_flushes(s.flushes);
    response->set_uptime_seconds(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx_.started).count());
    response->set_version(KPIDB_VERSION);
    response->set_head_reserved_bytes(s.head_reserved_bytes);
    response->set_queries_inline(ctx_.queries_inline);
    response->set_points_written(s.points_written);
    response->set_queries_on_workers(ctx_.queries_on_workers);
    auto* c = response->mutable_compaction();
    c->set_running(s.compaction.running);
    c->set_backlog(s.compaction.backlog);
    c->set_waiting(s.compaction.waiting);
    c->set_merges(s.compaction.merges);
    c->set_files_merged(s.compaction.files_merged);
    c->set_bytes_written(s.compaction.bytes_written);
    c->set_points_written(s.compaction.points_written);
    c->set_last_merge_unix_ms(s.compaction.last_merge_unix_ms);
    c->set_last_merge_seconds(s.compaction.last_merge_seconds);
    c->set_last_error(s.compaction.last_error);
    c->set_automatic(ctx_.engine.options().auto_compaction);
    auto* r = response->mutable_retention();
    r->set_raw_retention_ms(s.retention.raw_retention_ms);
    for (int64_t step : s.retention.tier_steps_ms) r->add_tier_steps_ms(step);
    for (int64_t ms : s.retention.tier_retention_ms) r->add_tier_retention_ms(ms);
    r->set_raw_expired_before_ms(s.retention.raw_expired_before_ms);
    r->set_points_expired(s.retention.points_expired);
    r->set_rewrites(s.retention.rewrites);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::Flush(grpc::CallbackServerContext* context,
                                                  const v1::FlushRequest*,
                                                  v1::FlushResponse* response) {
  return RunUnary(context, ctx_, [this, response]() -> Status {
    KPIDB_RETURN_IF_ERROR(ctx_.engine.Flush());
    response->set_segments(ctx_.engine.GetStats().segments);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::Compact(grpc::CallbackServerContext* context,
                                                    const v1::CompactRequest* request,
                                                    v1::CompactResponse* response) {
  return RunUnary(context, ctx_, [this, request, response]() -> Status {
    uint64_t merged = 0;
    if (request->background()) {
      KPIDB_RETURN_IF_ERROR(ctx_.engine.StartCompaction());
    } else {
      KPIDB_RETURN_IF_ERROR(ctx_.engine.Compact(&merged));
    }
    response->set_segments_merged(merged);
    response->set_segments(ctx_.engine.GetStats().segments);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::Snapshot(grpc::CallbackServerContext* context,
                                                     const v1::SnapshotRequest* request,
                                                     v1::SnapshotResponse* response) {
  return RunUnary(context, ctx_, [this, request, response]() -> Status {
    const std::string& dest = request->dest_dir();
    if (dest.empty() || dest[0] != '/') {
      return Status::InvalidArgument("dest_dir: must be an absolute path on the server's machine (got \"" +
                                     dest + "\")");
    }
    KPIDB_ASSIGN_OR_RETURN(SnapshotInfo info, ctx_.engine.Snapshot(dest));
    response->set_segments(info.segments);
    response->set_segments_linked(info.segments_linked);
    response->set_wal_files(info.wal_files);
    response->set_bytes_copied(info.bytes_copied);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* AdminServiceImpl::DeleteSeries(grpc::CallbackServerContext* context,
                                                         const v1::DeleteSeriesRequest* request,
                                                         v1::DeleteSeriesResponse* response) {
  return RunUnary(context, ctx_, [this, request, response]() -> Status {
    int64_t start = request->start_ms(), end = request->end_ms();
    if (start == 0 && end == 0) {
      start = INT64_MIN;
      end = INT64_MAX;
    } else if (end <= start) {
      return Status::InvalidArgument("end_ms: must be after start_ms (both 0: all points)");
    }
    KPIDB_ASSIGN_OR_RETURN(query::Selector selector, ToSelector(request->selector(), "selector"));
    if (selector.metric.empty() && selector.matchers.empty()) {
      return Status::InvalidArgument("selector: empty; give a metric or a matcher");
    }
    KPIDB_ASSIGN_OR_RETURN(DeleteResult deleted, ctx_.engine.Delete(selector, start, end,
                                                                    ctx_.config.query_limits.max_series));
    response->set_series_matched(deleted.series_matched);
    response->set_points_deleted(deleted.points_deleted);
    return Status::Ok();
  });
}

}  // namespace kpidb::server
