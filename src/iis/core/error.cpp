// iis::Error and context wrapping of library exceptions (LibTorch, OpenCV).
#include "iis/core/error.hpp"

#include <c10/util/Exception.h>

#ifdef IIS_HAVE_OPENCV
#include <opencv2/core.hpp>
#endif

namespace iis {

Error::Error(const std::string& message, std::string hint, std::string where)
    : std::runtime_error(message), hint_(std::move(hint)), where_(std::move(where)) {}

namespace detail {
void throw_error(const char* condition, const char* file, int line, const std::string& message,
                 const std::string& hint) {
  std::ostringstream where;
  where << file << ":" << line << " (" << condition << ")";
  throw Error(message, hint, where.str());
}
}  // namespace detail

namespace {
// LibTorch messages carry a multi-line backtrace; keep the first line.
std::string first_line(const std::string& s) {
  auto end = s.find('\n');
  return end == std::string::npos ? s : s.substr(0, end);
}
}  // namespace

void with_context(const std::string& context, const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    throw Error(context + ": " + e.what(), e.hint(), e.where());
  } catch (const c10::Error& e) {
    throw Error(context + ": " + first_line(e.what_without_backtrace()));
#ifdef IIS_HAVE_OPENCV
  } catch (const cv::Exception& e) {
    throw Error(context + ": OpenCV: " + first_line(e.err.empty() ? e.what() : e.err));
#endif
  } catch (const std::exception& e) {
    throw Error(context + ": " + first_line(e.what()));
  }
}

}  // namespace iis
