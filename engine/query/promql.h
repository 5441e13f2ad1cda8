// The PromQL subset kpidb answers (issue 15's HTTP API builds on it): an
// expression parsed into a tree, with errors that give the position and
// what was expected there.
//
//   auto e = promql::Parse("sum by (channel) (increase(kpi_visits[1d]))");
//
// The subset: number literals (and Inf, NaN, any case; a leading 0 is
// octal, as Go reads it); vector selectors with
// = != =~ !~, a range (`[5m]`) and `offset`; the functions rate, increase
// and avg/sum/min/max/count/last/first/stddev _over_time on a range;
// the aggregations sum avg min max count with `by`/`without`; + - * /
// between vectors (one-to-one, `on`/`ignoring`) and with numbers; unary
// minus; parentheses. first_over_time is a kpidb extension (Prometheus 2.42
// has no such function). Expressions nest at most 100 levels deep, and a
// chain of operators is at most 1,000 long (the tree is freed and printed
// recursively).
//
// Errors: INVALID_ARGUMENT for what is not PromQL or not well typed
// ("parse error at 1:12: expected ...");
// UNIMPLEMENTED, naming the construct, for PromQL outside the subset
// (topk, histogram_quantile, comparisons, subqueries, @, group_left...),
// so that a caller answers 422 instead of a wrong result.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kpidb/query.h"
#include "kpidb/status.h"

namespace kpidb::promql {

enum class ExprKind {
  kNumber,          // number
  kVectorSelector,  // selector, offset_ms
  kMatrixSelector,  // selector, range_ms, offset_ms
  kCall,            // name(args[0]): args[0] is a kMatrixSelector
  kAggregate,       // name [by|without (grouping)] (args[0])
  kBinary,          // args[0] op args[1], matching
  kNegate,          // -args[0]
};

enum class BinaryOp { kAdd, kSub, kMul, kDiv };

struct Expr {
  ExprKind kind = ExprKind::kNumber;
  size_t position = 0;  // of the expression's first character, from 0
  size_t height = 1;    // of the tree below, this node included
  double number = 0;
  query::Selector selector;
  int64_t range_ms = 0;
  int64_t offset_ms = 0;
  std::string name;  // function or aggregation
  std::vector<std::unique_ptr<Expr>> args;
  // Aggregations: the labels of `by`, or of `without` when `without`.
  std::vector<std::string> grouping;
  bool without = false;
  // Binary operations.
  BinaryOp op = BinaryOp::kAdd;
  bool on = false;        // on(matching) (else ignoring(matching), empty: all labels)
  std::vector<std::string> matching;
};

Result<std::unique_ptr<Expr>> Parse(std::string_view text);

// Prometheus's duration form: 1y 2w 3d 4h 5m 6s 7ms, units in that order,
// each at most once ("1h30m"). INVALID_ARGUMENT otherwise.
Result<int64_t> ParseDuration(std::string_view text);

// The expression written back (canonical spacing), for messages and tests.
std::string Format(const Expr& e);

}  // namespace kpidb::promql
