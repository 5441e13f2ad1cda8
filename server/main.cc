// kpidb-server: the kpidb.v1 gRPC API over one data dir. See --help and
// README.md ("Running the server").
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/grpcpp.h>
#include <malloc.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <thread>

#include "server/config.h"
#include "server/admin_service.h"
#include "server/query_service.h"
#include "server/write_service.h"

namespace {

void Log(std::string_view line) {
  std::fprintf(stderr, "kpidb-server: %.*s\n", static_cast<int>(line.size()), line.data());
  std::fflush(stderr);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kpidb;
  // Requests of a few MiB are parsed, copied and freed all the time. With
  // glibc's defaults each such buffer is mapped and unmapped (or the heap top
  // trimmed and grown again), and every page is faulted in anew: on a VM that
  // cost ~25% of ingest throughput. Keep them in the heap and keep a little
  // free memory at its top (docs/internals.md, "Memory").
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  mallopt(M_TOP_PAD, 16 << 20);
  // Each malloc arena may keep up to the trim threshold free: fewer arenas
  // (glibc's default is 8 per core) bound that. Measured: peak RSS 441-447
  // -> 430 MiB, ingest unchanged within noise.
  mallopt(M_ARENA_MAX, static_cast<int>(std::max(2u, 2 * std::thread::hardware_concurrency())));
  auto parsed = server::ParseArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.ok()) {
    std::fprintf(stderr, "kpidb-server: %s\n", parsed.status().message().c_str());
    return 2;
  }
  if (parsed->help) {
    std::cout << server::HelpText();
    return 0;
  }
  if (parsed->version) {
    std::cout << "kpidb-server " << KPIDB_VERSION << "\n";
    return 0;
  }
  server::ServerConfig config = parsed->config;
  config.engine.logger = Log;

  // SIGTERM and SIGINT are taken by sigwait below, in no other thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Log("opening " + config.data_dir);
  auto opened = Engine::Open(config.data_dir, config.engine);
  if (!opened.ok()) {
    Log("cannot open " + config.data_dir + ": " + opened.status().ToString());
    return 1;
  }
  std::unique_ptr<Engine> engine = std::move(opened).value();

  WorkerPool pool(config.workers);
  server::ServerContext ctx{*engine, config, pool, std::chrono::steady_clock::now()};
  server::WriteServiceImpl write_service(ctx);
  server::QueryServiceImpl query_service(ctx);
  server::AdminServiceImpl admin_service(ctx);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<size_t>(config.max_message_bytes, INT32_MAX)));
  builder.SetMaxSendMessageSize(
      static_cast<int>(std::min<size_t>(config.max_response_message_bytes, INT32_MAX)));
  builder.RegisterService(&write_service);
  builder.RegisterService(&query_service);
  builder.RegisterService(&admin_service);
  std::unique_ptr<grpc::Server> grpc_server = builder.BuildAndStart();
  if (!grpc_server || port == 0) {
    Log("cannot listen on " + config.listen);
    return 1;
  }
  const std::string host = config.listen.substr(0, config.listen.rfind(':'));
  std::printf("listening on %s:%d\n", host.c_str(), port);
  std::fflush(stdout);
  Log("serving kpidb.v1 on " + host + ":" + std::to_string(port));

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  Log(std::string("received ") + (signal_number == SIGTERM ? "SIGTERM" : "SIGINT") +
      ": new calls get UNAVAILABLE; stopping once the calls in flight are done (at most " +
      std::to_string(config.shutdown_timeout_ms) + " ms), then syncing the WAL. A second signal "
      "exits at once");
  // A second signal: exit now. With --wal-sync=always every acknowledged
  // write is already durable (as after kill -9).
  std::thread([&signals] {
    int again = 0;
    sigwait(&signals, &again);
    Log("second signal: exiting now, without waiting for calls in flight");
    _exit(1);
  }).detach();
  // Stopping gRPC at once would leave calls that reach it in the meantime
  // to be cancelled by it (CANCELLED, not UNAVAILABLE), and it would wait
  // for idle client connections: answer new calls ourselves first, end the
  // write streams that wait for a request, tell health checkers, let the
  // calls in flight finish, and only then stop gRPC.
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(config.shutdown_timeout_ms);
  ctx.draining = true;
  ctx.FinishWaitingStreams();
  if (grpc::HealthCheckServiceInterface* health = grpc_server->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(config.shutdown_drain_ms));
  while (ctx.in_flight > 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (ctx.in_flight > 0) {
    Log(std::to_string(ctx.in_flight) + " calls still running after " +
        std::to_string(config.shutdown_timeout_ms) +
        " ms: cancelling them (engine work already running, such as a compaction, is waited for)");
  }
  grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
  pool.Stop();
  Status closed = engine->Close();
  if (!closed.ok()) {
    Log("close failed: " + closed.ToString());
    return 1;
  }
  Log("stopped cleanly");
  return 0;
}
