// Errors: iis::Error (a user error, with a hint), iis::InternalError (a broken invariant of the
// code itself), their check macros, and context when rethrowing.
#pragma once

#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>

namespace iis {

// A user error: bad input, a bad option, a missing file. `what()` is one line; `hint()`
// says what to do about it (may be empty). `where()` names the failing check in the code.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, std::string hint = {}, std::string where = {});
  const std::string& hint() const noexcept { return hint_; }
  const std::string& where() const noexcept { return where_; }

 private:
  std::string hint_;
  std::string where_;
};

// A broken internal invariant: a bug in iis, not a problem with the input. Deliberately not an
// iis::Error, so that nothing handling user errors (skipping an image, adding context) takes it
// for one; the tool prints it as an internal error and asks for a report. `where()` names the
// failed condition and its place in the code.
class InternalError : public std::logic_error {
 public:
  InternalError(const std::string& message, std::string where);
  const std::string& where() const noexcept { return where_; }

 private:
  std::string where_;
};

namespace detail {
[[noreturn]] void throw_error(const char* condition, const char* file, int line,
                              const std::string& message, const std::string& hint);
[[noreturn]] void throw_internal_error(const char* condition, const char* file, int line,
                                       const std::string& message);
}  // namespace detail

// One line for a LibTorch error message: its first line, or for an exception raised inside a
// TorchScript model, the model's own message and where its source raised it (the first line
// would only say "The following operation failed in the TorchScript interpreter.").
std::string torch_error_text(const std::string& what);

// Runs `body`; any iis::Error, c10::Error, cv::Exception or std::exception it throws is
// rethrown as iis::Error whose message is "<context>: <original message>" (hint kept). An
// iis::InternalError passes through unchanged.
void with_context(const std::string& context, const std::function<void()>& body);

// Same, returning the body's value.
template <typename F>
auto with_context_value(const std::string& context, F&& body) -> decltype(body()) {
  decltype(body()) value{};
  with_context(context, [&] { value = body(); });
  return value;
}

}  // namespace iis

// IIS_CHECK(cond, "message " << value): throws iis::Error naming the failed condition.
#define IIS_CHECK(cond, msg)                                                                \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::ostringstream iis_msg_;                                                          \
      iis_msg_ << msg;                                                                      \
      ::iis::detail::throw_error(#cond, __FILE__, __LINE__, iis_msg_.str(), std::string()); \
    }                                                                                       \
  } while (0)

// IIS_CHECK_HINT(cond, "message", "what the user should do").
#define IIS_CHECK_HINT(cond, msg, hint_msg)                                                   \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::ostringstream iis_msg_, iis_hint_;                                                 \
      iis_msg_ << msg;                                                                        \
      iis_hint_ << hint_msg;                                                                  \
      ::iis::detail::throw_error(#cond, __FILE__, __LINE__, iis_msg_.str(), iis_hint_.str()); \
    }                                                                                         \
  } while (0)

// IIS_FAIL("message", "hint"): unconditional user error.
#define IIS_FAIL(msg, hint_msg) IIS_CHECK_HINT(false, msg, hint_msg)

// IIS_ASSERT(cond, "message " << value): checks an invariant of the code itself, never user
// input (use IIS_CHECK for that). On in every build type, Release included: a broken invariant
// must not turn into a silently wrong score. Throws iis::InternalError.
#define IIS_ASSERT(cond, msg)                                                         \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::ostringstream iis_msg_;                                                    \
      iis_msg_ << msg;                                                                \
      ::iis::detail::throw_internal_error(#cond, __FILE__, __LINE__, iis_msg_.str()); \
    }                                                                                 \
  } while (0)
