// iis::Error and context wrapping of library exceptions (LibTorch, OpenCV).
#include "iis/core/error.hpp"

#include <c10/util/Exception.h>

#ifdef IIS_HAVE_OPENCV
#include <opencv2/core.hpp>
#endif

namespace iis {

Error::Error(const std::string& message, std::string hint, std::string where)
    : std::runtime_error(message), hint_(std::move(hint)), where_(std::move(where)) {}

InternalError::InternalError(const std::string& message, std::string where)
    : std::logic_error(message), where_(std::move(where)) {}

namespace detail {
namespace {
std::string place(const char* condition, const char* file, int line) {
  std::ostringstream where;
  where << file << ":" << line << " (" << condition << ")";
  return where.str();
}
}  // namespace

void throw_error(const char* condition, const char* file, int line, const std::string& message,
                 const std::string& hint) {
  throw Error(message, hint, place(condition, file, line));
}

void throw_internal_error(const char* condition, const char* file, int line,
                          const std::string& message) {
  throw InternalError(message, place(condition, file, line));
}
}  // namespace detail

namespace {
// LibTorch messages carry a multi-line backtrace; keep the first line.
std::string first_line(const std::string& s) {
  auto end = s.find('\n');
  return end == std::string::npos ? s : s.substr(0, end);
}
}  // namespace

std::string torch_error_text(const std::string& what) {
  const std::string head = first_line(what);
  if (head.rfind("The following operation failed in the TorchScript interpreter", 0) != 0) {
    return head;
  }
  // The model's own exception is the last line; the last "File ..., line N, in f" is where the
  // model's source raised it.
  std::string message, location;
  size_t begin = 0;
  while (begin < what.size()) {
    size_t end = what.find('\n', begin);
    if (end == std::string::npos) end = what.size();
    const std::string line = what.substr(begin, end - begin);
    const size_t text = line.find_first_not_of(' ');
    if (text != std::string::npos) {
      if (line.compare(text, 5, "File ") == 0) location = line.substr(text);
      message = line;
    }
    begin = end + 1;
  }
  return "the TorchScript model raised: " + message +
         (location.empty() ? "" : " (" + location + ")");
}

void with_context(const std::string& context, const std::function<void()>& body) {
  try {
    body();
  } catch (const InternalError&) {
    throw;
  } catch (const Error& e) {
    throw Error(context + ": " + e.what(), e.hint(), e.where());
  } catch (const c10::Error& e) {
    throw Error(context + ": " + torch_error_text(e.what_without_backtrace()));
#ifdef IIS_HAVE_OPENCV
  } catch (const cv::Exception& e) {
    throw Error(context + ": OpenCV: " + first_line(e.err.empty() ? e.what() : e.err));
#endif
  } catch (const std::exception& e) {
    throw Error(context + ": " + torch_error_text(e.what()));
  }
}

}  // namespace iis
