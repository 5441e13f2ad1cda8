// A recursive-descent parser for kpidb's PromQL subset (promql.h). Operator
// precedence as in Prometheus: unary minus binds tighter than * /, which
// bind tighter than + -; all are left-associative.
#include "engine/query/promql.h"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>

#include "engine/query/selector.h"

namespace kpidb::promql {
namespace {

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }
// Label names: as metric names without ':'.
bool IsLabelStart(char c) { return IsNameStart(c) && c != ':'; }
bool IsLabelChar(char c) { return IsNameChar(c) && c != ':'; }
std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
// Deeper expressions are refused: the parser, the tree's destructor and
// Format recurse over the depth.
constexpr int kMaxDepth = 100;
// Prometheus's durations are int64 nanoseconds: about 292 years.
constexpr int64_t kMaxDurationMs = INT64_MAX / 1'000'000;
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsDurationChar(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

const std::set<std::string, std::less<>> kRangeFunctions = {
    "rate",          "increase",      "avg_over_time",   "sum_over_time",  "min_over_time",
    "max_over_time", "count_over_time", "last_over_time", "first_over_time", "stddev_over_time"};
// Prometheus 2.42's other functions: outside the subset (UNIMPLEMENTED),
// where an unknown name is an error (INVALID_ARGUMENT).
const std::set<std::string, std::less<>> kOtherFunctions = {
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh", "avg_over_time",
    "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh", "count_over_time", "day_of_month",
    "day_of_week", "day_of_year", "days_in_month", "deg", "delta", "deriv", "exp", "floor",
    "histogram_count", "histogram_fraction", "histogram_quantile", "histogram_sum", "holt_winters", "hour",
    "idelta", "irate", "label_join", "label_replace", "last_over_time", "ln", "log10", "log2",
    "max_over_time", "min_over_time", "minute", "month", "pi", "predict_linear", "present_over_time",
    "quantile_over_time", "rad", "resets", "round", "scalar", "sgn", "sin", "sinh", "sort", "sort_desc",
    "sqrt", "stddev_over_time", "stdvar_over_time", "sum_over_time", "tan", "tanh", "time", "timestamp",
    "vector", "year"};
// Words the grammar reserves: not metric names.
const std::set<std::string, std::less<>> kReserved = {"on", "ignoring", "bool", "group_left", "group_right",
                                                      "atan2"};

enum class Type { kScalar, kVector, kMatrix };
Type TypeOf(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kNumber: return Type::kScalar;
    case ExprKind::kMatrixSelector: return Type::kMatrix;
    case ExprKind::kNegate: return TypeOf(*e.args[0]);
    case ExprKind::kBinary:
      return TypeOf(*e.args[0]) == Type::kScalar && TypeOf(*e.args[1]) == Type::kScalar ? Type::kScalar
                                                                                        : Type::kVector;
    default: return Type::kVector;
  }
}
const std::set<std::string, std::less<>> kAggregations = {"sum", "avg", "min", "max", "count"};
const std::set<std::string, std::less<>> kOtherAggregations = {
    "topk", "bottomk", "quantile", "stddev", "stdvar", "count_values", "group", "limitk", "limit_ratio"};

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<std::unique_ptr<Expr>> ParseAll() {
    KPIDB_ASSIGN_OR_RETURN(auto e, ParseAdditive());
    SkipSpace();
    if (pos_ < text_.size()) {
      KPIDB_RETURN_IF_ERROR(RejectOperator());
      return Error("an operator or the end of the expression");
    }
    return e;
  }

