// The tool's error lines: user errors (1), internal errors and anything else (3: a bug).
#include "report_error.hpp"

#include <sstream>
#include <stdexcept>

#include "test_support.hpp"

namespace iis::tool {
namespace {

template <typename F>
std::pair<int, std::string> report_of(F&& body) {
  std::ostringstream err;
  try {
    body();
  } catch (...) {
    const int status = report_error(std::current_exception(), err);
    return {status, err.str()};
  }
  return {0, "no exception"};
}

TEST(ReportError, UserErrorsGiveTheMessageAndTheHint) {
  const auto [status, text] = report_of([] { IIS_FAIL("--epochs must be ≥ 1", "use 30"); });
  EXPECT_EQ(status, 1);
  EXPECT_EQ(text, "error: --epochs must be ≥ 1\nhint: use 30\n");
}

TEST(ReportError, InternalErrorsAskForAReport) {
  const int heads = 2;
  const auto [status, text] = report_of([&] { IIS_ASSERT(heads == 3, "heads: " << heads); });
  EXPECT_EQ(status, 3);
  EXPECT_EQ(text.rfind("internal error: heads: 2 (", 0), 0u) << text;
  EXPECT_NE(text.find("report_error_test.cpp:"), std::string::npos) << text;
  EXPECT_NE(text.find("(heads == 3)"), std::string::npos) << text;
  EXPECT_NE(text.find("\nhint: this is a bug in iis"), std::string::npos) << text;
  EXPECT_NE(text.find("please report it"), std::string::npos) << text;
}

TEST(ReportError, OtherExceptionsAreUnexpected) {
  const auto [status, text] = report_of([] { throw std::runtime_error("disk on fire"); });
  EXPECT_EQ(status, 3);
  EXPECT_EQ(text.rfind("error: disk on fire\nhint: this is unexpected", 0), 0u) << text;
  EXPECT_EQ(report_of([] { throw 7; }).first, 3);
}

}  // namespace
}  // namespace iis::tool
