#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "format/bundle_generated.h"
#include "format/bundle_header.h"
#include "format/bundle_io.h"
#include "format/crc32c.h"
#include "format/sample_bundle.h"
#include "support/test_support.h"

namespace lw::format {
namespace {

using test::expect_models_equal;
using test::make_sample_bundle;

Blob blob_of_bytes(const std::vector<uint8_t>& bytes) { return Blob::copy_of(bytes.data(), bytes.size()); }

TEST(BundleRoundTrip, EveryFieldSurvives) {
  ir::BundleModel model = make_sample_bundle();
  ASSERT_TRUE(ir::verify_bundle_model(model).is_ok()) << ir::verify_bundle_model(model).message();
  auto bytes = write_bundle(model);
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().message();
  auto read = read_bundle(blob_of_bytes(*bytes));
  ASSERT_TRUE(read.is_ok()) << read.status().message();
  expect_models_equal(model, *read);
  // Writing what was read gives the same bytes.
  auto again = write_bundle(*read);
  ASSERT_TRUE(again.is_ok()) << again.status().message();
  EXPECT_EQ(*bytes, *again);
}

TEST(BundleRoundTrip, WeightsVersionSurvives) {
  ir::BundleModel model = make_sample_bundle();
  model.weights_version = (uint64_t{1} << 40) + 3;  // all 64 bits are kept
  auto bytes = write_bundle(model);
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().message();
  auto read = read_bundle(blob_of_bytes(*bytes));
  ASSERT_TRUE(read.is_ok()) << read.status().message();
  EXPECT_EQ(read->weights_version, model.weights_version);
  expect_models_equal(model, *read);
}

// A format 1.0 file (written before Program.weights_version existed) reads as version 0.
TEST(BundleRoundTrip, FileWithoutWeightsVersionReadsAsZero) {
  ir::BundleModel model = make_sample_bundle();
  ASSERT_EQ(model.weights_version, 0u);
  auto bytes = write_bundle(model);
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().message();
  // FlatBuffers leaves a field at its default out of the table, so the program is what a 1.0
  // writer wrote; make the header say 1.0 as well.
  const auto* program = fb::GetProgram(bytes->data() + kHeaderSize);
  EXPECT_FALSE(reinterpret_cast<const flatbuffers::Table*>(program)->CheckField(fb::Program::VT_WEIGHTS_VERSION));
  (*bytes)[kHeaderMinorOffset] = 0;
  (*bytes)[kHeaderMinorOffset + 1] = 0;
  uint32_t crc = header_crc(bytes->data());
  std::memcpy(bytes->data() + kHeaderCrcOffset, &crc, 4);
  auto h = decode_header(bytes->data(), bytes->size());
  ASSERT_TRUE(h.is_ok()) << h.status().message();
  EXPECT_EQ(h->minor, 0);
  auto read = read_bundle(blob_of_bytes(*bytes));
  ASSERT_TRUE(read.is_ok()) << read.status().message();
  EXPECT_EQ(read->weights_version, 0u);
  expect_models_equal(model, *read);
}

TEST(BundleRoundTrip, HeaderFieldsDescribeTheFile) {
  ir::BundleModel model = make_sample_bundle();
  auto bytes = write_bundle(model);
  ASSERT_TRUE(bytes.is_ok());
  auto h = decode_header(bytes->data(), bytes->size());
  ASSERT_TRUE(h.is_ok()) << h.status().message();
  EXPECT_EQ(std::memcmp(bytes->data(), "LWBUNDLE", 8), 0);
  EXPECT_EQ(h->major, kFormatMajor);
  EXPECT_EQ(h->minor, kFormatMinor);
  EXPECT_EQ(h->flags, kFlagIsBundle);
  EXPECT_EQ(h->program_offset, kHeaderSize);
  EXPECT_EQ(h->file_size, bytes->size());
  EXPECT_EQ(h->data_offset % kSegmentAlign, 0u);
  EXPECT_EQ(h->data_offset + h->data_size, bytes->size());
  // Reserved bytes are zero.
  for (size_t i = 60; i < 64; ++i) EXPECT_EQ((*bytes)[i], 0) << i;
  EXPECT_TRUE(has_bundle_magic(bytes->data(), bytes->size()));
  EXPECT_FALSE(has_bundle_magic(bytes->data(), 7));
  EXPECT_FALSE(has_bundle_magic("LWBUNDLX", 8));
  EXPECT_FALSE(has_bundle_magic(nullptr, 0));
}

TEST(BundleRoundTrip, SegmentsAreAlignedDedupedAndChecksummed) {
  ir::BundleModel model = make_sample_bundle();
  auto bytes = write_bundle(model);
  ASSERT_TRUE(bytes.is_ok());
  auto h = decode_header(bytes->data(), bytes->size());
  ASSERT_TRUE(h.is_ok());
  const uint8_t* program_bytes = bytes->data() + h->program_offset;
  flatbuffers::Verifier verifier(program_bytes, h->program_size);
  ASSERT_TRUE(fb::VerifyProgramBuffer(verifier));
  const fb::Program* program = fb::GetProgram(program_bytes);
  ASSERT_NE(program->segments(), nullptr);
  ASSERT_NE(program->constants(), nullptr);
  // Tensors: bias, shape (=shape_again), q, flags, scale, empty, half, t_own (t = bias) in graph
  // 0; one in graph 1; w in graph 2. "shape_again" and "t" share bytes with others.
  EXPECT_EQ(program->segments()->size(), 10u);
  EXPECT_EQ(program->constants()->size(), 10u);
  for (const fb::Segment* s : *program->segments()) {
    EXPECT_EQ(s->offset() % kSegmentAlign, 0u);
    EXPECT_EQ(s->crc32c(), crc32c(bytes->data() + h->data_offset + s->offset(), s->size()));
  }

  // After reading, tensors are slices of the file on 64-byte boundaries, and deduped tensors
  // share one slice.
  Blob file = blob_of_bytes(*bytes);
  auto read = read_bundle(file);
  ASSERT_TRUE(read.is_ok()) << read.status().message();
  const ir::Graph& g = read->graphs[0].graph;
  for (const ir::Node& n : g.nodes)
    for (const auto& [key, attr] : n.attrs)
      if (const auto* t = std::get_if<ir::TensorData>(&attr)) {
        EXPECT_EQ(reinterpret_cast<uintptr_t>(t->bytes.data) % kSegmentAlign, 0u) << n.name << "." << key;
        EXPECT_GE(t->bytes.data, file.data + h->data_offset) << n.name;
        EXPECT_LE(t->bytes.data + t->bytes.size, file.data + file.size) << n.name;
        EXPECT_EQ(t->bytes.owner.get(), file.owner.get()) << n.name << ": must share the file's owner";
      }
  const ir::TensorData* shape = g.nodes[3].attr_tensor("value");
  const ir::TensorData* shape_again = g.nodes[4].attr_tensor("value");
  ASSERT_TRUE(shape && shape_again);
  EXPECT_EQ(shape->bytes.data, shape_again->bytes.data);
  const ir::TensorData* bias = g.nodes[2].attr_tensor("value");
  const ir::TensorData* t = g.nodes.back().attr_tensor("t");
  ASSERT_TRUE(bias && t);
  EXPECT_EQ(bias->bytes.data, t->bytes.data);
}

TEST(BundleRoundTrip, TensorsOutliveTheCallersBlob) {
  ir::BundleModel read_model;
  {
    auto bytes = write_bundle(make_sample_bundle());
    ASSERT_TRUE(bytes.is_ok());
    auto read = read_bundle(blob_of_bytes(*bytes));
    ASSERT_TRUE(read.is_ok());
    read_model = std::move(*read);
  }
  const ir::TensorData* bias = read_model.graphs[0].graph.nodes[2].attr_tensor("value");
  ASSERT_NE(bias, nullptr);
  EXPECT_EQ(bias->as<float>()[1], -1.25f);
}

TEST(BundleRoundTrip, UnalignedBufferIsCopiedAndStillReads) {
  auto bytes = write_bundle(make_sample_bundle());
  ASSERT_TRUE(bytes.is_ok());
  std::vector<uint8_t> padded(bytes->size() + 3);
  std::memcpy(padded.data() + 3, bytes->data(), bytes->size());
  Blob base = Blob::copy_of(padded.data(), padded.size());
  Blob shifted = base.slice(3, bytes->size());
  auto read = read_bundle(shifted);
  ASSERT_TRUE(read.is_ok()) << read.status().message();
  expect_models_equal(make_sample_bundle(), *read);
  const ir::TensorData* bias = read->graphs[0].graph.nodes[2].attr_tensor("value");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(bias->bytes.data) % kSegmentAlign, 0u);
}

TEST(BundleRoundTrip, MappedFileEqualsCopiedBuffer) {
  ir::BundleModel model = make_sample_bundle();
  std::string path = test::temp_path("sample.om");
  ASSERT_TRUE(write_bundle_file(model, path).is_ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  auto mapped = map_file(path);
  ASSERT_TRUE(mapped.is_ok()) << mapped.status().message();
  std::vector<uint8_t> raw = test::read_file_bytes(path);
  ASSERT_EQ(raw.size(), mapped->size);
  EXPECT_EQ(std::memcmp(raw.data(), mapped->data, raw.size()), 0);
  auto written = write_bundle(model);
  ASSERT_TRUE(written.is_ok());
  EXPECT_EQ(raw, *written);

  auto from_map = read_bundle(*mapped);
  auto from_copy = read_bundle(blob_of_bytes(raw));
  ASSERT_TRUE(from_map.is_ok()) << from_map.status().message();
  ASSERT_TRUE(from_copy.is_ok()) << from_copy.status().message();
  expect_models_equal(*from_map, *from_copy);
  expect_models_equal(model, *from_map);
  // Mapped tensors point into the mapping itself (no copy).
  const ir::TensorData* w = from_map->graphs[2].graph.nodes[0].attr_tensor("value");
  ASSERT_NE(w, nullptr);
  EXPECT_GE(w->bytes.data, mapped->data);
  EXPECT_LT(w->bytes.data, mapped->data + mapped->size);
  std::filesystem::remove(path);
}

TEST(BundleRoundTrip, PlainModelWithOneGraph) {
  ir::BundleModel model;
  model.is_bundle = false;
  model.producer = "";
  ir::Graph g;
  g.name = "plain";
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape({2}));
  ir::ValueId y = g.add_value("y", DType::kFloat32, Shape({2}));
  ir::Node relu;
  relu.op = "Relu";
  relu.name = "relu";
  relu.inputs = {x};
  relu.outputs = {y};
  g.add_node(std::move(relu));
  g.outputs = {y};
  model.graphs.push_back({ir::GraphRole::kInference, std::move(g)});
  auto bytes = write_bundle(model);
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().message();
  auto h = decode_header(bytes->data(), bytes->size());
  ASSERT_TRUE(h.is_ok());
  EXPECT_EQ(h->flags & kFlagIsBundle, 0u);
  EXPECT_EQ(h->data_size, 0u);
  auto read = read_bundle(blob_of_bytes(*bytes));
  ASSERT_TRUE(read.is_ok()) << read.status().message();
  expect_models_equal(model, *read);
}

TEST(BundleWriter, RefusesAnInvalidModel) {
  ir::BundleModel model = make_sample_bundle();
  model.variables.pop_back();  // steps_var is used but no longer described
  auto bytes = write_bundle(model);
  ASSERT_FALSE(bytes.is_ok());
  EXPECT_EQ(bytes.status().code(), StatusCode::kParseModel);
  EXPECT_NE(bytes.status().message().find("steps_var"), std::string::npos) << bytes.status().message();
}

TEST(BundleWriter, RefusesATensorAttributeOfTheWrongSize) {
  ir::BundleModel model = make_sample_bundle();
  ir::Node& custom = model.graphs[0].graph.nodes.back();
  ir::TensorData bad;
  bad.dtype = DType::kFloat32;
  bad.dims = {5};
  bad.bytes = test::blob_of<float>({1, 2, 3});
  custom.attrs["bad"] = bad;
  auto bytes = write_bundle(model);
  ASSERT_FALSE(bytes.is_ok());
  EXPECT_NE(bytes.status().message().find("attribute 'bad'"), std::string::npos) << bytes.status().message();
  EXPECT_NE(bytes.status().message().find("'custom'"), std::string::npos) << bytes.status().message();
}

TEST(BundleWriter, FileErrorsNameThePathAndReason) {
  std::string path = test::temp_path("no_such_dir") + "/x.om";
  Status s = write_bundle_file(make_sample_bundle(), path);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), StatusCode::kWriteFile);
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("No such file or directory"), std::string::npos) << s.message();
}

