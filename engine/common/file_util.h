// Thin, error-checked wrappers over POSIX file operations. Every failure is a
// Status naming the path and the errno text. Nothing here is buffered beyond
// what the comment says; durability is explicit (Sync, SyncDir).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kpidb/status.h"

namespace kpidb {

// An append-only file. Not thread-safe: one owner at a time.
class AppendFile {
 public:
  // Opens (creating if absent) `path` for appending. With `truncate`, the
  // file is emptied first.
  static Result<std::unique_ptr<AppendFile>> Open(const std::string& path, bool truncate);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  // write(2) until done. On failure, a partial append is truncated away.
  Status Append(std::string_view data);
  Status Sync();                          // fdatasync(2)
  Status Close();
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  AppendFile(std::string path, int fd, uint64_t size) : path_(std::move(path)), fd_(fd), size_(size) {}
  std::string path_;
  int fd_;
  uint64_t size_;
};

// A read-only memory mapping of a whole file (NotFound if it does not
// exist). Thread-safe for reads.
class MappedFile {
 public:
  static Result<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::string_view data() const { return {data_, size_}; }
  const std::string& path() const { return path_; }
  // madvise(MADV_DONTNEED): the pages leave this process's resident set
  // (not the page cache); the next access faults them back in, unchanged.
  void DropResidentPages() const;
  // The same for the whole pages inside [offset, offset + length).
  void DropResidentPages(size_t offset, size_t length) const;

 private:
  MappedFile(std::string path, const char* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const char* data_;
  size_t size_;
};

// An exclusive advisory lock (flock) on `dir`/LOCK, held until destruction.
// A second holder, in this or another process, gets FAILED_PRECONDITION.
class DirLock {
 public:
  static Result<std::unique_ptr<DirLock>> Acquire(const std::string& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

Status ReadFileToString(const std::string& path, std::string* out);
// At most `max_bytes` of `path` from `offset` (fewer at its end; none past it).
Status ReadFileRange(const std::string& path, uint64_t offset, uint64_t max_bytes,
                     std::string* out);
// Durably replaces `path` with `contents`: write path.tmp, fsync it, rename
// over path, fsync the directory. A crash leaves the old or the new file.
Status AtomicWriteFile(const std::string& path, std::string_view contents);
// Copies the first `length` bytes of the open file `fd` (named `from` in
// errors) to `to`, replacing a file there; synced and closed. A snapshot
// copies files that grow meanwhile up to a length it took before.
Status CopyPrefixToFile(int fd, const std::string& from, uint64_t length, const std::string& to);
// The whole of `from` to `to` the same way; adds its size to *bytes.
Status CopyFileSynced(const std::string& from, const std::string& to, uint64_t* bytes);
Status SyncDir(const std::string& dir);
// The directory part of `path` ("." when it has none).
std::string DirName(const std::string& path);
Status CreateDirIfMissing(const std::string& dir);
Status RemoveFile(const std::string& path);
Status RenameFile(const std::string& from, const std::string& to);
// Truncates and fsyncs, so the repair survives a crash.
Status TruncateFile(const std::string& path, uint64_t size);
bool FileExists(const std::string& path);
Result<uint64_t> FileSize(const std::string& path);
// Names (not paths) of the entries of `dir`, sorted.
Result<std::vector<std::string>> ListDir(const std::string& dir);
std::string JoinPath(std::string_view dir, std::string_view name);

// Numbered data files (WAL, segments) are named "<20-digit number><suffix>",
// e.g. "00000000000000000007.log", so names sort in number order.
std::string NumberedFileName(uint64_t number, std::string_view suffix);
// The number of a file named by NumberedFileName with this suffix; false
// for any other name.
bool ParseNumberedFileName(std::string_view name, std::string_view suffix, uint64_t* number);

}  // namespace kpidb
