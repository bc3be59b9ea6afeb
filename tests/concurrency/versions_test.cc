// Kept versions and rollback; bundle options from the native API and the aclInit config.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "concurrency/concurrency_util.h"
#include "runtime/config.h"
#include "support/test_support.h"

namespace lw {
namespace {

using test::AffineModel;

std::vector<uint8_t> bytes_of(const std::vector<Array>& out) {
  const uint8_t* p = out.at(0).data.get();
  return std::vector<uint8_t>(p, p + out.at(0).bytes);
}

TEST(Versions, RollbackRestoresEarlierOutputsExactly) {
  AffineModel m = test::make_affine_model();
  SessionOptions options;
  options.keep_versions = 2;
  auto opened = Session::open_bytes(m.bundle.data(), m.bundle.size(), options);
  ASSERT_TRUE(opened.is_ok()) << opened.status().message();
  Session& s = **opened;
  ArrayView x = test::f32_view(m.x, {1, AffineModel::kK});
  EXPECT_FALSE(s.rollback().is_ok());  // nothing kept yet
  ASSERT_TRUE(s.init().is_ok());
  auto out1 = s.infer({x});
  ASSERT_TRUE(out1.is_ok());
  ASSERT_TRUE(s.update({{"W", test::f32_view(m.w[1], {AffineModel::kK, AffineModel::kM})},
                        {"B", test::f32_view(m.b[1], {AffineModel::kM})}}).is_ok());
  auto out2 = s.infer({x});
  ASSERT_TRUE(out2.is_ok());
  EXPECT_EQ(test::first_output(*out2), test::affine_reference(m, 1, 1));
  ASSERT_TRUE(s.update({{"W", test::f32_view(m.w[2], {AffineModel::kK, AffineModel::kM})}}).is_ok());
  uint64_t v = 0;
  auto out3 = s.infer({x}, &v);
  ASSERT_TRUE(out3.is_ok());
  EXPECT_EQ(v, 3u);
  EXPECT_EQ(test::first_output(*out3), test::affine_reference(m, 2, 1));
  EXPECT_EQ(s.kept_versions(), (std::vector<uint64_t>{2, 1}));

  // Back to version 2: published as version 4 with version 2's bytes.
  auto r = s.rollback(2);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(*r, 4u);
  EXPECT_EQ(s.version(), 4u);
  auto back = s.infer({x}, &v);
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(v, 4u);
  EXPECT_EQ(bytes_of(*back), bytes_of(*out2));
  EXPECT_EQ(s.kept_versions(), (std::vector<uint64_t>{3, 2}));

  // Version 1 fell out of the two kept; the error names what is kept.
  auto gone = s.rollback(1);
  ASSERT_FALSE(gone.is_ok());
  EXPECT_NE(gone.status().message().find("[3, 2]"), std::string::npos) << gone.status().message();
  EXPECT_EQ(s.version(), 4u);

  // Forward again to version 3's weights, then rollback() restores the newest kept (4 = 2's).
  ASSERT_TRUE(s.rollback(3).is_ok());
  auto fwd = s.infer({x});
  ASSERT_TRUE(fwd.is_ok());
  EXPECT_EQ(bytes_of(*fwd), bytes_of(*out3));
  auto prev = s.rollback();
  ASSERT_TRUE(prev.is_ok());
  EXPECT_EQ(*prev, 6u);
  auto again = s.infer({x});
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(bytes_of(*again), bytes_of(*out2));

  // An update after a rollback builds on the restored weights (only W changes here).
  ASSERT_TRUE(s.update({{"W", test::f32_view(m.w[0], {AffineModel::kK, AffineModel::kM})}}).is_ok());
  auto after = s.infer({x});
  ASSERT_TRUE(after.is_ok());
  EXPECT_EQ(test::first_output(*after), test::affine_reference(m, 0, 1));
}

TEST(Versions, WithoutKeptVersionsRollbackIsRefused) {
  AffineModel m = test::make_affine_model();
  auto opened = Session::open_bytes(m.bundle.data(), m.bundle.size());
  ASSERT_TRUE(opened.is_ok());
  Session& s = **opened;
  ASSERT_TRUE(s.init().is_ok());
  ASSERT_TRUE(s.update({{"W", test::f32_view(m.w[1], {AffineModel::kK, AffineModel::kM})}}).is_ok());
  EXPECT_TRUE(s.kept_versions().empty());
  auto r = s.rollback(1);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("keep_versions"), std::string::npos) << r.status().message();
  EXPECT_EQ(s.version(), 2u);
}

TEST(Versions, InPlaceCannotKeepVersions) {
  AffineModel m = test::make_affine_model();
  SessionOptions options;
  options.in_place_updates = true;
  options.keep_versions = 1;
  auto opened = Session::open_bytes(m.bundle.data(), m.bundle.size(), options);
  ASSERT_FALSE(opened.is_ok());
  EXPECT_NE(opened.status().message().find("keep_versions"), std::string::npos) << opened.status().message();
}

std::string write_config(const std::string& name, const std::string& text) {
  std::string path = test::temp_path(name);
  std::ofstream(path) << text;
  return path;
}

TEST(Versions, ConfigReadsInPlaceAndKeepVersions) {
  auto c = rt::load_config(write_config("inplace.json", R"({"liveweight": {"in_place_updates": true}})").c_str());
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_TRUE(c->in_place_updates);
  c = rt::load_config(write_config("keep.json", R"({"liveweight": {"keep_versions": 3}})").c_str());
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_EQ(c->keep_versions, 3u);
  EXPECT_FALSE(c->in_place_updates);
  c = rt::load_config(write_config("keep_bad.json", R"({"liveweight": {"keep_versions": -1}})").c_str());
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.status().message().find("keep_versions"), std::string::npos);
  c = rt::load_config(
      write_config("both.json", R"({"liveweight": {"keep_versions": 2, "in_place_updates": true}})").c_str());
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.status().message().find("in_place_updates"), std::string::npos) << c.status().message();
}

}  // namespace
}  // namespace lw
