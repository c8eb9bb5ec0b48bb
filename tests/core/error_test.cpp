// Tests iis::Error, iis::InternalError, the check macros and context wrapping.
#include "iis/core/error.hpp"

#include <torch/torch.h>

#include "test_support.hpp"

namespace iis {
namespace {

TEST(Error, CheckThrowsWithMessageHintAndWhere) {
  int k = 3;
  try {
    IIS_CHECK_HINT(k < 2, "k is " << k, "use k < 2");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "k is 3");
    EXPECT_EQ(e.hint(), "use k < 2");
    EXPECT_NE(e.where().find("k < 2"), std::string::npos);
  }
}

TEST(Error, CheckPassesSilently) { EXPECT_NO_THROW(IIS_CHECK(1 + 1 == 2, "never")); }

TEST(Error, ContextPrefixesAndKeepsHint) {
  try {
    with_context("reading a.npy", [] { IIS_FAIL("bad dtype", "save as float32"); });
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "reading a.npy: bad dtype");
    EXPECT_EQ(e.hint(), "save as float32");
  }
}

TEST(Error, ContextWrapsLibTorchErrorsOnOneLine) {
  try {
    with_context("multiplying", [] { torch::mm(torch::ones({2, 3}), torch::ones({2, 3})); });
    FAIL() << "no throw";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_EQ(what.rfind("multiplying: ", 0), 0u) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

TEST(Error, AssertThrowsAnInternalErrorNotAUserError) {
  const int64_t heads = 4;
  EXPECT_NO_THROW(IIS_ASSERT(heads == 4, "never"));
  try {
    IIS_ASSERT(heads == 3, "expected 3 heads, got " << heads);
    FAIL() << "no throw";
  } catch (const Error&) {
    FAIL() << "an internal invariant must not look like a user error";
  } catch (const InternalError& e) {
    EXPECT_STREQ(e.what(), "expected 3 heads, got 4");
    EXPECT_NE(e.where().find("error_test.cpp:"), std::string::npos) << e.where();
    EXPECT_NE(e.where().find("heads == 3"), std::string::npos) << e.where();
  }
}

TEST(Error, ContextLeavesInternalErrorsAlone) {
  try {
    with_context("reading a.npy", [] { IIS_ASSERT(1 + 1 == 3, "arithmetic"); });
    FAIL() << "no throw";
  } catch (const Error& e) {
    FAIL() << "wrapped as a user error: " << e.what();
  } catch (const InternalError& e) {
    EXPECT_STREQ(e.what(), "arithmetic");
  }
}

TEST(Error, ContextValueReturnsTheValue) {
  EXPECT_EQ(with_context_value("x", [] { return 7; }), 7);
}

}  // namespace
}  // namespace iis
