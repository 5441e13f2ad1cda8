#include "engine/core/version.h"

#include <algorithm>

#include "engine/common/file_util.h"

namespace kpidb {

VersionSet::VersionSet(std::string dir, std::string segment_dir)
    : dir_(std::move(dir)), segment_dir_(std::move(segment_dir)) {}

std::shared_ptr<const Version> VersionSet::Current() const {
  std::shared_lock lock(state_mu_);
  return current_;
}

void VersionSet::Install(std::shared_ptr<const Version> next) {
  std::unique_lock lock(state_mu_);
  current_ = std::move(next);
}

std::pair<Manifest, std::shared_ptr<const Version>> VersionSet::ManifestAndVersion() const {
  std::lock_guard lock(manifest_mu_);
  Manifest m = manifest_;
  m.next_file_number = next_file_number_;
  std::shared_lock state_lock(state_mu_);
  return {std::move(m), current_};
}

std::string VersionSet::SegmentPath(uint64_t number) const {
  return JoinPath(segment_dir_, SegmentFileName(number));
}

void VersionSet::Seal() {
  std::lock_guard lock(manifest_mu_);
  sealed_ = true;
}

Status VersionSet::SaveManifest(Manifest next) {
  if (sealed_) return Status::Unavailable("engine " + dir_ + " is closed");
  next.next_file_number = next_file_number_;
  KPIDB_RETURN_IF_ERROR(WriteManifest(dir_, next));
  manifest_ = std::move(next);
  return Status::Ok();
}

Status VersionSet::Reset(Manifest manifest, std::shared_ptr<const Version> version,
                         uint64_t next_file_number) {
  std::lock_guard lock(manifest_mu_);
  next_file_number_ = next_file_number;
  KPIDB_RETURN_IF_ERROR(SaveManifest(std::move(manifest)));
  Install(std::move(version));
  return Status::Ok();
}

uint64_t VersionSet::wal_checkpoint() const {
  std::lock_guard lock(manifest_mu_);
  return manifest_.wal_checkpoint;
}

void VersionSet::FreezeHead(std::shared_ptr<Head> fresh) {
  std::unique_lock lock(state_mu_);
  auto next = std::make_shared<Version>(*current_);
  next->flushing = current_->active;
  next->active = std::move(fresh);
  current_ = std::move(next);
}

Status VersionSet::AddFlushed(const std::vector<uint64_t>& numbers,
                              std::vector<std::shared_ptr<SegmentReader>> readers,
                              uint64_t wal_checkpoint) {
  std::lock_guard lock(manifest_mu_);
  Manifest next_manifest = manifest_;
  next_manifest.segments.insert(next_manifest.segments.end(), numbers.begin(), numbers.end());
  next_manifest.wal_checkpoint = wal_checkpoint;
  KPIDB_RETURN_IF_ERROR(SaveManifest(std::move(next_manifest)));
  std::unique_lock state_lock(state_mu_);
  auto next = std::make_shared<Version>(*current_);
  next->flushing = nullptr;
  next->segments.insert(next->segments.end(), readers.begin(), readers.end());
  current_ = std::move(next);
  return Status::Ok();
}

Status VersionSet::ReplaceMerged(const std::vector<std::shared_ptr<SegmentReader>>& old,
                                 const std::set<uint64_t>& old_numbers,
                                 std::shared_ptr<SegmentReader> merged, uint64_t number) {
  std::lock_guard lock(manifest_mu_);
  Manifest next_manifest = manifest_;
  std::vector<uint64_t> kept;
  size_t newest = 0;
  for (uint64_t n : next_manifest.segments) {
    if (old_numbers.count(n) > 0) {
      newest = kept.size();
    } else {
      kept.push_back(n);
    }
  }
  if (merged) kept.insert(kept.begin() + static_cast<std::ptrdiff_t>(newest), number);
  next_manifest.segments = std::move(kept);
  KPIDB_RETURN_IF_ERROR(SaveManifest(std::move(next_manifest)));
  std::unique_lock state_lock(state_mu_);
  auto next = std::make_shared<Version>(*current_);
  std::vector<std::shared_ptr<SegmentReader>> segments;
  size_t at = 0;
  for (const auto& segment : next->segments) {
    if (std::find(old.begin(), old.end(), segment) != old.end()) {
      at = segments.size();
    } else {
      segments.push_back(segment);
    }
  }
  if (merged) segments.insert(segments.begin() + static_cast<std::ptrdiff_t>(at), std::move(merged));
  next->segments = std::move(segments);
  current_ = std::move(next);
  return Status::Ok();
}

}  // namespace kpidb
