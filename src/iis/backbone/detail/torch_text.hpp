// The message of an exception LibTorch or the TorchScript interpreter threw, for error lines.
#pragma once

#include <c10/util/Exception.h>

#include <exception>
#include <string>

namespace iis::backbone::detail {

// The message of a LibTorch exception without its C++ backtrace; any other exception's what().
inline std::string exception_text(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  return c10_error != nullptr ? c10_error->what_without_backtrace() : e.what();
}

}  // namespace iis::backbone::detail
