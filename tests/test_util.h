// Helpers shared by the tests: a temporary directory removed on destruction,
// and small file utilities for corrupting files on purpose.
#pragma once

#include <string>

namespace kpidb::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents when
// the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadFileOrDie(const std::string& path);
void WriteFileOrDie(const std::string& path, const std::string& contents);
// Flips one bit of the file at byte `offset`.
void FlipBit(const std::string& path, size_t offset, int bit = 0);

}  // namespace kpidb::testing
