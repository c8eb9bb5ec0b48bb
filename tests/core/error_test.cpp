// Tests iis::Error, the check macros and context wrapping.
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

TEST(Error, ContextValueReturnsTheValue) {
  EXPECT_EQ(with_context_value("x", [] { return 7; }), 7);
}

}  // namespace
}  // namespace iis
