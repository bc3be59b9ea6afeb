// The reader against damaged, truncated and crafted files: always an error or a valid model,
// never a crash.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <random>

#include "format/bundle_generated.h"
#include "format/bundle_header.h"
#include "format/bundle_io.h"
#include "format/crc32c.h"
#include "format/sample_bundle.h"

namespace lw::format {
namespace {

std::vector<uint8_t> sample_bytes() {
  auto bytes = write_bundle(test::make_sample_bundle());
  EXPECT_TRUE(bytes.is_ok()) << bytes.status().message();
  return bytes.is_ok() ? *bytes : std::vector<uint8_t>();
}

Result<ir::BundleModel> read_bytes(const std::vector<uint8_t>& bytes, const ReadOptions& options = {}) {
  return read_bundle(Blob::copy_of(bytes.data(), bytes.size()), options);
}

void store_u64(std::vector<uint8_t>& bytes, size_t offset, uint64_t v) {
  for (int i = 0; i < 8; ++i) bytes[offset + i] = static_cast<uint8_t>(v >> (8 * i));
}
void store_u16(std::vector<uint8_t>& bytes, size_t offset, uint16_t v) {
  bytes[offset] = static_cast<uint8_t>(v);
  bytes[offset + 1] = static_cast<uint8_t>(v >> 8);
}
void reseal_header(std::vector<uint8_t>& bytes) {
  uint32_t crc = header_crc(bytes.data());
  std::memcpy(bytes.data() + kHeaderCrcOffset, &crc, 4);
}

#define EXPECT_ERROR_WITH(result, code_, text)                                                   \
  do {                                                                                           \
    ASSERT_FALSE((result).is_ok()) << "expected an error mentioning: " << (text);               \
    EXPECT_EQ((result).status().code(), (code_)) << (result).status().message();                \
    EXPECT_NE((result).status().message().find(text), std::string::npos)                        \
        << "message: " << (result).status().message() << "\nexpected to contain: " << (text); \
  } while (0)

TEST(BundleReader, SampleIsAFewKilobytes) {
  std::vector<uint8_t> bytes = sample_bytes();
  EXPECT_GT(bytes.size(), 1000u);
  EXPECT_LT(bytes.size(), 16384u);
}

TEST(BundleReader, EveryTruncationIsAnError) {
  std::vector<uint8_t> bytes = sample_bytes();
  ASSERT_FALSE(bytes.empty());
  for (size_t len = 0; len < bytes.size(); ++len) {
    auto r = read_bundle(Blob::copy_of(bytes.data(), len));
    ASSERT_FALSE(r.is_ok()) << "truncated to " << len << " bytes but read fine";
    if (len >= 8 && len < kHeaderSize) {
      EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status().message();
    }
    if (len >= kHeaderSize) {
      EXPECT_EQ(r.status().code(), StatusCode::kParseModel);
      EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status().message();
    }
  }
}

TEST(BundleReader, TrailingBytesAreAnError) {
  std::vector<uint8_t> bytes = sample_bytes();
  bytes.push_back(0);
  auto r = read_bytes(bytes);
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "size mismatch");
}

void flip_test(uint32_t seed, int iterations, const ReadOptions& options) {
  const std::vector<uint8_t> original = sample_bytes();
  ASSERT_FALSE(original.empty());
  std::mt19937 rng(seed);
  int rejected = 0, accepted = 0;
  for (int it = 0; it < iterations; ++it) {
    std::vector<uint8_t> bytes = original;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      size_t pos = rng() % bytes.size();
      bytes[pos] ^= static_cast<uint8_t>(1 + rng() % 255);
    }
    auto r = read_bytes(bytes, options);
    if (r.is_ok()) {
      ++accepted;
      Status s = ir::verify_bundle_model(*r);
      ASSERT_TRUE(s.is_ok()) << "iteration " << it << ": accepted a model that does not verify: " << s.message();
    } else {
      ++rejected;
      ASSERT_FALSE(r.status().message().empty());
      ASSERT_TRUE(r.status().code() == StatusCode::kParseModel || r.status().code() == StatusCode::kInvalidFile)
          << r.status().message();
    }
  }
  // Most damage must be caught; without segment CRCs some data flips legitimately pass.
  EXPECT_GT(rejected, iterations / 4);
  std::printf("flips (seed %u, crc %d): %d rejected, %d accepted\n", seed, options.verify_segment_crc, rejected,
              accepted);
}

