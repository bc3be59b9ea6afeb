// NameIndex against std::map on the same names: inserts, repeats, lookups of absent names, and
// growth past the size it was made for.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "core/name_index.h"

namespace lw {
namespace {

std::vector<std::string> long_names(int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back("/features/features." + std::to_string(i % 17) + "/conv/conv." + std::to_string(i));
  return names;
}

TEST(NameIndex, AgreesWithAMap) {
  for (int made_for : {0, 10, 1000}) {  // growing from the smallest table, and not growing
    const std::vector<std::string> names = long_names(600);
    NameIndex index(static_cast<size_t>(made_for));
    std::map<std::string, int32_t> want;
    for (size_t i = 0; i < names.size(); ++i) {
      EXPECT_EQ(index.insert(names[i], static_cast<int32_t>(i)), -1) << names[i];
      want[names[i]] = static_cast<int32_t>(i);
    }
    EXPECT_EQ(index.size(), names.size());
    for (const auto& [name, value] : want) EXPECT_EQ(index.find(name), value) << name;
    // A repeat keeps the first value and reports it.
    EXPECT_EQ(index.insert(names[42], 7), 42);
    EXPECT_EQ(index.find(names[42]), 42);
    EXPECT_EQ(index.size(), names.size());
    // Absent names, including prefixes and extensions of present ones, and the empty name.
    EXPECT_EQ(index.find("/features/features.1/conv/conv."), -1);
    EXPECT_EQ(index.find(names[5] + "x"), -1);
    EXPECT_EQ(index.find(""), -1);
  }
}

TEST(NameIndex, EmptyNamesAndNegativeValues) {
  NameIndex index;
  EXPECT_EQ(index.find("a"), -1);
  EXPECT_EQ(index.insert("", 3), -1);
  EXPECT_EQ(index.find(""), 3);
  EXPECT_EQ(index.insert("b", -5), -1) << "a negative value is not stored";
  EXPECT_EQ(index.find("b"), -1);
  EXPECT_EQ(index.size(), 1u);
}

}  // namespace
}  // namespace lw
