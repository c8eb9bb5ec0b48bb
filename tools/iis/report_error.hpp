// How the tool tells the user that a command failed: one line, a hint, an exit status.
#pragma once

#include <exception>
#include <ostream>

namespace iis::tool {

// The tool's exit statuses (the README and `iis --help` list them).
constexpr int kExitInputError = 1;  // an iis::Error: input, option or environment
constexpr int kExitUsageError = 2;  // the command line does not parse
constexpr int kExitUnexpected = 3;  // a bug: an internal invariant or an unexpected exception

// Writes the message for `error` to `err` and returns the exit status:
//   iis::Error          "error: <message>" and "hint: <hint>"                       → 1
//   iis::InternalError  "internal error: <message> (<where>)" and a request to report → 3
//   anything else       "error: <message>" and "hint: this is unexpected; ..."        → 3
int report_error(const std::exception_ptr& error, std::ostream& err);

}  // namespace iis::tool
