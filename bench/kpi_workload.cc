#include "bench/kpi_workload.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

namespace kpidb::bench {
namespace {

// xoshiro256** seeded by splitmix64: small, fast, identical on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& s : state_) {
      seed += 0x9E3779B97F4A7C15;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
      s = z ^ (z >> 31);
    }
  }
  uint64_t Next() {
    uint64_t result = Rotl(state_[1] * 5, 7) * 9;
    uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = Rotl(state_[3], 45);
    return result;
  }
  double Uniform01() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Uniform(double a, double b) { return a + (b - a) * Uniform01(); }
  double Gauss(double mean, double sigma) {  // Box-Muller
    double u1 = 1.0 - Uniform01(), u2 = Uniform01();
    return mean + sigma * std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * M_PI * u2);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

// Python's round(x, digits) for the magnitudes of this workload.
double RoundTo(double x, int digits) {
  double scale = std::pow(10.0, digits);
  return std::nearbyint(x * scale) / scale;
}

// gen_kpi.py's header line, parsed as the JSON it is (escapes and all):
// {"metric": "kpi_x", "labels": {"channel": "email", ...}, "n": 17280}
Status ParseHeader(const std::string& line, KpiSeries* series, uint64_t* n) {
  const nlohmann::json header = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) return Status::Corruption("not a JSON object");
  auto metric = header.find("metric");
  auto labels = header.find("labels");
  auto count = header.find("n");
  if (metric == header.end() || !metric->is_string()) return Status::Corruption("\"metric\": not a string");
  if (labels == header.end() || !labels->is_object()) return Status::Corruption("\"labels\": not an object");
  if (count == header.end() || !count->is_number_unsigned()) return Status::Corruption("\"n\": not a count");
  if (header.size() != 3) return Status::Corruption("unexpected keys besides metric, labels and n");
  series->metric = metric->get<std::string>();
  for (const auto& [name, value] : labels->items()) {
    if (!value.is_string()) return Status::Corruption("label \"" + name + "\": not a string");
    series->labels.emplace_back(name, value.get<std::string>());
  }
  *n = count->get<uint64_t>();
  return Status::Ok();
}

}  // namespace

Result<std::vector<KpiSeries>> LoadKpiBin(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot open");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<KpiSeries> workload;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t newline = data.find('\n', pos);
    if (newline == std::string::npos) return Status::Corruption(path + ": header line unterminated at " + std::to_string(pos));
    std::string line = data.substr(pos, newline - pos);
    KpiSeries series;
    uint64_t n = 0;
    if (Status s = ParseHeader(line, &series, &n); !s.ok()) {
      return Status::Corruption(path + ": bad header line at " + std::to_string(pos) + ": " + s.message());
    }
    pos = newline + 1;
    if (n > (data.size() - pos) / 16) return Status::Corruption(path + ": series truncated at " + std::to_string(pos));
    series.timestamps_ms.resize(n);
    series.values.resize(n);
    std::memcpy(series.timestamps_ms.data(), data.data() + pos, 8 * n);  // little-endian host
    std::memcpy(series.values.data(), data.data() + pos + 8 * n, 8 * n);
    pos += 16 * n;
    std::sort(series.labels.begin(), series.labels.end());
    workload.push_back(std::move(series));
  }
  return workload;
}

std::vector<KpiSeries> GenerateKpiWorkload(const KpiWorkloadOptions& options) {
  const size_t n = static_cast<size_t>(options.days * 86'400'000LL / options.step_ms);
  std::vector<int64_t> timestamps(n);
  std::vector<double> season(n);
  for (size_t k = 0; k < n; ++k) {
    int64_t offset = static_cast<int64_t>(k) * options.step_ms;
    timestamps[k] = options.start_ms + offset;
    season[k] = 1 + 0.6 * std::sin(2 * M_PI * static_cast<double>(offset % 86'400'000) / 86'400'000 - 1.2);
  }
  Rng rng(options.seed);
  std::vector<KpiSeries> workload;
  for (const char* channel : {"email", "search", "social", "display", "direct"}) {
    for (const char* region : {"eu", "us", "apac", "latam"}) {
      for (const char* campaign : {"spring", "always_on"}) {
        const double base = rng.Uniform(2, 40), conv = rng.Uniform(0.005, 0.06);
        const double price = rng.Uniform(20, 120);
        double cac_level = rng.Uniform(5, 80);
        std::vector<double> visits(n), purchases(n), revenue(n), rate(n), cac(n);
        for (size_t k = 0; k < n; ++k) {
          double lambda = base * season[k];
          double v = std::max(0.0, std::nearbyint(rng.Gauss(lambda, std::sqrt(lambda))));
          double p = v > 0 ? std::max(0.0, std::nearbyint(rng.Gauss(v * conv, std::sqrt(v * conv + 1e-9)))) : 0;
          visits[k] = v;
          purchases[k] = p;
          revenue[k] = RoundTo(p * price * rng.Uniform(0.8, 1.2), 2);
          rate[k] = v > 0 ? RoundTo(p / v, 4) : 0.0;
          cac_level = std::max(1.0, cac_level + rng.Gauss(0, 0.05));
          cac[k] = RoundTo(cac_level, 2);
        }
        std::vector<std::pair<std::string, std::string>> labels = {
            {"campaign", campaign}, {"channel", channel}, {"region", region}};
        std::pair<const char*, std::vector<double>*> metrics[] = {
            {"kpi_visits", &visits}, {"kpi_purchases", &purchases}, {"kpi_revenue", &revenue},
            {"kpi_conversion_rate", &rate}, {"kpi_cac", &cac}};
        for (auto& [name, values] : metrics) {
          workload.push_back({name, labels, timestamps, std::move(*values)});
        }
      }
    }
  }
  return workload;
}

std::vector<KpiSeries> LoadKpiWorkload(const KpiWorkloadOptions& options) {
  const char* path = std::getenv("KPIDB_KPI_BIN");
  if (path == nullptr || *path == '\0') return GenerateKpiWorkload(options);
  auto loaded = LoadKpiBin(path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "KPIDB_KPI_BIN: %s\n", loaded.status().ToString().c_str());
    std::abort();
  }
  return std::move(loaded).value();
}

void JitterTimestamps(std::vector<KpiSeries>* workload, int64_t max_jitter_ms, uint64_t seed) {
  Rng rng(seed);
  const uint64_t span = static_cast<uint64_t>(2 * max_jitter_ms + 1);
  for (KpiSeries& series : *workload) {
    int64_t previous = INT64_MIN;
    for (int64_t& t : series.timestamps_ms) {
      t += static_cast<int64_t>(rng.Next() % span) - max_jitter_ms;
      if (previous != INT64_MIN && t <= previous) t = previous + 1;
      previous = t;
    }
  }
}

}  // namespace kpidb::bench
