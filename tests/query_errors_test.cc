// Bad queries and limits (engine/query/query.h): a malformed query is
// INVALID_ARGUMENT naming the field, from ValidateQuery and from Execute
// alike, before anything is sent; a limit passed is RESOURCE_EXHAUSTED naming
// it, the timeout DEADLINE_EXCEEDED; a sink's error stops the query and is
// returned as is; nothing reaches the sink after an error.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "engine/core/engine_core.h"
#include "engine/query/query.h"
#include "tests/engine_fixture.h"

namespace kpidb::query {
namespace {


bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class QueryErrors : public kpidb::testing::EngineTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(EngineTest::SetUp());
    // kpi_visits: 4 series (channel x region), 10 points each at 0, 10, ..., 90.
    WriteBatch b;
    for (const char* channel : {"ads", "web"}) {
      for (const char* region : {"eu", "us"}) {
        SeriesPoints sp{"kpi_visits", {{"channel", channel}, {"region", region}}, {}, {}};
        for (int i = 0; i < 10; ++i) {
          sp.timestamps_ms.push_back(i * 10);
          sp.values.push_back(i);
        }
        b.series.push_back(std::move(sp));
      }
    }
    ASSERT_TRUE(engine_->Write(b).ok());
  }

  static Query Valid() {
    Query q;
    q.selector.metric = "kpi_visits";
    q.start_ms = 0;
    q.end_ms = 100;
    q.step.step_ms = 10;
    q.aggregation = Aggregation::kSum;
    return q;
  }

  // Runs the query, recording what the sink receives.
  Status Run(const Query& q) {
    results_.clear();
    points_ = 0;
    return Execute(*engine_, q, [&](ResultSeries&& r) {
      points_ += r.values.size();
      results_.push_back(std::move(r));
      return Status::Ok();
    });
  }

  // A malformed query: ValidateQuery and Execute both refuse it with
  // INVALID_ARGUMENT, and the message names one of `fields`; the sink is
  // never called.
  void ExpectInvalid(const Query& q, const std::vector<std::string>& fields) {
    const Status validated = ValidateQuery(q);
    const Status executed = Run(q);
    for (const Status& s : {validated, executed}) {
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
      bool named = false;
      for (const std::string& f : fields) named = named || Contains(s.message(), f);
      EXPECT_TRUE(named) << "message does not name " << ::testing::PrintToString(fields) << ": "
                         << s.ToString();
    }
    EXPECT_EQ(validated.message(), executed.message());
    EXPECT_TRUE(results_.empty()) << "a malformed query sent " << results_.size() << " results";
  }

  std::vector<ResultSeries> results_;
  size_t points_ = 0;
};

TEST_F(QueryErrors, AValidQueryPassesValidation) {
  Status s = ValidateQuery(Valid());
  EXPECT_TRUE(s.ok()) << s.ToString();
  s = Run(Valid());
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(results_.size(), 4u);
}

TEST_F(QueryErrors, EndNotAfterStartNamesEndMs) {
  Query q = Valid();
  q.end_ms = q.start_ms;
  ExpectInvalid(q, {"end_ms"});
  q.end_ms = q.start_ms - 1;
  ExpectInvalid(q, {"end_ms"});
  q.step = {};  // raw queries too
  ExpectInvalid(q, {"end_ms"});
}

TEST_F(QueryErrors, NegativeStepNamesStepMs) {
  Query q = Valid();
  q.step.step_ms = -10;
  ExpectInvalid(q, {"step_ms"});
}

TEST_F(QueryErrors, FixedAndCalendarStepTogetherAreRefused) {
  Query q = Valid();
  q.step.calendar = CalendarUnit::kDay;
  ExpectInvalid(q, {"calendar"});
  EXPECT_TRUE(Contains(ValidateQuery(q).message(), "step_ms")) << ValidateQuery(q).ToString();
}

TEST_F(QueryErrors, AnInvalidRegexNamesTheMatcher) {
  for (MatchOp op : {MatchOp::kRegex, MatchOp::kNotRegex}) {
    Query q = Valid();
    q.selector.matchers = {{"region", MatchOp::kEqual, "eu"}, {"channel", op, "("}};
    ExpectInvalid(q, {"channel", "matchers[1]"});
  }
  // In the denominator as well.
  Query q = Valid();
  q.denominator = Selector{"kpi_visits", {{"channel", MatchOp::kRegex, "a[b"}}};
  ExpectInvalid(q, {"channel", "denominator"});
  // A regex is only checked for =~ and !~: "(" is a fine literal for =.
  q = Valid();
  q.selector.matchers = {{"channel", MatchOp::kEqual, "("}};
  EXPECT_TRUE(ValidateQuery(q).ok()) << ValidateQuery(q).ToString();
  EXPECT_TRUE(Run(q).ok());
  EXPECT_TRUE(results_.empty());
}

