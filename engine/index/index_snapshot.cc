#include "engine/index/index_snapshot.h"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "engine/common/coding.h"

namespace kpidb {
namespace {

static_assert(std::endian::native == std::endian::little,
              "series.idx is used in place: a little-endian host is assumed");

constexpr size_t kHeaderBytes = 104;
constexpr size_t kFooterBytes = 8;
// Counts above this are corruption (and keep every size computation below
// far from overflowing 64 bits).
constexpr uint64_t kMaxCount = uint64_t{1} << 40;

uint64_t Pad8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

uint64_t SlotsFor(uint64_t n) { return std::max<uint64_t>(8, std::bit_ceil(2 * n)); }

// A file written through a buffer, hashed as it goes.
class HashedWriter {
 public:
  explicit HashedWriter(std::unique_ptr<AppendFile> file) : file_(std::move(file)) {
    XXH3_64bits_reset(state_);
  }
  ~HashedWriter() { XXH3_freeState(state_); }
  HashedWriter(const HashedWriter&) = delete;
  HashedWriter& operator=(const HashedWriter&) = delete;

  Status Put(const void* data, size_t n) {
    XXH3_64bits_update(state_, data, n);
    written_ += n;
    if (n >= kBufferBytes) {  // a table: straight to the file, not through (and growing) buf_
      KPIDB_RETURN_IF_ERROR(Drain());
      return file_->Append(std::string_view(static_cast<const char*>(data), n));
    }
    buf_.append(static_cast<const char*>(data), n);
    return buf_.size() >= kBufferBytes ? Drain() : Status::Ok();
  }
  template <typename T>
  Status PutArray(std::span<const T> items) {
    return Put(items.data(), items.size_bytes());
  }
  Status PutU64(uint64_t v) { return Put(&v, sizeof v); }
  Status Align() {
    static constexpr char kZeros[8] = {};
    return Put(kZeros, Pad8(written_) - written_);
  }
  // Appends the checksum of everything before it and closes.
  Status Finish() {
    const uint64_t sum = XXH3_64bits_digest(state_);
    buf_.append(reinterpret_cast<const char*>(&sum), sizeof sum);
    KPIDB_RETURN_IF_ERROR(Drain());
    return file_->Close();
  }

 private:
  static constexpr size_t kBufferBytes = 1 << 20;
  Status Drain() {
    Status s = file_->Append(buf_);
    buf_.clear();
    return s;
  }
  std::unique_ptr<AppendFile> file_;
  XXH3_state_t* state_ = XXH3_createState();
  std::string buf_;
  uint64_t written_ = 0;
};

// An open-addressing table of `slots` (a power of two) slots holding
// item + 1 (0: empty), items numbered in the order added, each placed by
// its hash, probing linearly.
class TableBuilder {
 public:
  explicit TableBuilder(uint64_t slots) : slots_(slots, 0), mask_(slots - 1) {}
  void Add(uint64_t hash) {
    uint64_t at = hash & mask_;
    while (slots_[at] != 0) at = (at + 1) & mask_;
    slots_[at] = ++items_;
  }
  std::span<const uint32_t> slots() const { return slots_; }