TEST(BundleReader, RandomByteFlipsGiveAnErrorOrAValidModel) { flip_test(12345, 3000, ReadOptions{}); }

TEST(BundleReader, RandomByteFlipsWithoutSegmentCrc) {
  ReadOptions options;
  options.verify_segment_crc = false;
  flip_test(777, 1500, options);
}

// Flips confined to the program, where no checksum helps: only the verifier and the field
// checks stand between the bytes and the IR.
TEST(BundleReader, RandomProgramFlipsGiveAnErrorOrAValidModel) {
  const std::vector<uint8_t> original = sample_bytes();
  auto h = decode_header(original.data(), original.size());
  ASSERT_TRUE(h.is_ok());
  std::mt19937 rng(99);
  int accepted = 0;
  for (int it = 0; it < 3000; ++it) {
    std::vector<uint8_t> bytes = original;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      size_t pos = h->program_offset + rng() % h->program_size;
      bytes[pos] ^= static_cast<uint8_t>(1 + rng() % 255);
    }
    auto r = read_bytes(bytes);
    if (r.is_ok()) {
      ++accepted;
      ASSERT_TRUE(ir::verify_bundle_model(*r).is_ok()) << "iteration " << it;
    }
  }
  std::printf("program flips: %d of 3000 accepted\n", accepted);
}

TEST(BundleReader, NotABundleIsInvalidFile) {
  std::vector<uint8_t> junk(200, 'x');
  auto r = read_bytes(junk);
  EXPECT_ERROR_WITH(r, StatusCode::kInvalidFile, "not a liveweight bundle");
  std::vector<uint8_t> onnx_like = {0x08, 0x07, 0x12, 0x04, 'l', 'w', 'w', 'w'};
  r = read_bytes(onnx_like);
  EXPECT_ERROR_WITH(r, StatusCode::kInvalidFile, "not a liveweight bundle");
  r = read_bundle(Blob{});
  EXPECT_ERROR_WITH(r, StatusCode::kInvalidFile, "not a liveweight bundle");
}

TEST(BundleReader, NewerMajorRefusedNewerMinorAccepted) {
  std::vector<uint8_t> bytes = sample_bytes();
  std::vector<uint8_t> major = bytes;
  store_u16(major, kHeaderMajorOffset, kFormatMajor + 1);
  store_u16(major, kHeaderMinorOffset, 3);
  reseal_header(major);
  auto r = read_bytes(major);
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "version 2.3");
  // ... and names this reader's version.
  EXPECT_NE(r.status().message().find(str_cat("reader's ", kFormatMajor, ".", kFormatMinor)), std::string::npos)
      << r.status().message();

  std::vector<uint8_t> minor = bytes;
  store_u16(minor, kHeaderMinorOffset, kFormatMinor + 7);
  reseal_header(minor);
  auto ok = read_bytes(minor);
  ASSERT_TRUE(ok.is_ok()) << ok.status().message();
  test::expect_models_equal(test::make_sample_bundle(), *ok);
}

TEST(BundleReader, HeaderChecksumMismatchIsNamed) {
  std::vector<uint8_t> bytes = sample_bytes();
  bytes[kHeaderFlagsOffset + 1] ^= 0x10;  // an unused flag bit, not resealed
  auto r = read_bytes(bytes);
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "header checksum mismatch");
}

