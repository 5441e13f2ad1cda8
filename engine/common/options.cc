#include "kpidb/options.h"

#include <cstdio>

namespace kpidb {

Logger StderrLogger() {
  return [](std::string_view line) {
    std::fprintf(stderr, "kpidb: %.*s\n", static_cast<int>(line.size()), line.data());
  };
}

}  // namespace kpidb
