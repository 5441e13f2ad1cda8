// Links against the installed client; with an address, asks for Stats.
// Uses the public types (a write batch, a query) to show that the installed
// headers are enough.
#include <cstdio>

#include "client/batch_writer.h"
#include "client/client.h"
#include "kpidb/query.h"
#include "kpidb/series.h"

int main(int argc, char** argv) {
  kpidb::WriteBatch batch;
  batch.series.push_back({"kpi_visits", {{"channel", "email"}}, {1000}, {1.5}});
  kpidb::query::Query q;
  q.selector.metric = "kpi_visits";
  q.limits.max_buckets = 10;
  if (!kpidb::IsValidMetricName(q.selector.metric)) return 3;
  auto client = kpidb::Client::Connect(argc > 1 ? argv[1] : "127.0.0.1:7411");
  if (!client.ok()) return 1;
  if (argc > 1) {
    auto stats = (*client)->Stats();
    if (!stats.ok()) return 2;
    std::printf("kpidb %s\n", stats->version.c_str());
  }
  return 0;
}