 private:
  // --- characters -------------------------------------------------------
  void SkipSpace() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else if (c == '#') {  // a comment, to the end of the line
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }
  bool Peek(std::string_view token) {
    SkipSpace();
    return text_.substr(pos_, token.size()) == token;
  }
  bool Take(std::string_view token) {
    if (!Peek(token)) return false;
    pos_ += token.size();
    return true;
  }
  // A keyword: the word, not a longer name starting with it.
  // Keywords are case-insensitive, as in Prometheus.
  bool PeekWord(std::string_view word) {
    SkipSpace();
    return Lower(text_.substr(pos_, word.size())) == word &&
           (pos_ + word.size() == text_.size() || !IsNameChar(text_[pos_ + word.size()]));
  }
  bool TakeWord(std::string_view word) {
    if (!PeekWord(word)) return false;
    pos_ += word.size();
    return true;
  }
  std::string Name() {
    SkipSpace();
    const size_t start = pos_;
    while (pos_ < text_.size() && IsNameChar(text_[pos_])) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }
  std::string LabelName() {
    SkipSpace();
    const size_t start = pos_;
    while (pos_ < text_.size() && IsLabelChar(text_[pos_])) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }
  Status Invalid(size_t at, const std::string& what) const {
    return Status::InvalidArgument("parse error at " + Where(at) + ": " + what);
  }
  // Counts one level of nesting for the scope of a call.
  struct Depth {
    explicit Depth(int* d) : d_(d) { ++*d_; }
    ~Depth() { --*d_; }
    int* d_;
  };
  Status CheckDepth() {
    if (depth_ > kMaxDepth) {
      return Invalid(pos_, "the expression is nested more than " + std::to_string(kMaxDepth) + " levels deep");
    }
    return Status::Ok();
  }

