// Strict parsing of the decimal numbers a tracker request carries.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tracker::protocol {

// A plain non-negative decimal that fits in 64 bits: digits only, at least one, no sign, no
// exponent, no spaces. Leading zeros are accepted (clients send `left=0000`). Nothing otherwise.
std::optional<std::uint64_t> parseUnsigned(std::string_view text);

}  // namespace tracker::protocol
