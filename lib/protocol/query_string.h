// Binary-safe decoding of a raw HTTP query string (the undecoded QUERY_STRING).
// Pure: no I/O. Keys and values may hold any byte, NUL included; `+` stays `+`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tracker::protocol {

// One `key=value` pair of the query string, percent-decoded. A malformed escape (`%4`, `%zz`)
// marks the pair as malformed instead of guessing: the field is then an error, never a crash.
struct QueryParam {
    std::string key;
    std::string value;
    bool malformed = false;
};

// Every pair in the order it appears; repeated keys are all kept. Empty segments (`a=1&&b=2`)
// are skipped; a segment without `=` has an empty value.
class QueryString {
  public:
    static QueryString parse(std::string_view raw);

    // The first pair with this key, or null. Announce takes the first of repeated keys.
    const QueryParam* first(std::string_view key) const;
    // Every pair with this key, in order (scrape takes every info_hash).
    std::vector<const QueryParam*> all(std::string_view key) const;
    const std::vector<QueryParam>& params() const { return params_; }

  private:
    std::vector<QueryParam> params_;
};

// Percent-decodes `in` byte by byte. Returns nothing on a malformed escape.
std::optional<std::string> percentDecode(std::string_view in);

}  // namespace tracker::protocol
