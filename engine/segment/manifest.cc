#include "engine/segment/manifest.h"

#include <xxhash.h>

#include "engine/common/coding.h"
#include "engine/common/file_util.h"

namespace kpidb {
namespace {
constexpr char kManifestMagic[] = "KPIDBMAN";
constexpr uint32_t kManifestVersion = 1;
}  // namespace

std::string Manifest::Encode() const {
  std::string out(kManifestMagic, 8);
  PutFixed32(&out, kManifestVersion);
  PutVarint64(&out, next_file_number);
  PutVarint64(&out, wal_checkpoint);
  PutVarint64(&out, segments.size());
  for (uint64_t s : segments) PutVarint64(&out, s);
  PutFixed64(&out, XXH3_64bits(out.data(), out.size()));
  return out;
}

Result<Manifest> Manifest::Decode(std::string_view data, const std::string& path) {
  auto corrupt = [&](const std::string& what) {
    return Status::Corruption("manifest " + path + ": " + what);
  };
  if (data.size() < 20 || data.substr(0, 8) != std::string_view(kManifestMagic, 8)) {
    return corrupt("bad magic or too short");
  }
  if (XXH3_64bits(data.data(), data.size() - 8) != DecodeFixed64(data.data() + data.size() - 8)) {
    return corrupt("checksum mismatch");
  }
  ByteReader r(data.substr(8, data.size() - 16));
  uint32_t version;
  Manifest m;
  uint64_t count;
  if (!r.GetFixed32(&version) || version != kManifestVersion) return corrupt("unsupported version");
  if (!r.GetVarint64(&m.next_file_number) || !r.GetVarint64(&m.wal_checkpoint) ||
      !r.GetVarint64(&count) || count > r.remaining()) {
    return corrupt("malformed header");
  }
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t s;
    if (!r.GetVarint64(&s)) return corrupt("malformed segment list");
    m.segments.push_back(s);
  }
  if (!r.empty()) return corrupt("trailing bytes");
  return m;
}

Result<Manifest> ReadManifest(const std::string& dir) {
  const std::string path = JoinPath(dir, "MANIFEST");
  std::string data;
  KPIDB_RETURN_IF_ERROR(ReadFileToString(path, &data));
  return Manifest::Decode(data, path);
}

Status WriteManifest(const std::string& dir, const Manifest& manifest) {
  return AtomicWriteFile(JoinPath(dir, "MANIFEST"), manifest.Encode());
}

}  // namespace kpidb
