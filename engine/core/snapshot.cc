// EngineCore::Snapshot: a consistent copy of the data dir while writes go
// on (see engine_core.h for why the order below makes it consistent).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <utility>

#include "engine/common/file_util.h"
#include "engine/core/engine_core.h"
#include "engine/wal/wal.h"

namespace kpidb {
namespace {

Status Errno(const char* what, const std::string& path, int err) {
  return Status::IOError(std::string(what) + " " + path + ": " + std::strerror(err));
}

// A file opened for reading, with its length at the moment it was opened.
struct Source {
  std::string name;
  int fd = -1;
  uint64_t size = 0;
  Source() = default;
  Source(Source&& o) noexcept : name(std::move(o.name)), fd(o.fd), size(o.size) { o.fd = -1; }
  Source(const Source&) = delete;
  Source& operator=(Source&& o) noexcept {
    std::swap(name, o.name);
    std::swap(fd, o.fd);
    std::swap(size, o.size);
    return *this;
  }
  ~Source() {
    if (fd >= 0) ::close(fd);
  }
};

Result<Source> OpenSource(const std::string& dir, const std::string& name) {
  Source s;
  s.name = name;
  const std::string path = JoinPath(dir, name);
  s.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (s.fd < 0) return Errno("open", path, errno);
  struct stat st;
  if (::fstat(s.fd, &st) != 0) return Errno("fstat", path, errno);
  s.size = static_cast<uint64_t>(st.st_size);
  return s;
}

// `data` (a pinned segment's mapping) to a new file at `path`, synced.
Status WriteOut(const std::string& path, std::string_view data, uint64_t* copied) {
  KPIDB_ASSIGN_OR_RETURN(auto out, AppendFile::Open(path, /*truncate=*/true));
  KPIDB_RETURN_IF_ERROR(out->Append(data));
  KPIDB_RETURN_IF_ERROR(out->Sync());
  KPIDB_RETURN_IF_ERROR(out->Close());
  *copied += data.size();
  return Status::Ok();
}

}  // namespace

Result<SnapshotInfo> EngineCore::Snapshot(const std::string& dest) {
  KPIDB_RETURN_IF_ERROR(queue_.CheckOpen());
  std::lock_guard snapshot_lock(snapshot_mu_);  // one at a time: two into one dir would mix
  const bool existed = FileExists(dest);
  if (existed) {
    KPIDB_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dest));
    if (!names.empty()) {
      return Status::FailedPrecondition("snapshot destination " + dest +
                                        " is not empty; give a new or empty directory");
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(dest, ec);
  if (ec) return Status::IOError("cannot create " + dest + ": " + ec.message());
  const std::string dest_wal = JoinPath(dest, "wal"), dest_segments = JoinPath(dest, "segments");
  auto run = [&]() -> Result<SnapshotInfo> {
    KPIDB_RETURN_IF_ERROR(CreateDirIfMissing(dest_wal));
    KPIDB_RETURN_IF_ERROR(CreateDirIfMissing(dest_segments));
    KPIDB_RETURN_IF_ERROR(CreateDirIfMissing(JoinPath(dest, "quarantine")));

    // 1. The moment: between two writes, every WAL file and series.log opened
    // and measured.
    std::vector<std::pair<uint64_t, Source>> wal;
    Source series_log;
    {
      std::lock_guard lock(log_.mu);
      KPIDB_RETURN_IF_ERROR(queue_.CheckOpen());
      KPIDB_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(wal_dir_));
      for (const std::string& name : names) {
        uint64_t number;
        if (!ParseWalFileName(name, &number)) continue;
        auto s = OpenSource(wal_dir_, name);
        // Removed since the listing: a flush's manifest, read below, is past it.
        if (!s.ok() && !FileExists(JoinPath(wal_dir_, name))) continue;
        if (!s.ok()) return s.status();
        wal.emplace_back(number, std::move(s).value());
      }
      KPIDB_ASSIGN_OR_RETURN(series_log, OpenSource(dir_, "series.log"));
    }
    // 2. The manifest and its version, as of now (at or after the moment).
    auto [manifest, version] = versions_.ManifestAndVersion();
    // series.log measured again: a flush syncs the definitions of its series
    // before its manifest, so every series of the manifest's segments is in
    // this length (a torn tail past it is dropped at open).
    {
      struct stat st;
      if (::fstat(series_log.fd, &st) != 0) return Errno("fstat", JoinPath(dir_, "series.log"), errno);
      series_log.size = static_cast<uint64_t>(st.st_size);
    }

    SnapshotInfo info;
    std::map<std::string, const SegmentReader*> readers;  // by path
    for (const auto& r : version->segments) readers[r->path()] = r.get();
    for (uint64_t number : manifest.segments) {
      const std::string src = versions_.SegmentPath(number);
      const std::string dst = JoinPath(dest_segments, SegmentFileName(number));
      ++info.segments;
      if (::link(src.c_str(), dst.c_str()) == 0) {
        ++info.segments_linked;
        continue;
      }
      // Another file system, or merged away and unlinked meanwhile: the
      // pinned version still maps it.
      const int err = errno;
      auto it = readers.find(src);
      if (it == readers.end()) return Errno("link", src, err);
      KPIDB_RETURN_IF_ERROR(WriteOut(dst, it->second->contents(), &info.bytes_copied));
    }
    for (const auto& [number, source] : wal) {
      if (number < manifest.wal_checkpoint) continue;  // in the segments
      KPIDB_RETURN_IF_ERROR(CopyPrefixToFile(source.fd, JoinPath(wal_dir_, source.name), source.size,
                                             JoinPath(dest_wal, source.name)));
      info.bytes_copied += source.size;
      ++info.wal_files;
    }
    KPIDB_RETURN_IF_ERROR(CopyPrefixToFile(series_log.fd, JoinPath(dir_, "series.log"), series_log.size,
                                           JoinPath(dest, "series.log")));
    info.bytes_copied += series_log.size;
    {
      std::string emptied;
      Status read = ReadFileToString(JoinPath(dir_, "emptied"), &emptied);
      if (read.ok()) {
        KPIDB_RETURN_IF_ERROR(AtomicWriteFile(JoinPath(dest, "emptied"), emptied));
      } else if (read.code() != StatusCode::kNotFound) {
        return read;
      }
    }
    // The files and their directory entries are durable before the
    // manifest that names them; the manifest, then dest itself, last.
    KPIDB_RETURN_IF_ERROR(SyncDir(dest_wal));
    KPIDB_RETURN_IF_ERROR(SyncDir(dest_segments));
    KPIDB_RETURN_IF_ERROR(SyncDir(dest));
    KPIDB_RETURN_IF_ERROR(WriteManifest(dest, manifest));
    KPIDB_RETURN_IF_ERROR(SyncDir(dest));
    const std::string parent = std::filesystem::path(dest).parent_path().string();
    if (!parent.empty()) KPIDB_RETURN_IF_ERROR(SyncDir(parent));
    return info;
  };
  Result<SnapshotInfo> result = run();
  if (!result.ok()) {
    // Nothing half-made is left: the call can be retried on the same path.
    std::error_code ignored;
    if (existed) {
      for (const auto& e : std::filesystem::directory_iterator(dest, ignored)) {
        std::filesystem::remove_all(e.path(), ignored);
      }
    } else {
      std::filesystem::remove_all(dest, ignored);
    }
  }
  return result;
}

}  // namespace kpidb
