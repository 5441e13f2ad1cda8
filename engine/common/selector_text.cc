// The text form of a selector (include/kpidb/query.h): a metric name, then
// optionally `{` matchers `}`, each `name op "value"`, separated by commas
// (a trailing comma allowed), whitespace anywhere between tokens.
#include <string>

#include "kpidb/query.h"

namespace kpidb::query {
namespace {

bool NameStart(char c, bool metric) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':');
}
bool NameChar(char c, bool metric) { return NameStart(c, metric) || (c >= '0' && c <= '9'); }

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<Selector> Parse() {
    Selector out;
    SkipSpace();
    if (pos_ < text_.size() && NameStart(text_[pos_], true)) out.metric = Name(true);
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == '{') {
      ++pos_;
      while (true) {
        SkipSpace();
        if (pos_ < text_.size() && text_[pos_] == '}') {
          ++pos_;
          break;
        }
        LabelMatcher m;
        if (pos_ >= text_.size() || !NameStart(text_[pos_], false)) return Error("a label name or '}'");
        m.name = Name(false);
        SkipSpace();
        if (Take("=~")) {
          m.op = MatchOp::kRegex;
        } else if (Take("!~")) {
          m.op = MatchOp::kNotRegex;
        } else if (Take("!=")) {
          m.op = MatchOp::kNotEqual;
        } else if (Take("=")) {
          m.op = MatchOp::kEqual;
        } else {
          return Error("one of = != =~ !~ after label " + m.name);
        }
        SkipSpace();
        KPIDB_ASSIGN_OR_RETURN(m.value, Quoted());
        out.matchers.push_back(std::move(m));
        SkipSpace();
        if (Take(",")) continue;
        if (pos_ < text_.size() && text_[pos_] == '}') continue;
        return Error("',' or '}'");
      }
      SkipSpace();
    }
    if (pos_ < text_.size()) {
      return Error(out.metric.empty() && out.matchers.empty() ? "a metric name or '{'"
                                                                : "the end of the selector");
    }
    return out;
  }

 private:
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Take(std::string_view token) {
    if (text_.substr(pos_, token.size()) != token) return false;
    pos_ += token.size();
    return true;
  }
  std::string Name(bool metric) {
    const size_t start = pos_;
    while (pos_ < text_.size() && NameChar(text_[pos_], metric)) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }
  Result<std::string> Quoted() {
    if (pos_ >= text_.size() || (text_[pos_] != '"' && text_[pos_] != '\'')) {
      return Error("a quoted label value");
    }
    const char quote = text_[pos_++];
    std::string value;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      char c = text_[pos_++];
      if (c == '\\') {
        if (pos_ >= text_.size()) break;
        const char e = text_[pos_++];
        switch (e) {
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case 'r': c = '\r'; break;
          case '\\': case '"': case '\'': c = e; break;
          default:
            --pos_;
            return Error("an escape (\\\\ \\\" \\' \\n \\t \\r) after '\\'");
        }
      }
      value.push_back(c);
    }
    if (pos_ >= text_.size()) return Error(std::string("the closing ") + quote);
    ++pos_;
    return value;
  }
  Status Error(const std::string& expected) const {
    std::string msg = "selector \"";
    msg += text_;
    msg += "\": at column ";
    msg += std::to_string(pos_ + 1);
    msg += ", expected ";
    msg += expected;
    if (pos_ < text_.size()) {
      msg += ", found '";
      msg += text_[pos_];
      msg += "'";
    } else {
      msg += ", found the end";
    }
    return Status::InvalidArgument(msg);
  }

  std::string_view text_;
  size_t pos_ = 0;
};

const char* OpText(MatchOp op) {
  switch (op) {
    case MatchOp::kEqual: return "=";
    case MatchOp::kNotEqual: return "!=";
    case MatchOp::kRegex: return "=~";
    case MatchOp::kNotRegex: return "!~";
  }
  return "=";
}

}  // namespace

Result<Selector> ParseSelector(std::string_view text) { return Parser(text).Parse(); }

std::string FormatSelector(const Selector& selector) {
  std::string out = selector.metric;
  if (selector.matchers.empty() && !out.empty()) return out;
  out.push_back('{');
  for (size_t i = 0; i < selector.matchers.size(); ++i) {
    const LabelMatcher& m = selector.matchers[i];
    if (i > 0) out.push_back(',');
    out += m.name;
    out += OpText(m.op);
    out.push_back('"');
    for (char c : m.value) {
      if (c == '\\' || c == '"') {
        out.push_back('\\');
        out.push_back(c);
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c == '\r') {
        out += "\\r";
      } else {
        out.push_back(c);
      }
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

}  // namespace kpidb::query
