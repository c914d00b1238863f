// A refused request: the PHP tracker's numbered reasons plus our own unnumbered ones.
#pragma once

#include <string>
#include <string_view>

namespace tracker::protocol {

// The PHP tracker's failure numbers, kept so that sites and users recognise them.
enum class FailureCode {
    Unnumbered = 0,      // a bad request the PHP had no number for (bad number, bad event ...)
    MissingField = 1,    // #1 one or more fields missing
    InfoHashLength = 2,  // #2 info_hash not 20 bytes
    PeerIdLength = 3,    // #3 peer_id not 20 bytes
    InvalidPort = 4,     // #4 port 0, above 65535 or not a number
    NotRegistered = 5,   // #5 torrent not registered
    Banned = 6,          // #6 torrent banned
    Unavailable = 100,   // the tracker cannot serve right now (database down, overloaded)
};

struct Failure {
    FailureCode code = FailureCode::Unnumbered;
    std::string detail;  // what was wrong, in words, e.g. `invalid port "70000"`

    // The text sent as `failure reason`: `Tracker error #4: invalid port "70000"`.
    std::string reason() const;
};

Failure makeFailure(FailureCode code, std::string detail);

// Quotes a request value for a failure message: printable ASCII kept, other bytes as \xNN,
// cut to a sane length so that a 64 kB value does not come back at the client.
std::string quoteValue(std::string_view value);

}  // namespace tracker::protocol
