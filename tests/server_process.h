// Runs the real kpidb-server binary for a test: on 127.0.0.1 with a port
// the server picks (--listen 127.0.0.1:0), a data dir of the test's, and
// stopped by its own pid (SIGTERM, or SIGKILL to test durability).
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace kpidb::testing {

class ServerProcess {
 public:
  // Starts the server; address() is empty if it did not come up.
  ServerProcess(const std::string& data_dir, std::vector<std::string> extra_args = {}) {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<std::string> args = {KPIDB_SERVER_BIN, "--listen", "127.0.0.1:0", "--data-dir",
                                       data_dir};
      args.insert(args.end(), extra_args.begin(), extra_args.end());
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    // The first line: "listening on HOST:PORT".
    FILE* f = fdopen(out[0], "r");
    char line[256];
    if (f != nullptr && std::fgets(line, sizeof line, f) != nullptr) {
      std::string s(line);
      const std::string prefix = "listening on ";
      if (s.rfind(prefix, 0) == 0) address_ = s.substr(prefix.size(), s.find('\n') - prefix.size());
    }
    if (f != nullptr) std::fclose(f);
  }
  ~ServerProcess() {
    if (pid_ > 0) Kill();
  }
  const std::string& address() const { return address_; }
  pid_t pid() const { return pid_; }

  // SIGTERM and wait; the exit status (0: clean).
  int Stop() { return Signal(SIGTERM); }
  void Kill() { Signal(SIGKILL); }

 private:
  int Signal(int sig) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  pid_t pid_ = -1;
  std::string address_;
};

}  // namespace kpidb::testing