 private:
  std::vector<uint32_t> slots_;
  const uint64_t mask_;
  uint32_t items_ = 0;
};

// The item in `table` whose hash is `hash` and that `is` accepts.
template <typename Is>
std::optional<uint32_t> Probe(std::span<const uint32_t> table, uint64_t hash, Is&& is) {
  const uint64_t mask = table.size() - 1;
  uint64_t at = hash & mask;
  for (size_t probes = 0; probes < table.size(); ++probes) {
    const uint32_t slot = table[at];
    if (slot == 0) return std::nullopt;
    if (is(slot - 1)) return slot - 1;
    at = (at + 1) & mask;
  }
  return std::nullopt;
}

// Offsets [0, count] ascending from 0 to `total`.
bool OffsetsOk(const uint64_t* offsets, uint64_t count, uint64_t total) {
  if (offsets[0] != 0 || offsets[count] != total) return false;
  for (uint64_t i = 0; i < count; ++i) {
    if (offsets[i] > offsets[i + 1]) return false;
  }
  return true;
}

}  // namespace

uint64_t SnapshotIdHash(SeriesId id) {
  // MurmurHash3's 64-bit finaliser: ids are hashes already, but tests (and
  // collisions) give consecutive ones.
  id ^= id >> 33;
  id *= 0xff51afd7ed558ccdULL;
  id ^= id >> 33;
  id *= 0xc4ceb9fe1a85ec53ULL;
  id ^= id >> 33;
  return id;
}

uint64_t SnapshotBytesHash(std::string_view bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

Status WriteIndexSnapshot(const std::string& tmp, const SnapshotSource& source,
                          const SnapshotCoverage& cover) {
  const uint64_t n = source.series();
  uint64_t key_bytes = 0, posting_key_bytes = 0, refs = 0, postings = 0;
  for (SeriesRef r = 0; r < n; ++r) key_bytes += source.Key(r).size();
  KPIDB_RETURN_IF_ERROR(source.ForEachPosting([&](const SnapshotPosting& p) {
    posting_key_bytes += p.key.size();
    refs += p.first.size() + p.second.size();
    ++postings;
    return Status::Ok();
  }));
  const uint64_t id_slots = SlotsFor(n), key_slots = SlotsFor(n);
  const uint64_t posting_slots = SlotsFor(postings);

  KPIDB_ASSIGN_OR_RETURN(auto file, AppendFile::Open(tmp, /*truncate=*/true));
  HashedWriter out(std::move(file));
  std::string header(kIndexSnapshotMagic, 8);
  PutFixed32(&header, kIndexSnapshotVersion);
  PutFixed32(&header, 0);
  for (uint64_t v : {n, postings, refs, key_bytes, posting_key_bytes, id_slots, key_slots,
                     posting_slots, cover.series_log_bytes, cover.series_log_tail_hash,
                     cover.segments_below}) {
    PutFixed64(&header, v);
  }
  KPIDB_RETURN_IF_ERROR(out.Put(header.data(), header.size()));

  for (SeriesRef r = 0; r < n; ++r) KPIDB_RETURN_IF_ERROR(out.PutU64(source.Id(r)));
  uint64_t offset = 0;
  KPIDB_RETURN_IF_ERROR(out.PutU64(0));
  for (SeriesRef r = 0; r < n; ++r) KPIDB_RETURN_IF_ERROR(out.PutU64(offset += source.Key(r).size()));
  for (SeriesRef r = 0; r < n; ++r) {
    const std::string_view key = source.Key(r);
    KPIDB_RETURN_IF_ERROR(out.Put(key.data(), key.size()));
  }
  KPIDB_RETURN_IF_ERROR(out.Align());
  {
    TableBuilder ids(id_slots);
    for (SeriesRef r = 0; r < n; ++r) ids.Add(SnapshotIdHash(source.Id(r)));
    KPIDB_RETURN_IF_ERROR(out.PutArray(ids.slots()));
    KPIDB_RETURN_IF_ERROR(out.Align());
  }
  {
    TableBuilder keys(key_slots);
    for (SeriesRef r = 0; r < n; ++r) keys.Add(SnapshotBytesHash(source.Key(r)));
    KPIDB_RETURN_IF_ERROR(out.PutArray(keys.slots()));
    KPIDB_RETURN_IF_ERROR(out.Align());
  }
  offset = 0;
  KPIDB_RETURN_IF_ERROR(out.PutU64(0));
  KPIDB_RETURN_IF_ERROR(source.ForEachPosting(
      [&](const SnapshotPosting& p) { return out.PutU64(offset += p.key.size()); }));
  KPIDB_RETURN_IF_ERROR(source.ForEachPosting(
      [&](const SnapshotPosting& p) { return out.Put(p.key.data(), p.key.size()); }));
  KPIDB_RETURN_IF_ERROR(out.Align());
  offset = 0;
  KPIDB_RETURN_IF_ERROR(out.PutU64(0));
  KPIDB_RETURN_IF_ERROR(source.ForEachPosting([&](const SnapshotPosting& p) {
    return out.PutU64(offset += p.first.size() + p.second.size());
  }));
  KPIDB_RETURN_IF_ERROR(source.ForEachPosting([&](const SnapshotPosting& p) {
    KPIDB_RETURN_IF_ERROR(out.PutArray(p.first));
    return out.PutArray(p.second);
  }));
  KPIDB_RETURN_IF_ERROR(out.Align());
  {
    TableBuilder table(posting_slots);
    KPIDB_RETURN_IF_ERROR(source.ForEachPosting([&](const SnapshotPosting& p) {
      table.Add(SnapshotBytesHash(p.key));
      return Status::Ok();
    }));
    KPIDB_RETURN_IF_ERROR(out.PutArray(table.slots()));
    KPIDB_RETURN_IF_ERROR(out.Align());
  }
  return out.Finish();
}

Status InstallIndexSnapshot(const std::string& tmp, const std::string& path) {
  {
    KPIDB_ASSIGN_OR_RETURN(auto file, AppendFile::Open(tmp, /*truncate=*/false));
    KPIDB_RETURN_IF_ERROR(file->Sync());
    KPIDB_RETURN_IF_ERROR(file->Close());
  }
  KPIDB_RETURN_IF_ERROR(RenameFile(tmp, path));
  return SyncDir(DirName(path));
}

Result<std::unique_ptr<const IndexSnapshot>> IndexSnapshot::Open(const std::string& path) {
  KPIDB_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  std::unique_ptr<IndexSnapshot> snapshot(new IndexSnapshot(std::move(file)));
  Status s = snapshot->Parse();
  snapshot->file_->DropResidentPages();
  if (!s.ok()) return Status::Corruption("index snapshot " + path + ": " + s.message());
  return std::unique_ptr<const IndexSnapshot>(std::move(snapshot));
}

Status IndexSnapshot::Parse() {
  const std::string_view data = file_->data();
  if (data.size() < kHeaderBytes + kFooterBytes) return Status::Corruption("shorter than its header");
  if (data.substr(0, 8) != std::string_view(kIndexSnapshotMagic, 8)) {
    return Status::Corruption("bad magic");
  }
  const uint64_t sum = DecodeFixed64(data.data() + data.size() - kFooterBytes);
  if (XXH3_64bits(data.data(), data.size() - kFooterBytes) != sum) {
    return Status::Corruption("checksum mismatch");
  }
  if (DecodeFixed32(data.data() + 8) != kIndexSnapshotVersion) {
    return Status::Corruption("unknown version " + std::to_string(DecodeFixed32(data.data() + 8)));
  }
  uint64_t h[11];
  for (int i = 0; i < 11; ++i) h[i] = DecodeFixed64(data.data() + 16 + 8 * i);
  const auto [n, postings, refs, key_bytes, posting_key_bytes, id_slots, key_slots, posting_slots,
              log_bytes, log_hash, segments_below] =
      std::tuple{h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10]};
  if (n >= UINT32_MAX || postings >= UINT32_MAX || refs > kMaxCount || key_bytes > kMaxCount ||
      posting_key_bytes > kMaxCount) {
    return Status::Corruption("counts out of range");
  }
  for (uint64_t slots : {id_slots, key_slots, posting_slots}) {
    if (!std::has_single_bit(slots) || slots > kMaxCount) {
      return Status::Corruption("a table size is not a power of two");
    }
  }
  if (id_slots <= n || key_slots <= n || posting_slots <= postings) {
    return Status::Corruption("a table is too small for its items");
  }
  // The sections, in file order.
  const char* p = data.data() + kHeaderBytes;
  const char* const end = data.data() + data.size() - kFooterBytes;
  auto take = [&](uint64_t bytes) {
    const char* at = p;
    p += Pad8(bytes);
    return at;
  };
  const uint64_t expected = kHeaderBytes + 8 * n + 8 * (n + 1) + Pad8(key_bytes) +
                            Pad8(4 * id_slots) + Pad8(4 * key_slots) + 8 * (postings + 1) +
                            Pad8(posting_key_bytes) + 8 * (postings + 1) + Pad8(4 * refs) +
                            Pad8(4 * posting_slots) + kFooterBytes;
  if (expected != data.size()) {
    return Status::Corruption("size " + std::to_string(data.size()) + " does not match its header (" +
                              std::to_string(expected) + ")");
  }
  ids_ = reinterpret_cast<const SeriesId*>(take(8 * n));
  key_offsets_ = reinterpret_cast<const uint64_t*>(take(8 * (n + 1)));
  keys_ = take(key_bytes);
  id_slots_ = {reinterpret_cast<const uint32_t*>(take(4 * id_slots)), id_slots};
  key_slots_ = {reinterpret_cast<const uint32_t*>(take(4 * key_slots)), key_slots};
  posting_key_offsets_ = reinterpret_cast<const uint64_t*>(take(8 * (postings + 1)));
  posting_keys_ = take(posting_key_bytes);
  ref_offsets_ = reinterpret_cast<const uint64_t*>(take(8 * (postings + 1)));
  refs_ = reinterpret_cast<const SeriesRef*>(take(4 * refs));
  posting_slots_ = {reinterpret_cast<const uint32_t*>(take(4 * posting_slots)), posting_slots};
  if (p != end) return Status::Corruption("sections do not fill the file");
  series_ = static_cast<SeriesRef>(n);
  postings_ = static_cast<uint32_t>(postings);
  coverage_ = SnapshotCoverage{log_bytes, log_hash, segments_below};

  // Structure: a checksummed file that this code wrote passes; the checks
  // keep a wrong one (a bug, or a forged checksum) from reading out of
  // bounds or answering with refs that do not exist.
  if (!OffsetsOk(key_offsets_, n, key_bytes)) return Status::Corruption("bad key offsets");
  if (!OffsetsOk(posting_key_offsets_, postings, posting_key_bytes) ||
      !OffsetsOk(ref_offsets_, postings, refs)) {
    return Status::Corruption("bad posting offsets");
  }
  auto slots_ok = [](std::span<const uint32_t> table, uint64_t items) {
    return std::all_of(table.begin(), table.end(), [&](uint32_t s) { return s <= items; });
  };
  if (!slots_ok(id_slots_, n) || !slots_ok(key_slots_, n) || !slots_ok(posting_slots_, postings)) {
    return Status::Corruption("a table slot is out of range");
  }
  for (uint32_t i = 0; i < postings_; ++i) {
    const std::string_view key = PostingKey(i);
    if (key.find('\0') == std::string_view::npos) return Status::Corruption("a posting key has no name");
    if (i > 0 && !(PostingKey(i - 1) < key)) return Status::Corruption("posting keys out of order");
    const std::span<const SeriesRef> list = PostingRefs(i);
    for (size_t k = 0; k < list.size(); ++k) {
      if (list[k] >= n || (k > 0 && list[k - 1] >= list[k])) {
        return Status::Corruption("posting " + std::to_string(i) + " holds refs out of order or range");
      }
    }
  }
  // Each label name's values are one run of the sorted keys.
  for (uint32_t i = 0; i < postings_;) {
    const std::string_view key = PostingKey(i);
    const std::string_view name = key.substr(0, key.find('\0'));
    std::string bound(name);
    bound.push_back('\x01');  // above every "name\0value", below any longer name
    uint32_t lo = i, hi = postings_;
    while (lo < hi) {
      const uint32_t mid = lo + (hi - lo) / 2;
      if (PostingKey(mid) < bound) lo = mid + 1; else hi = mid;
    }
    names_.push_back(name);
    name_ranges_.emplace_back(i, lo);
    i = lo;
  }
  return Status::Ok();
}

std::optional<SeriesRef> IndexSnapshot::FindId(SeriesId id) const {
  return Probe(id_slots_, SnapshotIdHash(id), [&](uint32_t r) { return ids_[r] == id; });
}

std::optional<SeriesRef> IndexSnapshot::FindKey(std::string_view canonical) const {
  return Probe(key_slots_, SnapshotBytesHash(canonical),
               [&](uint32_t r) { return Key(r) == canonical; });
}

std::optional<uint32_t> IndexSnapshot::FindPosting(std::string_view key) const {
  return Probe(posting_slots_, SnapshotBytesHash(key),
               [&](uint32_t p) { return PostingKey(p) == key; });
}

std::pair<uint32_t, uint32_t> IndexSnapshot::NameRange(std::string_view name) const {
  auto it = std::lower_bound(names_.begin(), names_.end(), name);
  if (it == names_.end() || *it != name) return {0, 0};
  return name_ranges_[it - names_.begin()];
}

}  // namespace kpidb
