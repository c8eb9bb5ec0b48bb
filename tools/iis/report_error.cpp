// The tool's error lines and exit statuses (report_error.hpp).
#include "report_error.hpp"

#include "iis/core/error.hpp"

namespace iis::tool {

int report_error(const std::exception_ptr& error, std::ostream& err) {
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    err << "error: " << e.what() << "\n";
    if (!e.hint().empty()) err << "hint: " << e.hint() << "\n";
    return kExitInputError;
  } catch (const InternalError& e) {
    err << "internal error: " << e.what() << " (" << e.where() << ")\n"
        << "hint: this is a bug in iis, not in your input; please report it with the command "
           "line and this message\n";
    return kExitUnexpected;
  } catch (const std::exception& e) {
    err << "error: " << e.what() << "\n"
        << "hint: this is unexpected; please report it with the command line\n";
    return kExitUnexpected;
  } catch (...) {
    err << "error: an unknown exception\n"
        << "hint: this is unexpected; please report it with the command line\n";
    return kExitUnexpected;
  }
}

}  // namespace iis::tool
