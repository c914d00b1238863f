// Bencoding (BEP 3): a writer for building responses without a tree, and a strict decoder.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tracker::protocol {

// Appends bencoded tokens to a string. The caller writes dict keys in sorted (raw byte) order;
// the writer does not reorder, so that a response costs no allocation beyond its own bytes.
class BencodeWriter {
  public:
    explicit BencodeWriter(std::string& out) : out_(out) {}

    void integer(std::int64_t value);
    void string(std::string_view bytes);
    void beginDict() { out_.push_back('d'); }
    void beginList() { out_.push_back('l'); }
    void end() { out_.push_back('e'); }
    // A key then its value, for the common dict entries.
    void key(std::string_view k) { string(k); }
    void entry(std::string_view k, std::int64_t value) { key(k), integer(value); }
    void entry(std::string_view k, std::string_view bytes) { key(k), string(bytes); }

  private:
    std::string& out_;
};

// A decoded bencode value. Dicts keep keys sorted (std::map on raw bytes).
struct BValue {
    using List = std::vector<BValue>;
    using Dict = std::map<std::string, BValue, std::less<>>;
    std::variant<std::int64_t, std::string, List, Dict> value;
    // Where this value's bytes were in the input: the info dict's span is what is hashed.
    std::size_t begin = 0;
    std::size_t end = 0;

    const std::int64_t* asInt() const { return std::get_if<std::int64_t>(&value); }
    const std::string* asString() const { return std::get_if<std::string>(&value); }
    const List* asList() const { return std::get_if<List>(&value); }
    const Dict* asDict() const { return std::get_if<Dict>(&value); }
    // The value under `key` when this is a dict holding it, else null.
    const BValue* find(std::string_view key) const;
};

struct BDecodeError {
    std::size_t offset = 0;
    std::string message;
};

// Strict decoding of exactly one value filling the whole input: no leading zeros, no `-0`,
// integers within 64 bits, dict keys strictly ascending, nesting at most maxDepth deep.
std::variant<BValue, BDecodeError> bdecode(std::string_view input, int maxDepth = 64);

}  // namespace tracker::protocol