TEST(BundleWriter, ReplacesAnExistingFile) {
  std::string path = test::temp_path("replace.om");
  { std::ofstream(path) << "old contents"; }
  ASSERT_TRUE(write_bundle_file(make_sample_bundle(), path).is_ok());
  auto mapped = map_file(path);
  ASSERT_TRUE(mapped.is_ok());
  EXPECT_TRUE(read_bundle(*mapped).is_ok());
  std::filesystem::remove(path);
}

TEST(MapFile, MissingEmptyAndDirectoryAreInvalidFile) {
  std::string missing = test::temp_path("missing.om");
  auto r = map_file(missing);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidFile);
  EXPECT_NE(r.status().message().find(missing), std::string::npos);
  EXPECT_NE(r.status().message().find("No such file or directory"), std::string::npos) << r.status().message();

  std::string empty = test::temp_path("empty.om");
  { std::ofstream(empty).flush(); }
  r = map_file(empty);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidFile);
  EXPECT_NE(r.status().message().find("empty"), std::string::npos) << r.status().message();
  std::filesystem::remove(empty);

  std::string dir = test::temp_path("a_dir");
  std::filesystem::create_directories(dir);
  r = map_file(dir);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidFile);
  std::filesystem::remove(dir);

  if (::geteuid() != 0) {  // root reads anything
    std::string unreadable = test::temp_path("unreadable.om");
    { std::ofstream(unreadable) << "x"; }
    ::chmod(unreadable.c_str(), 0);
    r = map_file(unreadable);
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("Permission denied"), std::string::npos) << r.status().message();
    std::filesystem::remove(unreadable);
  }
}

}  // namespace
}  // namespace lw::format
