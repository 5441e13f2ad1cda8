// Links against the installed client; with an address, asks for Stats.
#include <cstdio>

#include "client/batch_writer.h"
#include "client/client.h"

int main(int argc, char** argv) {
  auto client = kpidb::Client::Connect(argc > 1 ? argv[1] : "127.0.0.1:7411");
  if (!client.ok()) return 1;
  if (argc > 1) {
    auto stats = (*client)->Stats();
    if (!stats.ok()) return 2;
    std::printf("kpidb %s\n", stats->version.c_str());
  }
  return 0;
}