TEST_F(QueryErrors, AnUnknownTimeZoneIsNamed) {
  Query q = Valid();
  q.step = {.step_ms = 0, .calendar = CalendarUnit::kDay, .time_zone = "Mars/Olympus"};
  ExpectInvalid(q, {"time_zone"});
  EXPECT_TRUE(Contains(ValidateQuery(q).message(), "Mars/Olympus")) << ValidateQuery(q).ToString();
  q.step.time_zone = "../../etc/passwd";
  ExpectInvalid(q, {"time_zone"});
}

TEST_F(QueryErrors, RateAndIncreaseAreNotDefinedOnARatio) {
  for (Aggregation a : {Aggregation::kRate, Aggregation::kIncrease}) {
    Query q = Valid();
    q.aggregation = a;
    q.denominator = Selector{"kpi_visits", {}};
    ExpectInvalid(q, {"aggregation", "rate", "increase"});
    EXPECT_TRUE(ValidateQuery(q).message().find("ratio") != std::string::npos ||
                ValidateQuery(q).message().find("denominator") != std::string::npos)
        << ValidateQuery(q).ToString();
  }
}

TEST_F(QueryErrors, GroupFillAndRatioNeedAStep) {
  Query raw = Valid();
  raw.step = {};
  Query q = raw;
  q.group = true;
  ExpectInvalid(q, {"group"});
  q = raw;
  q.fill = Fill::kZero;
  ExpectInvalid(q, {"fill"});
  q = raw;
  q.denominator = Selector{"kpi_visits", {}};
  ExpectInvalid(q, {"denominator", "ratio"});
}

TEST_F(QueryErrors, TooManySeriesIsResourceExhaustedNamingMaxSeries) {
  Query q = Valid();
  q.limits.max_series = 3;  // 4 match
  Status s = Run(q);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_TRUE(Contains(s.message(), "max_series=3")) << s.ToString();
  EXPECT_TRUE(results_.empty()) << "series were sent before the limit was known";

  q.limits.max_series = 4;  // exactly at the limit: fine
  s = Run(q);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(results_.size(), 4u);

  // The limit is per selector: 2 web series over 4 visits series.
  q.limits.max_series = 2;
  q.selector.matchers = {{"channel", MatchOp::kEqual, "web"}};
  q.denominator = Selector{"kpi_visits", {}};
  s = Run(q);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_TRUE(Contains(s.message(), "max_series=2")) << s.ToString();
  EXPECT_TRUE(results_.empty());
}

TEST_F(QueryErrors, TooManyPointsIsResourceExhaustedAndNothingPastTheLimitIsSent) {
  Query q = Valid();
  q.step = {};  // raw: 4 series x 10 points = 40
  q.limits.max_points = 25;
  Status s = Run(q);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_TRUE(Contains(s.message(), "max_points=25")) << s.ToString();
  EXPECT_LE(points_, 25u) << "points past the limit reached the sink";

  q.limits.max_points = 40;  // exactly at the limit: fine
  s = Run(q);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(points_, 40u);

  // Counted over all results together, also for stepped queries with fill.
  q = Valid();
  q.fill = Fill::kNull;  // 4 series x 10 buckets
  q.limits.max_points = 39;
  s = Run(q);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_TRUE(Contains(s.message(), "max_points=39")) << s.ToString();
  EXPECT_LE(points_, 39u);
}

TEST_F(QueryErrors, TooManyBucketsIsResourceExhaustedNamingMaxBuckets) {
  Query q = Valid();
  q.step.step_ms = 1;  // 100 buckets
  q.limits.max_buckets = 99;
  Status s = Run(q);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_TRUE(Contains(s.message(), "max_buckets")) << s.ToString();
  EXPECT_TRUE(results_.empty());
  q.limits.max_buckets = 100;
  s = Run(q);
  EXPECT_TRUE(s.ok()) << s.ToString();

  // A huge grid is refused before it is built (no allocation of 2^62 buckets).
  q.start_ms = INT64_MIN / 2;
  q.end_ms = INT64_MAX / 2;
  q.limits.max_buckets = 1'000'000;
  s = Run(q);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_TRUE(Contains(s.message(), "max_buckets")) << s.ToString();
}

