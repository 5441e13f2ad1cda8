#include "engine/common/file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace kpidb {
namespace {

Status ErrnoStatus(std::string_view what, const std::string& path, int err) {
  return Status::IOError(std::string(what) + " " + path + ": " + std::strerror(err));
}

// Opens `path` and reads its size; on failure nothing stays open.
Status OpenWithSize(const std::string& path, int flags, int* fd, uint64_t* size) {
  *fd = ::open(path.c_str(), flags, 0644);
  if (*fd < 0) return ErrnoStatus("open", path, errno);
  struct stat st;
  if (::fstat(*fd, &st) != 0) {
    int err = errno;
    ::close(*fd);
    return ErrnoStatus("stat", path, err);
  }
  *size = static_cast<uint64_t>(st.st_size);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<AppendFile>> AppendFile::Open(const std::string& path, bool truncate) {
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0);
  int fd;
  uint64_t size;
  KPIDB_RETURN_IF_ERROR(OpenWithSize(path, flags, &fd, &size));
  return std::unique_ptr<AppendFile>(new AppendFile(path, fd, size));
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

Status AppendFile::Append(std::string_view data) {
  const uint64_t before = size_;
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      // Take back a partial append, so that a later append does not follow
      // a torn record (which recovery would have to call corruption).
      if (size_ != before && ::ftruncate(fd_, static_cast<off_t>(before)) == 0) size_ = before;
      return ErrnoStatus("write", path_, err);
    }
    data.remove_prefix(static_cast<size_t>(n));
    size_ += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status AppendFile::Sync() {
  if (::fdatasync(fd_) != 0) return ErrnoStatus("fdatasync", path_, errno);
  return Status::Ok();
}

Status AppendFile::Close() {
  if (fd_ < 0) return Status::Ok();
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) return ErrnoStatus("close", path_, errno);
  return Status::Ok();
}

Result<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  if (!FileExists(path)) return Status::NotFound(path + " does not exist");
  int fd;
  uint64_t file_size;
  KPIDB_RETURN_IF_ERROR(OpenWithSize(path, O_RDONLY | O_CLOEXEC, &fd, &file_size));
  const size_t size = static_cast<size_t>(file_size);
  const char* data = nullptr;
  if (size > 0) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return ErrnoStatus("mmap", path, err);
    }
    data = static_cast<const char*>(p);
  }
  ::close(fd);
  return std::unique_ptr<MappedFile>(new MappedFile(path, data, size));
}

void MappedFile::DropResidentPages() const {
  // Advice only: a failure leaves the pages resident, which is harmless.
  if (data_ != nullptr) ::madvise(const_cast<char*>(data_), size_, MADV_DONTNEED);
}

void MappedFile::DropResidentPages(size_t offset, size_t length) const {
  if (data_ == nullptr || offset >= size_) return;
  static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t base = reinterpret_cast<uintptr_t>(data_);
  const uintptr_t begin = (base + offset + page - 1) / page * page;  // whole pages inside only
  const uintptr_t end = (base + std::min(size_, offset + length)) / page * page;
  if (begin < end) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
}

Result<std::unique_ptr<DirLock>> DirLock::Acquire(const std::string& dir) {
  std::string path = JoinPath(dir, "LOCK");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status::FailedPrecondition("data dir " + dir +
                                        " is in use by another kpidb process (lock " + path +
                                        " is held)");
    }
    return ErrnoStatus("flock", path, err);
  }
  return std::unique_ptr<DirLock>(new DirLock(fd));
}

DirLock::~DirLock() { ::close(fd_); }  // closing releases the flock

Status ReadFileToString(const std::string& path, std::string* out) {
  return ReadFileRange(path, 0, UINT64_MAX, out);
}

Status ReadFileRange(const std::string& path, uint64_t offset, uint64_t max_bytes,
                     std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path + " does not exist");
    return ErrnoStatus("open", path, errno);
  }
  out->clear();
  struct stat st;
  if (::fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) > offset) {
    out->reserve(static_cast<size_t>(std::min(max_bytes, static_cast<uint64_t>(st.st_size) - offset)));
  }
  char buf[1 << 16];
  while (out->size() < max_bytes) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(sizeof(buf), max_bytes - out->size()));
    ssize_t n = ::pread(fd, buf, want, static_cast<off_t>(offset + out->size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoStatus("read", path, err);
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return Status::Ok();
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status CopyPrefixToFile(int fd, const std::string& from, uint64_t length, const std::string& to) {
  KPIDB_ASSIGN_OR_RETURN(auto out, AppendFile::Open(to, /*truncate=*/true));
  std::string buf(std::min<uint64_t>(length, 1 << 20), '\0');
  for (uint64_t at = 0; at < length;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - at));
    const ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoStatus("read", from, n < 0 ? errno : EIO);
    KPIDB_RETURN_IF_ERROR(out->Append(std::string_view(buf.data(), static_cast<size_t>(n))));
    at += static_cast<uint64_t>(n);
  }
  KPIDB_RETURN_IF_ERROR(out->Sync());
  return out->Close();
}

Status CopyFileSynced(const std::string& from, const std::string& to, uint64_t* bytes) {
  int fd;
  uint64_t size;
  KPIDB_RETURN_IF_ERROR(OpenWithSize(from, O_RDONLY | O_CLOEXEC, &fd, &size));
  Status s = CopyPrefixToFile(fd, from, size, to);
  ::close(fd);
  if (s.ok()) *bytes += size;
  return s;
}

Status AtomicWriteFile(const std::string& path, std::string_view contents) {
  const std::string tmp = path + ".tmp";
  {
    KPIDB_ASSIGN_OR_RETURN(auto file, AppendFile::Open(tmp, /*truncate=*/true));
    KPIDB_RETURN_IF_ERROR(file->Append(contents));
    KPIDB_RETURN_IF_ERROR(file->Sync());
    KPIDB_RETURN_IF_ERROR(file->Close());
  }
  KPIDB_RETURN_IF_ERROR(RenameFile(tmp, path));
  return SyncDir(DirName(path));
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open dir", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("fsync dir", dir, err);
  return Status::Ok();
}

Status CreateDirIfMissing(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoStatus("mkdir", dir, errno);
  return Status::Ok();
}

Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", path, errno);
  return Status::Ok();
}

Status RenameFile(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return ErrnoStatus("rename to " + to + ":", from, errno);
  }
  return Status::Ok();
}

Status TruncateFile(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  Status s;
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    s = ErrnoStatus("truncate", path, errno);
  } else if (::fsync(fd) != 0) {
    s = ErrnoStatus("fsync", path, errno);
  }
  ::close(fd);
  return s;
}

bool FileExists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

Result<uint64_t> FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat", path, errno);
  return static_cast<uint64_t>(st.st_size);
}

Result<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus("opendir", dir, errno);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (!out.empty() && out.back() != '/') out.push_back('/');
  out.append(name);
  return out;
}

std::string NumberedFileName(uint64_t number, std::string_view suffix) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%020llu", static_cast<unsigned long long>(number));
  return std::string(buf) + std::string(suffix);
}

bool ParseNumberedFileName(std::string_view name, std::string_view suffix, uint64_t* number) {
  if (name.size() != 20 + suffix.size() || !name.ends_with(suffix)) return false;
  uint64_t v = 0;
  for (char c : name.substr(0, 20)) {
    if (c < '0' || c > '9') return false;
    if (v > (UINT64_MAX - 9) / 10) return false;  // does not fit in 64 bits
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *number = v;
  return true;
}

}  // namespace kpidb
