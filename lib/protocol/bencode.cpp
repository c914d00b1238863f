#include "bencode.h"

namespace tracker::protocol {

void BencodeWriter::integer(std::int64_t value) {
    out_.push_back('i');
    out_ += std::to_string(value);
    out_.push_back('e');
}

void BencodeWriter::string(std::string_view bytes) {
    out_ += std::to_string(bytes.size());
    out_.push_back(':');
    out_.append(bytes.data(), bytes.size());
}

const BValue* BValue::find(std::string_view key) const {
    const Dict* dict = asDict();
    if (dict == nullptr)
        return nullptr;
    auto it = dict->find(key);
    return it == dict->end() ? nullptr : &it->second;
}

namespace {

// A recursive-descent decoder over the input; depth is bounded so that a hostile
// `llllll...` cannot exhaust the stack.
class Decoder {
  public:
    Decoder(std::string_view input, int maxDepth) : in_(input), maxDepth_(maxDepth) {}

    std::variant<BValue, BDecodeError> run() {
        BValue value;
        if (!parseValue(value, 0))
            return error_;
        if (pos_ != in_.size())
            return BDecodeError{pos_, "trailing bytes after the value"};
        return value;
    }

  private:
    bool fail(std::string message) {
        error_ = BDecodeError{pos_, std::move(message)};
        return false;
    }

    bool parseValue(BValue& out, int depth) {
        if (depth >= maxDepth_)
            return fail("nested too deeply");
        if (pos_ >= in_.size())
            return fail("unexpected end of input");
        out.begin = pos_;
        char c = in_[pos_];
        bool ok;
        if (c == 'i') {
            ok = parseInteger(out);
        } else if (c == 'l') {
            ok = parseList(out, depth);
        } else if (c == 'd') {
            ok = parseDict(out, depth);
        } else if (c >= '0' && c <= '9') {
            std::string text;
            ok = parseString(text);
            out.value = std::move(text);
        } else {
            return fail("unexpected byte where a value should start");
        }
        out.end = pos_;
        return ok;
    }

    bool parseInteger(BValue& out) {
        ++pos_;  // 'i'
        bool negative = false;
        if (pos_ < in_.size() && in_[pos_] == '-') {
            negative = true;
            ++pos_;
        }
        std::size_t digitsStart = pos_;
        std::uint64_t magnitude = 0;
        while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') {
            auto digit = static_cast<std::uint64_t>(in_[pos_] - '0');
            if (magnitude > (std::uint64_t{1} << 63) / 10)
                return fail("integer out of range");
            magnitude = magnitude * 10 + digit;
            ++pos_;
        }
        std::size_t digits = pos_ - digitsStart;
        if (digits == 0)
            return fail("integer without digits");
        if (pos_ >= in_.size() || in_[pos_] != 'e')
            return fail("integer not closed by 'e'");
        if (digits > 1 && in_[digitsStart] == '0')
            return fail("integer with a leading zero");
        if (negative && magnitude == 0)
            return fail("negative zero");
        constexpr std::uint64_t kLimit = std::uint64_t{1} << 63;
        if (magnitude > kLimit || (!negative && magnitude == kLimit)) {
            return fail("integer out of range");
        }
        ++pos_;  // 'e'
        out.value = negative ? static_cast<std::int64_t>(0 - magnitude)
                             : static_cast<std::int64_t>(magnitude);
        return true;
    }

    bool parseString(std::string& out) {
        std::size_t digitsStart = pos_;
        std::size_t length = 0;
        while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') {
            if (length > in_.size())
                return fail("string length beyond the input");
            length = length * 10 + static_cast<std::size_t>(in_[pos_] - '0');
            ++pos_;
        }
        if (pos_ - digitsStart > 1 && in_[digitsStart] == '0') {
            return fail("string length with a leading zero");
        }
        if (pos_ >= in_.size() || in_[pos_] != ':')
            return fail("string length not followed by ':'");
        ++pos_;
        if (length > in_.size() - pos_)
            return fail("string length beyond the input");
        out.assign(in_.data() + pos_, length);
        pos_ += length;
        return true;
    }

    bool parseList(BValue& out, int depth) {
        ++pos_;  // 'l'
        BValue::List list;
        while (true) {
            if (pos_ >= in_.size())
                return fail("list not closed");
            if (in_[pos_] == 'e')
                break;
            BValue item;
            if (!parseValue(item, depth + 1))
                return false;
            list.push_back(std::move(item));
        }
        ++pos_;
        out.value = std::move(list);
        return true;
    }

    bool parseDict(BValue& out, int depth) {
        ++pos_;  // 'd'
        BValue::Dict dict;
        const std::string* previousKey = nullptr;
        while (true) {
            if (pos_ >= in_.size())
                return fail("dict not closed");
            if (in_[pos_] == 'e')
                break;
            if (in_[pos_] < '0' || in_[pos_] > '9')
                return fail("dict key is not a string");
            std::string key;
            if (!parseString(key))
                return false;
            if (previousKey != nullptr && !(*previousKey < key)) {
                return fail("dict keys not in strictly ascending order");
            }
            BValue item;
            if (!parseValue(item, depth + 1))
                return false;
            auto inserted = dict.emplace(std::move(key), std::move(item));
            previousKey = &inserted.first->first;
        }
        ++pos_;
        out.value = std::move(dict);
        return true;
    }

    std::string_view in_;
    int maxDepth_;
    std::size_t pos_ = 0;
    BDecodeError error_;
};

}  // namespace

std::variant<BValue, BDecodeError> bdecode(std::string_view input, int maxDepth) {
    return Decoder(input, maxDepth).run();
}

}  // namespace tracker::protocol