TEST(BundleReader, AbsurdHeaderSizesAreRefused) {
  const std::vector<uint8_t> bytes = sample_bytes();
  struct Case {
    size_t field;
    uint64_t value;
    const char* text;
  };
  const Case cases[] = {
      {kHeaderProgramSizeOffset, uint64_t{1} << 63, "program range"},
      {kHeaderProgramSizeOffset, ~uint64_t{0}, "program range"},
      {kHeaderProgramOffset, ~uint64_t{0} - 7, "program range"},
      {kHeaderProgramOffset, 8, "program range"},  // inside the header
      {kHeaderProgramOffset, 72, "program"},  // runs into the data area or past the file
      {kHeaderProgramOffset, 68, "not a multiple of 8"},
      {kHeaderDataOffset, ~uint64_t{0} - 63, "data area"},
      {kHeaderDataSizeOffset, uint64_t{1} << 62, "data area"},
      {kHeaderDataSizeOffset, ~uint64_t{0}, "data area"},
      {kHeaderDataOffset, 64, "data area"},  // overlaps the program
      {kHeaderFileSizeOffset, uint64_t{1} << 60, "truncated"},
      {kHeaderFileSizeOffset, 100, "size mismatch"},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> bad = bytes;
    store_u64(bad, c.field, c.value);
    reseal_header(bad);
    auto r = read_bytes(bad);
    EXPECT_ERROR_WITH(r, StatusCode::kParseModel, c.text);
  }
}

TEST(BundleReader, SegmentChecksumMismatchIsNamed) {
  std::vector<uint8_t> bytes = sample_bytes();
  auto h = decode_header(bytes.data(), bytes.size());
  ASSERT_TRUE(h.is_ok());
  // The first segment ("bias") starts the data area.
  bytes[h->data_offset + 1] ^= 0x40;
  auto r = read_bytes(bytes);
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "segment 0 checksum mismatch");

  ReadOptions lax;
  lax.verify_segment_crc = false;
  auto ok = read_bytes(bytes, lax);
  ASSERT_TRUE(ok.is_ok()) << ok.status().message();
  const ir::TensorData* bias = ok->graphs[0].graph.nodes[2].attr_tensor("value");
  ASSERT_NE(bias, nullptr);
  EXPECT_NE(bias->as<float>()[0], 0.5f);  // the damage is visible, as asked
}

// ---- crafted programs: valid FlatBuffers whose fields are wrong ----

// A minimal valid bundle: graph 0 = Data x, Const c, Add(x, c) -> y; graph 1 = Data a,
// Relu(a) -> b. `tweak` edits the description before it is built.
struct Craft {
  struct V {
    std::string name;
    int32_t dtype = 0;
    bool rank_known = true;
    std::vector<int64_t> dims;
  };
  struct A {
    std::string name;
    fb::AttrKind kind = fb::AttrKind::Int;
    int64_t i = 0;
    uint32_t tensor = 0xFFFFFFFFu;
    bool with_ints = false;
  };
  struct N {
    std::string op, name;
    std::vector<int32_t> inputs, outputs;
    std::vector<A> attrs;
  };
  struct G {
    int32_t role = 0;
    std::string name;
    std::vector<V> values;
    std::vector<N> nodes;
    std::vector<int32_t> inputs, outputs;
  };
  struct C {
    int32_t dtype = 0;
    std::vector<int64_t> dims;
    uint32_t segment = 0;
  };
  struct S {
    uint64_t offset = 0, size = 0;
    bool good_crc = true;
  };
  std::vector<G> graphs;
  std::vector<C> constants;
  std::vector<S> segments;
  std::vector<uint8_t> data;
  bool is_bundle = true;

  Craft() {
    G g0;
    g0.name = "g0";
    g0.values = {{"x", 0, true, {2}}, {"c", 0, true, {2}}, {"y", 0, true, {2}}};
    A index{"index", fb::AttrKind::Int, 0};
    A value{"value", fb::AttrKind::Tensor, 0, 0};
    g0.nodes = {{"Data", "x", {}, {0}, {index}}, {"Const", "c", {}, {1}, {value}}, {"Add", "add", {0, 1}, {2}, {}}};
    g0.inputs = {0};
    g0.outputs = {2};
    G g1;
    g1.role = 3;
    g1.name = "g1";
    g1.values = {{"a", 0, true, {-1}}, {"b", 0, false, {}}};
    g1.nodes = {{"Data", "a", {}, {0}, {index}}, {"Relu", "relu", {0}, {1}, {}}};
    g1.inputs = {0};
    g1.outputs = {1};
    graphs = {g0, g1};
    constants = {{0, {2}, 0}};
    segments = {{0, 8, true}};
    data.assign(8, 0);
    float two[2] = {1.5f, -2.0f};
    std::memcpy(data.data(), two, 8);
  }

