// The shipped concept sets and class lists by name, a file by its path, and the error that
// lists the names.
#include "iis/text/concept_sets.hpp"

#include <fstream>

#include "iis/text/lines.hpp"
#include "test_support.hpp"

namespace iis::text {
namespace {

TEST(ConceptSets, ShippedSetsAreNamedByDatasetAndClassListsByStem) {
  const std::vector<std::string> expected = {
      "cifar10",     "cifar100", "cifar100_classes", "cifar10_classes", "cub",
      "cub_classes", "imagenet", "imagenet_classes", "places365"};
  EXPECT_EQ(shipped_text_sets(), expected);
  // The installed copy (share/iis/) or the sources: the same files.
  const auto ends_with = [](const std::string& text, const std::string& end) {
    return text.size() >= end.size() &&
           text.compare(text.size() - end.size(), end.size(), end) == 0;
  };
  EXPECT_PRED2(ends_with, resolve_text_set("imagenet", "--concepts"),
               "/concepts/imagenet_filtered.txt");
  EXPECT_PRED2(ends_with, resolve_text_set("cub_classes", "--concepts"),
               "/classes/cub_classes.txt");
  EXPECT_EQ(read_lines(resolve_text_set("imagenet", "--concepts")).size(), 4751u);
  EXPECT_EQ(read_lines(resolve_text_set("imagenet_classes", "--concepts")).size(), 1000u);
}

TEST(ConceptSets, AFileIsItselfAndAnUnknownNameListsTheShippedOnes) {
  test::TempDir dir;
  const std::string file = dir / "imagenet";  // a file wins over the shipped set's name
  std::ofstream(file) << "wheels\n";
  EXPECT_EQ(resolve_text_set(file, "--concepts"), file);
  const std::string what = test::error_of([] { resolve_text_set("imagenet_filtered", "--x"); });
  EXPECT_NE(what.find("--x imagenet_filtered is neither a file nor a shipped set"),
            std::string::npos)
      << what;
  try {
    resolve_text_set("cifar", "--concepts");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.hint()).find("cifar10, cifar100, cifar100_classes"), std::string::npos)
        << e.hint();
  }
}

}  // namespace
}  // namespace iis::text