  std::string Where(size_t at) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return std::to_string(line) + ":" + std::to_string(col);
  }
  std::string Found() const {
    if (pos_ >= text_.size()) return "the end of the expression";
    size_t end = pos_ + 1;
    if (IsNameChar(text_[pos_])) {
      while (end < text_.size() && IsNameChar(text_[end])) ++end;
    }
    return "\"" + std::string(text_.substr(pos_, end - pos_)) + "\"";
  }
  Status Error(const std::string& expected) {
    SkipSpace();
    return Status::InvalidArgument("parse error at " + Where(pos_) + ": expected " + expected + ", found " +
                                   Found());
  }
  Status Unsupported(const std::string& construct, size_t at) const {
    return Status(StatusCode::kUnimplemented, Where(at) + ": " + construct +
                                                  " is outside kpidb's PromQL subset (docs/promql.md)");
  }
  // An operator of PromQL that the subset leaves out, where one may stand.
  Status RejectOperator() {
    SkipSpace();
    const size_t at = pos_;
    for (std::string_view op : {"==", "!=", ">=", "<=", ">", "<"}) {
      if (Peek(op)) return Unsupported("the comparison operator " + std::string(op), at);
    }
    if (Peek("%") || Peek("^")) return Unsupported("the operator " + std::string(1, text_[pos_]), at);
    if (Peek("atan2")) return Unsupported("the operator atan2", at);
    for (std::string_view op : {"and", "or", "unless"}) {
      if (PeekWord(op)) return Unsupported("the set operator " + std::string(op), at);
    }
    return Status::Ok();
  }

  // --- expressions ------------------------------------------------------
  Result<std::unique_ptr<Expr>> ParseAdditive() {
    KPIDB_ASSIGN_OR_RETURN(auto left, ParseMultiplicative());
    while (true) {
      SkipSpace();
      const size_t at = pos_;
      BinaryOp op;
      if (Take("+")) {
        op = BinaryOp::kAdd;
      } else if (Peek("-")) {
        ++pos_;
        op = BinaryOp::kSub;
      } else {
        return left;
      }
      KPIDB_ASSIGN_OR_RETURN(left, Binary(std::move(left), op, at, /*additive=*/true));
    }
  }

  Result<std::unique_ptr<Expr>> ParseMultiplicative() {
    KPIDB_ASSIGN_OR_RETURN(auto left, ParseUnary());
    while (true) {
      SkipSpace();
      const size_t at = pos_;
      BinaryOp op;
      if (Take("*")) {
        op = BinaryOp::kMul;
      } else if (Take("/")) {
        op = BinaryOp::kDiv;
      } else {
        KPIDB_RETURN_IF_ERROR(RejectOperator());
        return left;
      }
      KPIDB_ASSIGN_OR_RETURN(left, Binary(std::move(left), op, at, /*additive=*/false));
    }
  }

  // After `left op`: the modifiers, then the right operand.
  Result<std::unique_ptr<Expr>> Binary(std::unique_ptr<Expr> left, BinaryOp op, size_t at, bool additive) {
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::kBinary;
    e->op = op;
    e->position = left->position;
    (void)at;
    if (PeekWord("bool")) return Invalid(pos_, "the bool modifier can only be used on comparison operators");
    const bool on = PeekWord("on");
    if (on || PeekWord("ignoring")) {
      const size_t mod_at = pos_;
      TakeWord(on ? "on" : "ignoring");
      e->on = on;
      KPIDB_ASSIGN_OR_RETURN(e->matching, LabelList(on ? "on" : "ignoring"));
      if (PeekWord("group_left") || PeekWord("group_right")) {
        return Unsupported("many-to-one matching (" + Name() + ")", mod_at);
      }
    }
    KPIDB_ASSIGN_OR_RETURN(auto right, additive ? ParseMultiplicative() : ParseUnary());
    for (const Expr* side : {left.get(), right.get()}) {
      if (TypeOf(*side) == Type::kMatrix) {
        return Invalid(side->position,
                       "a range vector cannot be an operand of an arithmetic operator (apply rate, "
                       "increase or an *_over_time function)");
      }
    }
    if (!e->matching.empty() &&
        (TypeOf(*left) == Type::kScalar || TypeOf(*right) == Type::kScalar)) {
      return Invalid(e->position, "vector matching (on, ignoring) is only allowed between instant vectors");
    }
    // The tree's height (a left-deep chain of a + b + c ...).
    e->height = std::max(left->height, right->height) + 1;
    if (e->height > kMaxDepth * 10) {
      return Invalid(e->position, "the expression has more than " + std::to_string(kMaxDepth * 10) + " operators in a chain");
    }
    e->args.push_back(std::move(left));
    e->args.push_back(std::move(right));
    return e;
  }

  Result<std::unique_ptr<Expr>> ParseUnary() {
    SkipSpace();
    const size_t at = pos_;
    if (Peek("-") || Peek("+")) {
      Depth depth(&depth_);
      KPIDB_RETURN_IF_ERROR(CheckDepth());
      return ParseSigned(at);
    }
    return ParsePostfix();
  }

  // A unary minus or plus and its operand, at `at`.
  Result<std::unique_ptr<Expr>> ParseSigned(size_t at) {
    if (Take("-")) {
      KPIDB_ASSIGN_OR_RETURN(auto operand, ParseUnary());
      if (TypeOf(*operand) == Type::kMatrix) {
        return Invalid(at, "unary minus applies to numbers and instant vectors, not to a range");
      }
      if (operand->kind == ExprKind::kNumber) {  // a literal: fold
        operand->number = -operand->number;
        operand->position = at;
        return operand;
      }
      auto e = std::make_unique<Expr>();
      e->kind = ExprKind::kNegate;
      e->position = at;
      e->height = operand->height + 1;
      e->args.push_back(std::move(operand));
      return e;
    }
    if (Take("+")) {
      KPIDB_ASSIGN_OR_RETURN(auto operand, ParseUnary());
      if (TypeOf(*operand) == Type::kMatrix) {
        return Invalid(at, "unary plus applies to numbers and instant vectors, not to a range");
      }
      return operand;
    }
    return Error("an expression");
  }

  Result<std::unique_ptr<Expr>> ParsePostfix() {
    parenthesised_ = false;
    KPIDB_ASSIGN_OR_RETURN(auto e, ParsePrimary());
    const bool selector = !parenthesised_ && e->kind == ExprKind::kVectorSelector;
    if (Peek("[")) {
      const size_t at = pos_;
      ++pos_;
      SkipSpace();
      const size_t d_at = pos_;
      while (pos_ < text_.size() && IsDurationChar(text_[pos_])) ++pos_;
      const std::string_view d = text_.substr(d_at, pos_ - d_at);
      if (Peek(":")) return Unsupported("a subquery ([range:step])", at);
      if (!Take("]")) return Error("\"]\" after the range");
      if (!selector) return Invalid(at, "a range ([...]) is only allowed on a vector selector");
      auto range = ParseDuration(d);
      if (!range.ok()) return Invalid(d_at, range.status().message());
      e->kind = ExprKind::kMatrixSelector;
      e->range_ms = *range;
    }
    if (PeekWord("offset")) {
      const size_t at = pos_;
      TakeWord("offset");
      if (!selector) {
        return Invalid(at, "offset must follow a selector (x offset 1d, x[5m] offset 1d)");
      }
      SkipSpace();
      const bool negative = Take("-");
      SkipSpace();
      const size_t d_at = pos_;
      while (pos_ < text_.size() && IsDurationChar(text_[pos_])) ++pos_;
      auto d = ParseDuration(text_.substr(d_at, pos_ - d_at));
      if (!d.ok()) return Invalid(d_at, d.status().message());
      e->offset_ms = negative ? -*d : *d;
      if (PeekWord("offset")) return Invalid(pos_, "offset may not be set twice");
    }
    if (Peek("@")) {
      if (!selector && e->kind != ExprKind::kCall && e->kind != ExprKind::kAggregate) {
        return Invalid(pos_, "@ must follow a selector, a function call or an aggregation");
      }
      return Unsupported("the @ modifier", pos_);
    }
    parenthesised_ = false;
    return e;
  }

  Result<std::unique_ptr<Expr>> ParsePrimary() {
    SkipSpace();
    const size_t at = pos_;
    if (pos_ >= text_.size()) return Error("an expression");
    const char c = text_[pos_];
    if (c == '(') {
      ++pos_;
      Depth depth(&depth_);
      KPIDB_RETURN_IF_ERROR(CheckDepth());
      KPIDB_ASSIGN_OR_RETURN(auto e, ParseAdditive());
      if (!Take(")")) {
        KPIDB_RETURN_IF_ERROR(RejectOperator());
        return Error("\")\"");
      }
      parenthesised_ = true;  // no [range] or offset on it
      return e;
    }
    if (c == '"' || c == '\'' || c == '`') return Unsupported("a string literal", at);
    if (IsDigit(c) || (c == '.' && pos_ + 1 < text_.size() && IsDigit(text_[pos_ + 1]))) return Number();
    if (c == '{') return Selector("", at);
    if (!IsNameStart(c)) return Error("an expression");
    const std::string name = Name();
    const std::string lower = Lower(name);
    if (lower == "inf" || lower == "nan") {
      auto e = std::make_unique<Expr>();
      e->position = at;
      e->number = lower == "nan" ? std::nan("") : HUGE_VAL;
      return e;
    }
    const bool aggregation = kAggregations.count(lower) > 0;
    if (aggregation || kOtherAggregations.count(lower) > 0) {
      if (Peek("(") || PeekWord("by") || PeekWord("without")) {
        if (!aggregation) return Unsupported("the aggregation " + lower, at);
        return Aggregate(lower, at);
      }
    }
    if (Peek("(")) return Call(name, at);
    if (kReserved.count(lower) > 0) return Invalid(at, "\"" + name + "\" is a keyword, not a metric name");
    return Selector(name, at);
  }

  Result<std::unique_ptr<Expr>> Number() {
    SkipSpace();
    const size_t at = pos_;
    size_t end = pos_;
    if (text_.substr(pos_, 2) == "0x" || text_.substr(pos_, 2) == "0X") {
      end += 2;
      while (end < text_.size() && std::isxdigit(static_cast<unsigned char>(text_[end]))) ++end;
      uint64_t v = 0;
      const auto [p, ec] = std::from_chars(text_.data() + at + 2, text_.data() + end, v, 16);
      if (ec != std::errc() || p != text_.data() + end) return Error("a number");
      pos_ = end;
      auto e = std::make_unique<Expr>();
      e->position = at;
      e->number = static_cast<double>(v);
      return e;
    }
    while (end < text_.size() && (IsDigit(text_[end]) || text_[end] == '.')) ++end;
    if (end < text_.size() && (text_[end] == 'e' || text_[end] == 'E')) {
      size_t exp = end + 1;
      if (exp < text_.size() && (text_[exp] == '+' || text_[exp] == '-')) ++exp;
      if (exp < text_.size() && IsDigit(text_[exp])) {
        end = exp;
        while (end < text_.size() && IsDigit(text_[end])) ++end;
      }
    }
    // A duration where a number was expected (`5m` alone) is not a number.
    if (end < text_.size() && IsNameStart(text_[end])) {
      pos_ = end;
      return Error("an operator or the end of the expression (a duration stands only in [...] or after offset)");
    }
    double v = 0;
    const std::string_view literal = text_.substr(at, end - at);
    if (literal.size() > 1 && literal[0] == '0' && IsDigit(literal[1]) &&
        literal.find_first_of(".eE") == std::string_view::npos) {
      // Go's ParseInt(s, 0, 64), as Prometheus reads it: a leading 0 is octal.
      uint64_t octal = 0;
      const auto [q, oec] = std::from_chars(literal.data() + 1, literal.data() + literal.size(), octal, 8);
      if (oec == std::errc() && q == literal.data() + literal.size()) {
        pos_ = end;
        auto e = std::make_unique<Expr>();
        e->position = at;
        e->number = static_cast<double>(octal);
        return e;
      }
    }
    const auto [p, ec] = std::from_chars(text_.data() + at, text_.data() + end, v);
    if (ec != std::errc() || p != text_.data() + end) return Error("a number");
    pos_ = end;
    auto e = std::make_unique<Expr>();
    e->position = at;
    e->number = v;
    return e;
  }

  Result<std::vector<std::string>> LabelList(const std::string& what) {
    if (!Take("(")) return Error("\"(\" after " + what);
    std::vector<std::string> labels;
    while (true) {
      if (Take(")")) return labels;
      SkipSpace();
      if (pos_ >= text_.size() || !IsLabelStart(text_[pos_])) return Error("a label name or \")\"");
      labels.push_back(LabelName());
      if (Take(",")) continue;
      if (Peek(")")) continue;
      return Error("\",\" or \")\"");
    }
  }

  Result<std::unique_ptr<Expr>> Aggregate(const std::string& name, size_t at) {
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::kAggregate;
    e->name = name;
    e->position = at;
    Depth depth(&depth_);
    KPIDB_RETURN_IF_ERROR(CheckDepth());
    bool had_modifier = false;
    auto grouping = [&]() -> Status {
      const bool by = PeekWord("by");
      if (!by && !PeekWord("without")) return Status::Ok();
      if (had_modifier) return Invalid(pos_, "an aggregation takes one by or without clause");
      had_modifier = true;
      TakeWord(by ? "by" : "without");
      e->without = !by;
      KPIDB_ASSIGN_OR_RETURN(e->grouping, LabelList(by ? "by" : "without"));
      return Status::Ok();
    };
    KPIDB_RETURN_IF_ERROR(grouping());
    if (!Take("(")) return Error("\"(\" after " + name);
    KPIDB_ASSIGN_OR_RETURN(auto arg, ParseAdditive());
    if (Peek(",")) return Invalid(pos_, name + " takes one argument");
    if (!Take(")")) {
      KPIDB_RETURN_IF_ERROR(RejectOperator());
      return Error("\")\"");
    }
    if (TypeOf(*arg) == Type::kMatrix) {
      return Invalid(arg->position, name + " needs an instant vector, not a range (apply rate, increase or "
                                           "an *_over_time function)");
    }
    if (TypeOf(*arg) == Type::kScalar) return Invalid(arg->position, name + " needs an instant vector, not a number");
    e->height = arg->height + 1;
    e->args.push_back(std::move(arg));
    KPIDB_RETURN_IF_ERROR(grouping());  // sum(x) by (a)
    return e;
  }

  Result<std::unique_ptr<Expr>> Call(const std::string& name, size_t at) {
    if (kRangeFunctions.count(name) == 0) {
      if (kOtherFunctions.count(name) > 0) return Unsupported("the function " + name + "()", at);
      return Invalid(at, "unknown function " + name + "()");
    }
    Take("(");
    Depth depth(&depth_);
    KPIDB_RETURN_IF_ERROR(CheckDepth());
    KPIDB_ASSIGN_OR_RETURN(auto arg, ParseAdditive());
    if (Peek(",")) return Error("\")\" (" + name + " takes one argument)");
    if (!Take(")")) {
      KPIDB_RETURN_IF_ERROR(RejectOperator());
      return Error("\")\"");
    }
    if (arg->kind != ExprKind::kMatrixSelector) {
      return Invalid(arg->position, name + " needs a range vector such as kpi_visits[5m]");
    }
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::kCall;
    e->name = name;
    e->position = at;
    e->args.push_back(std::move(arg));
    return e;
  }

  Result<std::string> Quoted() {
    SkipSpace();
    if (pos_ >= text_.size() || (text_[pos_] != '"' && text_[pos_] != '\'' && text_[pos_] != '`')) {
      return Error("a quoted label value");
    }
    const char quote = text_[pos_++];
    std::string value;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      char c = text_[pos_++];
      if (c == '\n' && quote != '`') return Invalid(pos_ - 1, "a quoted string may not span lines (use `...`)");
      if (c == '\\' && quote != '`') {
        if (pos_ >= text_.size()) break;
        const char x = text_[pos_++];
        switch (x) {
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case 'r': c = '\r'; break;
          case 'a': c = '\a'; break;
          case 'b': c = '\b'; break;
          case 'f': c = '\f'; break;
          case 'v': c = '\v'; break;
          case '\\': c = x; break;
          case '"': case '\'':
            if (x != quote) {
              --pos_;
              return Error("an escape sequence (only the opening quote is escaped)");
            }
            c = x;
            break;
          case 'x': case 'u': case 'U': {  // \xHH, \uHHHH, \UHHHHHHHH
            const size_t n = x == 'x' ? 2 : x == 'u' ? 4 : 8;
            uint32_t cp = 0;
            const auto [q, hec] = std::from_chars(text_.data() + pos_, text_.data() + std::min(text_.size(), pos_ + n), cp, 16);
            if (hec != std::errc() || q != text_.data() + pos_ + n || (x != 'x' && (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)))) {
              return Error("a valid \\" + std::string(1, x) + " escape");
            }
            pos_ += n;
            if (x == 'x') {
              value.push_back(static_cast<char>(cp));
            } else if (cp < 0x80) {
              value.push_back(static_cast<char>(cp));
            } else if (cp < 0x800) {
              value.push_back(static_cast<char>(0xC0 | (cp >> 6)));
              value.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
            } else if (cp < 0x10000) {
              value.push_back(static_cast<char>(0xE0 | (cp >> 12)));
              value.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
              value.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
            } else {
              value.push_back(static_cast<char>(0xF0 | (cp >> 18)));
              value.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
              value.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
              value.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
            }
            continue;
          }
          default:
            --pos_;
            return Error("an escape sequence (\\n \\t \\\\ \\\" ...)");
        }
      }
      value.push_back(c);
    }
    if (pos_ >= text_.size()) return Error(std::string("the closing ") + quote);
    ++pos_;
    return value;
  }

  Result<std::unique_ptr<Expr>> Selector(const std::string& metric, size_t at) {
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::kVectorSelector;
    e->position = at;
    e->selector.metric = metric;
    if (Take("{")) {
      while (true) {
        if (Take("}")) break;
        SkipSpace();
        if (pos_ >= text_.size() || !IsLabelStart(text_[pos_])) return Error("a label name or \"}\"");
        query::LabelMatcher m;
        m.name = LabelName();
        if (Take("=~")) {
          m.op = query::MatchOp::kRegex;
        } else if (Take("!~")) {
          m.op = query::MatchOp::kNotRegex;
        } else if (Take("!=")) {
          m.op = query::MatchOp::kNotEqual;
        } else if (Take("=")) {
          m.op = query::MatchOp::kEqual;
        } else {
          return Error("one of = != =~ !~ after " + m.name);
        }
        KPIDB_ASSIGN_OR_RETURN(m.value, Quoted());
        if (m.name == "__name__" && !metric.empty()) return Invalid(at, "the metric name is set twice");
        if (m.name == "__name__" && m.op == query::MatchOp::kEqual && e->selector.metric.empty() &&
            IsValidMetricName(m.value)) {
          e->selector.metric = m.value;
        } else {
          e->selector.matchers.push_back(std::move(m));
        }
        if (Take(",")) continue;
        if (Peek("}")) continue;
        return Error("\",\" or \"}\"");
      }
    }
    // Regexes valid, and something narrowing the selection (the checks the
    // query layer makes, so that they fail here with the position).
    auto compiled = query::CompileSelector(e->selector, "selector");
    if (!compiled.ok()) {
      const std::string& m = compiled.status().message();
      if (m.find("selects every series") != std::string::npos) {
        return Invalid(at, "a vector selector must contain at least one matcher that does not match "
                           "the empty string");
      }
      return Invalid(at, m);
    }
    return e;
  }

  std::string_view text_;
  size_t pos_ = 0;
  int depth_ = 0;
  bool parenthesised_ = false;  // the last primary was ( ... )
};