TEST_F(QueryErrors, TooMuchMemoryIsResourceExhaustedNamingMaxMemoryBytes) {
  Query q = Valid();
  q.step.step_ms = 1;
  q.fill = Fill::kNull;
  q.end_ms = 200'000;  // 200k buckets x 4 series: megabytes of working memory
  q.limits.max_memory_bytes = 64 * 1024;
  Status s = Run(q);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_TRUE(Contains(s.message(), "max_memory_bytes")) << s.ToString();
}

TEST_F(QueryErrors, ATinyTimeoutOnABigQueryIsDeadlineExceededAndStopsTheStream) {
  // 300 series x 1000 points, half of them in segments.
  for (int batch = 0; batch < 3; ++batch) {
    WriteBatch b;
    for (int s = 0; s < 100; ++s) {
      SeriesPoints sp{"kpi_big", {{"n", std::to_string(batch * 100 + s)}}, {}, {}};
      for (int i = 0; i < 1000; ++i) {
        sp.timestamps_ms.push_back(i);
        sp.values.push_back(i % 17);
      }
      b.series.push_back(std::move(sp));
    }
    ASSERT_TRUE(engine_->Write(b).ok());
    if (batch == 1) {
      ASSERT_TRUE(engine_->Flush().ok());
    }
  }
  // Per point (stddev), from chunk stats (sum: most chunks lie in one
  // bucket), raw, grouped: each path watches the clock.
  struct Case {
    const char* name;
    int64_t step_ms;
    Aggregation aggregation;
    bool group;
  };
  for (const Case& c : {Case{"stddev", 1, Aggregation::kStddev, false},
                        Case{"sum", 1000, Aggregation::kSum, false},
                        Case{"raw", 0, Aggregation::kAvg, false},
                        Case{"grouped", 10, Aggregation::kSum, true}}) {
    SCOPED_TRACE(c.name);
    Query q;
    q.selector.metric = "kpi_big";
    q.start_ms = 0;
    q.end_ms = 1000;
    q.step.step_ms = c.step_ms;
    q.aggregation = c.aggregation;
    q.group = c.group;
    q.group_by = {"n"};  // 300 groups of one series
    q.limits.timeout = std::chrono::milliseconds(1);
    size_t received = 0;
    Status s = Execute(*engine_, q, [&](ResultSeries&&) {
      ++received;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a slow client
      return Status::Ok();
    });
    EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded) << s.ToString();
    EXPECT_LT(received, 300u) << "the stream went on past the deadline";

    // The same query with the default timeout completes.
    q.limits = QueryLimits{};
    s = Run(q);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(results_.size(), 300u);
  }
}

TEST_F(QueryErrors, ASelectorMatchingNothingIsOkWithNoResults) {
  for (Selector sel : {Selector{"kpi_nothing", {}},
                       Selector{"kpi_visits", {{"channel", MatchOp::kEqual, "nope"}}},
                       Selector{"kpi_visits", {{"region", MatchOp::kEqual, ""}}},
                       Selector{"", {{"nolabel", MatchOp::kRegex, ".+"}}}}) {
    for (bool raw : {true, false}) {
      Query q = Valid();
      q.selector = sel;
      if (raw) q.step = {};
      Status s = Run(q);
      EXPECT_TRUE(s.ok()) << s.ToString();
      EXPECT_TRUE(results_.empty()) << results_.size() << " results for " << sel.metric;
    }
  }
  // A denominator matching nothing: nothing to divide by.
  Query q = Valid();
  q.denominator = Selector{"kpi_nothing", {}};
  Status s = Run(q);
  EXPECT_TRUE(s.ok()) << s.ToString();
  for (const ResultSeries& r : results_) EXPECT_TRUE(r.values.empty()) << r.metric;
}

TEST_F(QueryErrors, ASinkErrorStopsTheQueryAndIsReturnedAsIs) {
  for (int shape = 0; shape < 3; ++shape) {
    Query q = Valid();
    q.group = shape == 1;
    if (shape == 2) q.denominator = Selector{"kpi_visits", {}};
    q.group_by = {"region"};  // 2 groups when grouped
    int calls = 0;
    Status s = Execute(*engine_, q, [&](ResultSeries&&) {
      ++calls;
      return Status::Unavailable("client went away");
    });
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
    EXPECT_EQ(s.message(), "client went away");
    EXPECT_EQ(calls, 1) << "results were sent after the sink failed";
  }
  // Failing on the second result: exactly two calls.
  int calls = 0;
  Status s = Execute(*engine_, Valid(), [&](ResultSeries&&) {
    return ++calls == 2 ? Status::Internal("disk full") : Status::Ok();
  });
  EXPECT_EQ(s.code(), StatusCode::kInternal) << s.ToString();
  EXPECT_EQ(s.message(), "disk full");
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace kpidb::query