  std::vector<uint8_t> build() const {
    flatbuffers::FlatBufferBuilder fbb;
    std::vector<flatbuffers::Offset<fb::Graph>> gs;
    for (const G& g : graphs) {
      std::vector<flatbuffers::Offset<fb::Value>> vs;
      for (const V& v : g.values)
        vs.push_back(fb::CreateValue(fbb, fbb.CreateString(v.name), v.dtype, v.rank_known, fbb.CreateVector(v.dims)));
      std::vector<flatbuffers::Offset<fb::Node>> ns;
      for (const N& n : g.nodes) {
        std::vector<flatbuffers::Offset<fb::Attribute>> as;
        for (const A& a : n.attrs) {
          flatbuffers::Offset<flatbuffers::Vector<int64_t>> ints = 0;
          if (a.with_ints) ints = fbb.CreateVector(std::vector<int64_t>{1, 2});
          as.push_back(fb::CreateAttribute(fbb, fbb.CreateString(a.name), a.kind, a.i, 0.0f, 0, ints, 0, 0, a.tensor));
        }
        ns.push_back(fb::CreateNode(fbb, fbb.CreateString(n.op), fbb.CreateString(n.name), fbb.CreateVector(n.inputs),
                                    fbb.CreateVector(n.outputs), fbb.CreateVector(as)));
      }
      gs.push_back(fb::CreateGraph(fbb, g.role, fbb.CreateString(g.name), fbb.CreateVector(vs), fbb.CreateVector(ns),
                                   fbb.CreateVector(g.inputs), fbb.CreateVector(g.outputs)));
    }
    std::vector<flatbuffers::Offset<fb::Constant>> cs;
    for (const C& c : constants) cs.push_back(fb::CreateConstant(fbb, c.dtype, fbb.CreateVector(c.dims), c.segment));
    std::vector<flatbuffers::Offset<fb::Segment>> ss;
    for (const S& s : segments) {
      uint32_t crc = 0;
      if (s.offset <= data.size() && s.size <= data.size() - s.offset) crc = crc32c(data.data() + s.offset, s.size);
      ss.push_back(fb::CreateSegment(fbb, s.offset, s.size, s.good_crc ? crc : crc ^ 1));
    }
    auto program = fb::CreateProgram(fbb, fbb.CreateString("craft"), is_bundle, fbb.CreateVector(gs), 0,
                                     fbb.CreateVector(cs), fbb.CreateVector(ss));
    fb::FinishProgramBuffer(fbb, program);

    BundleHeader h;
    h.major = kFormatMajor;
    h.minor = kFormatMinor;
    h.flags = is_bundle ? kFlagIsBundle : 0;
    h.program_offset = kHeaderSize;
    h.program_size = fbb.GetSize();
    h.data_offset = (h.program_offset + h.program_size + 63) / 64 * 64;
    h.data_size = data.size();
    h.file_size = h.data_offset + h.data_size;
    std::vector<uint8_t> out(h.file_size, 0);
    encode_header(h, out.data());
    std::memcpy(out.data() + h.program_offset, fbb.GetBufferPointer(), fbb.GetSize());
    if (!data.empty()) std::memcpy(out.data() + h.data_offset, data.data(), data.size());
    return out;
  }
};

Result<ir::BundleModel> read_craft(const std::function<void(Craft&)>& tweak) {
  Craft c;
  tweak(c);
  return read_bytes(c.build());
}

TEST(BundleReaderCraft, BaselineReads) {
  auto r = read_craft([](Craft&) {});
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->producer, "craft");
  EXPECT_EQ(r->graphs[1].graph.values[1].shape, Shape::unknown_rank());
  EXPECT_EQ(r->graphs[0].graph.nodes[1].attr_tensor("value")->as<float>()[1], -2.0f);
}