std::string Duration(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out = ms < 0 ? "-" : "";
  uint64_t a = ms < 0 ? 0 - static_cast<uint64_t>(ms) : static_cast<uint64_t>(ms);
  const std::pair<const char*, uint64_t> units[] = {{"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000},
                                                    {"s", 1000},       {"ms", 1}};
  for (const auto& [name, size] : units) {
    if (a >= size) {
      out += std::to_string(a / size) + name;
      a %= size;
    }
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Expr>> Parse(std::string_view text) { return Parser(text).ParseAll(); }

Result<int64_t> ParseDuration(std::string_view text) {
  const Status bad = Status::InvalidArgument("\"" + std::string(text) +
                                             "\" is not a duration (such as 5m, 1h30m, 1d, 2w)");
  if (text.empty()) return bad;
  const std::pair<std::string_view, int64_t> units[] = {
      {"y", 365 * 86'400'000LL}, {"w", 7 * 86'400'000LL}, {"d", 86'400'000}, {"h", 3'600'000},
      {"ms", 1},                 {"m", 60'000},           {"s", 1000}};
  // The order units must come in (ms before m in the table for matching).
  auto rank = [](std::string_view u) {
    const std::string_view order[] = {"y", "w", "d", "h", "m", "s", "ms"};
    for (size_t i = 0; i < 7; ++i) {
      if (order[i] == u) return static_cast<int>(i);
    }
    return -1;
  };
  int64_t total = 0;
  int last = -1;
  size_t p = 0;
  while (p < text.size()) {
    int64_t n = 0;
    if (!IsDigit(text[p])) return bad;
    const auto [end, ec] = std::from_chars(text.data() + p, text.data() + text.size(), n);
    if (ec != std::errc()) return bad;
    p = static_cast<size_t>(end - text.data());
    int64_t size = 0;
    std::string_view unit;
    for (const auto& [u, s] : units) {
      if (text.substr(p, u.size()) == u) {
        unit = u;
        size = s;
        break;
      }
    }
    if (size == 0 || rank(unit) <= last) return bad;
    last = rank(unit);
    p += unit.size();
    if (n > (INT64_MAX - total) / size) return bad;
    total += n * size;
  }
  if (total == 0) return bad;
  if (total > kMaxDurationMs) {
    return Status::InvalidArgument("\"" + std::string(text) + "\": duration out of range (at most 292 years)");
  }
  return total;
}

std::string Format(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kNumber: {
      if (std::isnan(e.number)) return "NaN";
      if (std::isinf(e.number)) return e.number > 0 ? "Inf" : "-Inf";
      char buf[32];
      const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, e.number);
      return std::string(buf, ec == std::errc() ? end : buf);
    }
    case ExprKind::kVectorSelector:
    case ExprKind::kMatrixSelector: {
      std::string out = query::FormatSelector(e.selector);
      if (e.kind == ExprKind::kMatrixSelector) out += "[" + Duration(e.range_ms) + "]";
      if (e.offset_ms != 0) out += " offset " + Duration(e.offset_ms);
      return out;
    }
    case ExprKind::kCall:
      return e.name + "(" + Format(*e.args[0]) + ")";
    case ExprKind::kAggregate: {
      std::string out = e.name;
      if (!e.grouping.empty() || e.without) {
        out += e.without ? " without (" : " by (";
        for (size_t i = 0; i < e.grouping.size(); ++i) out += (i ? ", " : "") + e.grouping[i];
        out += ")";
      }
      return out + " (" + Format(*e.args[0]) + ")";
    }
    case ExprKind::kBinary: {
      static const char* const kOps[] = {"+", "-", "*", "/"};
      std::string out = "(" + Format(*e.args[0]) + " " + kOps[static_cast<int>(e.op)];
      if (e.on || !e.matching.empty()) {
        out += e.on ? " on (" : " ignoring (";
        for (size_t i = 0; i < e.matching.size(); ++i) out += (i ? ", " : "") + e.matching[i];
        out += ")";
      }
      return out + " " + Format(*e.args[1]) + ")";
    }
    case ExprKind::kNegate:
      return "-" + Format(*e.args[0]);
  }
  return "";
}

}  // namespace kpidb::promql
