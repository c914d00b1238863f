// A hexadecimal digit's value, shared by percent-decoding and the admin tool's hex info hashes.
#pragma once

namespace tracker::protocol {

// 0-15 for 0-9, a-f, A-F; -1 for anything else.
constexpr int hexDigitValue(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

}  // namespace tracker::protocol