TEST(BundleReaderCraft, IdsOutOfRangeAreNamed) {
  auto r = read_craft([](Craft& c) { c.graphs[0].nodes[2].inputs[1] = 99; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "graph 0 node 2: input value id 99 out of range (graph has 3 values)");
  r = read_craft([](Craft& c) { c.graphs[1].nodes[1].outputs[0] = -1; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "graph 1 node 1: output value id -1 out of range");
  r = read_craft([](Craft& c) { c.graphs[0].nodes[2].inputs[0] = -7; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "input value id -7");
  r = read_craft([](Craft& c) { c.graphs[0].outputs[0] = 3; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "graph 0: graph output value id 3 out of range");
  r = read_craft([](Craft& c) { c.graphs[1].inputs[0] = 1000000; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "graph 1: graph input value id 1000000");
  // An omitted optional input (-1) is fine as far as ids go.
  r = read_craft([](Craft& c) { c.graphs[0].nodes[2].inputs.push_back(-1); });
  EXPECT_TRUE(r.is_ok()) << r.status().message();
}

TEST(BundleReaderCraft, BadValuesAreNamed) {
  auto r = read_craft([](Craft& c) { c.graphs[0].values[2].dtype = 5; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "graph 0 value 2: dtype 5 is not a known data type");
  r = read_craft([](Craft& c) { c.graphs[0].values[2].dims = {-2}; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "graph 0 value 2: dim 0 is -2");
  r = read_craft([](Craft& c) { c.graphs[1].values[1].dims = {3}; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "unknown rank but 1 dims");
  r = read_craft([](Craft& c) { c.graphs[1].values[1] = {"b", 0, true, std::vector<int64_t>(kMaxRank + 1, 1)}; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "exceeds the limit");
  r = read_craft([](Craft& c) { c.graphs[1].role = 9; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "graph 1: role 9");
  r = read_craft([](Craft& c) { c.graphs[1].nodes[1].op = ""; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "graph 1 node 1: no op name");
}

TEST(BundleReaderCraft, BadConstantsAndSegmentsAreNamed) {
  auto r = read_craft([](Craft& c) { c.constants[0].segment = 4; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "constant 0: segment index 4 out of range (bundle has 1 segments)");
  r = read_craft([](Craft& c) { c.constants[0].dims = {3}; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "constant 0: float32 [3] needs 12 bytes but segment 0 holds 8");
  r = read_craft([](Craft& c) { c.constants[0].dims = {-1}; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "constant 0: dim 0 is -1");
  r = read_craft([](Craft& c) { c.constants[0].dims = {int64_t{1} << 40, int64_t{1} << 40}; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "constant 0");
  r = read_craft([](Craft& c) { c.constants[0].dtype = 13; });  // string: no fixed size
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "constant 0");
  r = read_craft([](Craft& c) { c.segments[0].size = 1u << 20; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "segment 0 (offset 0, size 1048576) lies outside the 8-byte data area");
  r = read_craft([](Craft& c) { c.segments[0].offset = ~uint64_t{0}; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "segment 0");
  r = read_craft([](Craft& c) {
    c.data.resize(80);
    c.segments[0].offset = 8;
  });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "segment 0 offset 8 is not a multiple of 64");
  r = read_craft([](Craft& c) { c.segments[0].good_crc = false; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "segment 0 checksum mismatch");
}

// The checksums run alongside the reading of the graphs; with both kinds of damage the
// checksum is still the one named, whatever the thread count.
TEST(BundleReaderCraft, AChecksumMismatchIsNamedBeforeOtherErrors) {
  Craft c;
  c.segments[0].good_crc = false;
  c.constants[0].dims = {-1};
  const std::vector<uint8_t> bytes = c.build();
  for (int threads : {1, 2, 4}) {
    ReadOptions options;
    options.threads = threads;
    auto r = read_bytes(bytes, options);
    EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "segment 0 checksum mismatch");
    options.verify_segment_crc = false;
    r = read_bytes(bytes, options);
    EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "constant 0: dim 0 is -1");
  }
}

TEST(BundleReaderCraft, BadAttributesAreNamed) {
  auto r = read_craft([](Craft& c) { c.graphs[0].nodes[1].attrs[0].tensor = 1; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel,
                    "graph 0 node 1 attribute 0 'value': constant index 1 out of range (bundle has 1 constants)");
  r = read_craft([](Craft& c) { c.graphs[0].nodes[0].attrs[0].kind = static_cast<fb::AttrKind>(42); });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "attribute kind 42 is not known");
  r = read_craft([](Craft& c) { c.graphs[0].nodes[0].attrs[0].with_ints = true; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "Int attribute carries a payload of another kind");
  r = read_craft([](Craft& c) { c.graphs[0].nodes[0].attrs[0].tensor = 0; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "payload of another kind");
  r = read_craft([](Craft& c) { c.graphs[0].nodes[2].attrs = {{"k", fb::AttrKind::Int, 1}, {"k", fb::AttrKind::Int, 2}}; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "graph 0 node 2 attribute 1 'k': appears twice");
  r = read_craft([](Craft& c) { c.graphs[0].nodes[2].attrs = {{"", fb::AttrKind::Int, 1}}; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "no name");
}

TEST(BundleReaderCraft, StructuralErrorsComeFromTheVerifier) {
  // Ids in range but the graph is wrong: Add reads y before it is produced.
  auto r = read_craft([](Craft& c) { c.graphs[0].nodes[2].inputs = {2, 1}; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "graph 0");
  // A Const whose tensor attribute is missing.
  r = read_craft([](Craft& c) { c.graphs[0].nodes[1].attrs.clear(); });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "tensor attribute 'value'");
  // Two producers for one value.
  r = read_craft([](Craft& c) { c.graphs[1].nodes[1].outputs = {0}; });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "produced twice");
  // A bundle needs two graphs.
  r = read_craft([](Craft& c) { c.graphs.pop_back(); });
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "at least 2 graphs");
}

TEST(BundleReaderCraft, FlagAndProgramMustAgree) {
  auto r = read_craft([](Craft& c) {
    c.is_bundle = false;
    c.graphs.pop_back();
  });
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  Craft c;
  std::vector<uint8_t> bytes = c.build();
  uint32_t flags = 0;
  std::memcpy(bytes.data() + kHeaderFlagsOffset, &flags, 4);
  reseal_header(bytes);
  auto bad = read_bytes(bytes);
  EXPECT_ERROR_WITH(bad, StatusCode::kParseModel, "is_bundle flag");
}

TEST(BundleReaderCraft, WrongFileIdentifierIsRefused) {
  Craft c;
  std::vector<uint8_t> bytes = c.build();
  // The identifier sits 4 bytes into the program.
  std::memcpy(bytes.data() + kHeaderSize + 4, "XXXX", 4);
  auto r = read_bytes(bytes);
  EXPECT_ERROR_WITH(r, StatusCode::kParseModel, "not a valid lw.fb.Program");
}

TEST(BundleReaderCraft, SharedObjectsCannotAmplify) {
  // One long string referenced by many values: small on disk, huge in memory.
  flatbuffers::FlatBufferBuilder fbb;
  auto big = fbb.CreateString(std::string(4096, 'n'));
  auto dims = fbb.CreateVector(std::vector<int64_t>{1});
  auto value = fb::CreateValue(fbb, big, 0, true, dims);
  std::vector<flatbuffers::Offset<fb::Value>> values(20000, value);
  auto g = fb::CreateGraph(fbb, 0, fbb.CreateString("g"), fbb.CreateVector(values));
  std::vector<flatbuffers::Offset<fb::Graph>> graphs = {g, g};
  fb::FinishProgramBuffer(fbb, fb::CreateProgram(fbb, 0, true, fbb.CreateVector(graphs)));
  BundleHeader h;
  h.major = kFormatMajor;
  h.flags = kFlagIsBundle;
  h.program_offset = kHeaderSize;
  h.program_size = fbb.GetSize();
  h.data_offset = (kHeaderSize + h.program_size + 63) / 64 * 64;
  h.file_size = h.data_offset;
  std::vector<uint8_t> bytes(h.file_size, 0);
  encode_header(h, bytes.data());
  std::memcpy(bytes.data() + kHeaderSize, fbb.GetBufferPointer(), fbb.GetSize());
  auto r = read_bytes(bytes);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kParseModel) << r.status().message();
}

}  // namespace
}  // namespace lw::format
