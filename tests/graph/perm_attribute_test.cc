// ir::perm_attribute: a node's permutation attribute, its defaults, and what is refused.
#include <gtest/gtest.h>

#include <vector>

#include "graph/ops/tensor_geometry.h"

namespace lw::ir {
namespace {

Node with_perm(std::vector<int64_t> perm) {
  Node n;
  n.op = "Transpose";
  n.attrs["perm"] = std::move(perm);
  return n;
}

TEST(PermAttribute, ValueOrDefault) {
  EXPECT_EQ(perm_attribute(with_perm({1, 2, 0}), "perm", 3, true), (std::vector<int64_t>{1, 2, 0}));
  const Node none;
  EXPECT_EQ(perm_attribute(none, "perm", 3, true), (std::vector<int64_t>{2, 1, 0}));
  EXPECT_EQ(perm_attribute(none, "perm", 3, false), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_TRUE(perm_attribute(none, "perm", 0, true).empty());
}

TEST(PermAttribute, NotAPermutationIsEmpty) {
  EXPECT_TRUE(perm_attribute(with_perm({0, 0, 1}), "perm", 3, true).empty());   // repeated axis
  EXPECT_TRUE(perm_attribute(with_perm({0, 1, 3}), "perm", 3, true).empty());   // out of range
  EXPECT_TRUE(perm_attribute(with_perm({0, -1, 1}), "perm", 3, true).empty());  // negative
  EXPECT_TRUE(perm_attribute(with_perm({1, 0}), "perm", 3, true).empty());      // wrong length
}

}  // namespace
}  // namespace lw::ir
