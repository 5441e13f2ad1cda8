// The fixture of the tests that run one engine over a temporary dir: a
// quiet logger and no fsync (WalSyncPolicy::kNone; the durability tests set
// their own). Open() (re)opens the engine with options_, so a test may
// change options_ and reopen; a derived SetUp may set options_ before
// calling EngineTest::SetUp().
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "engine/core/engine_core.h"
#include "tests/test_util.h"

namespace kpidb::testing {

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() {
    options_.logger = [](std::string_view) {};
    options_.wal_sync = WalSyncPolicy::kNone;
  }
  void SetUp() override { Open(); }
  void Open() {
    engine_.reset();
    auto e = EngineCore::Open(dir_.path(), options_);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(e).value();
  }

  TempDir dir_;  // outlives engine_
  EngineOptions options_;
  std::unique_ptr<EngineCore> engine_;
};

}  // namespace kpidb::testing
