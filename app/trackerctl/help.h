// trackerctl's help: the whole usage text, and each command's.
#pragma once

#include <string>

namespace tracker::ctl {

extern const char* const kUsageText;
// The command's help text; empty for a command that does not exist.
std::string commandHelp(const std::string& command);

}  // namespace tracker::ctl
