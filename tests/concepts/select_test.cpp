// Tests of prototype concept selection: first, stratified, random, normalisation and errors.
#include "iis/concepts/select.hpp"

#include <torch/torch.h>

#include <set>

#include "test_support.hpp"

namespace iis::concepts {
namespace {

std::vector<int64_t> to_vec(const torch::Tensor& t) {
  auto c = t.to(torch::kInt64).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

torch::Tensor elements(int64_t m, int64_t d) {
  torch::manual_seed(3);
  return torch::randn({m, d}) * 5;
}

TEST(Concepts, FirstTakesLeadingRowsNormalised) {
  auto e = elements(10, 4);
  ConceptOptions o;
  o.num_concepts = 3;
  o.select = ConceptSelect::First;
  auto set = choose_concepts(e, {}, o);
  ASSERT_EQ(set.vectors.sizes(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(to_vec(set.element_index), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_TRUE(torch::allclose(set.vectors.norm(2, 1), torch::ones({3}), 1e-5, 1e-6));
  auto expected = e.narrow(0, 0, 3) / e.narrow(0, 0, 3).norm(2, 1, true);
  EXPECT_TRUE(torch::allclose(set.vectors, expected, 1e-5, 1e-6));
}

TEST(Concepts, DefaultIsRandomWithoutLabelsAndSeeded) {
  auto e = elements(50, 4);
  ConceptOptions o;
  o.num_concepts = 10;
  auto a = choose_concepts(e, {}, o);
  EXPECT_EQ(a.select, ConceptSelect::Random);
  auto b = choose_concepts(e, {}, o);
  EXPECT_TRUE(torch::equal(a.element_index, b.element_index));
  o.seed = 1;
  auto c = choose_concepts(e, {}, o);
  EXPECT_FALSE(torch::equal(a.element_index, c.element_index));
  std::set<int64_t> distinct;
  for (auto i : to_vec(a.element_index)) distinct.insert(i);
  EXPECT_EQ(distinct.size(), 10u);
  EXPECT_NE(to_vec(a.element_index), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(Concepts, StratifiedIsBalancedAndDefaultWithLabels) {
  // 3 classes in blocks of 40, 40, 5 rows: K=12 takes 5 from the small class only if needed;
  // balanced means 4 each.
  auto e = elements(85, 4);
  auto labels =
      torch::cat({torch::full({40}, 0, torch::kInt64), torch::full({40}, 1, torch::kInt64),
                  torch::full({5}, 2, torch::kInt64)});
  ConceptOptions o;
  o.num_concepts = 12;
  auto set = choose_concepts(e, labels, o);
  EXPECT_EQ(set.select, ConceptSelect::Stratified);
  auto per_class = torch::bincount(labels.index_select(0, set.element_index), {}, 3);
  EXPECT_EQ(to_vec(per_class), (std::vector<int64_t>{4, 4, 4}));
  // K=20: the small class runs out after 5; the other two share the rest (7 or 8 each).
  o.num_concepts = 20;
  set = choose_concepts(e, labels, o);
  per_class = torch::bincount(labels.index_select(0, set.element_index), {}, 3);
  EXPECT_EQ(per_class[2].item<int64_t>(), 5);
  EXPECT_LE(std::abs(per_class[0].item<int64_t>() - per_class[1].item<int64_t>()), 1);
  EXPECT_EQ(per_class.sum().item<int64_t>(), 20);
}

TEST(Concepts, BadInputs) {
  auto e = elements(5, 4);
  ConceptOptions o;
  o.num_concepts = 6;
  EXPECT_IIS_ERROR(choose_concepts(e, {}, o), "more than the 5 concepts given");
  o.num_concepts = 0;
  EXPECT_IIS_ERROR(choose_concepts(e, {}, o), "--num-concepts must be at least 1");
  o.num_concepts = 2;
  EXPECT_IIS_ERROR(choose_concepts(torch::zeros({0, 4}), {}, o), "concept set is empty");
  EXPECT_IIS_ERROR(choose_concepts(e, torch::zeros({4}, torch::kInt64), o),
                   "--concept-labels has 4 entries");
  o.select = ConceptSelect::Stratified;
  EXPECT_IIS_ERROR(choose_concepts(e, {}, o), "needs --concept-labels");
  EXPECT_IIS_ERROR(parse_concept_select("kmeans"), "--concept-select");
}

}  // namespace
}  // namespace iis::concepts
