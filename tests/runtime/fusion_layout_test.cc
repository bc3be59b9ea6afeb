// Epilogue fusion, channels-last activations and packed weights against naive loops:
// Conv -> Relu -> Conv -> Add(residual) -> Relu, Conv -> Clip, Gemm -> Relu, with weights as
// Consts (packed by the kernel) and as Variables (packed by the store through Assign), and a
// refresh after packing.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernels/blocked_grouped_conv.h"
#include "backends/cpu/kernels/grouped_conv.h"
#include "backends/cpu/kernels/packed_gemm.h"
#include "backends/cpu/kernels/skinny_gemm.h"
#include "compiler/passes/conv_layout.h"
#include "compiler/passes/epilogue_fusion.h"
#include "graph/op_registry.h"
#include "runtime/plan.h"
#include "support/float_data.h"
#include "support/matmul_layout.h"
#include "support/graph_builder.h"
#include "support/naive_conv.h"

namespace lw::rt {
namespace {

void relu(std::vector<float>& v) {
  for (float& x : v) x = std::max(x, 0.0f);
}

using test::max_diff;
using test::naive_conv;
using test::random_vec;
using test::tensor;
using test::add_op;

constexpr int64_t kC = 16, kH = 8;

// A 3x3, pad-1, kC -> kC Conv of `in` with Const weights `wv` and bias `bv`, output `name`.
ir::ValueId conv3x3(ir::Graph& g, ir::ValueId in, const std::vector<float>& wv, const std::vector<float>& bv,
                    const std::string& name) {
  return add_op(g, "Conv",
                {in, g.add_const(name + "_w", tensor(wv, {kC, kC, 3, 3})), g.add_const(name + "_b", tensor(bv, {kC}))},
                name, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
}

// Writes `values` into the store's Variables of those names as an init graph does (Assign
// steps), so that they go through the layouts the plans asked for.
void write_through_init(VariableStore& store, const std::map<std::string, std::vector<float>>& values) {
  ir::Graph init;
  init.name = "init";
  for (const auto& [name, v] : values) {
    const VariableSlot& s = store.slots()[static_cast<size_t>(store.find(name))];
    init.add_assign(init.add_variable(name, DType::kFloat32, s.dims), init.add_const(name + "_c", tensor(v, s.dims)),
                    false, name + "_assign");
  }
  ASSERT_TRUE(ir::infer_graph_types(init).is_ok());
  auto p = Plan::create(init, store, 2);
  ASSERT_TRUE(p.is_ok()) << p.status().message();
  auto update = store.begin_update();
  Status st = (*p)->run(update->base(), {}, {}, update.get());
  ASSERT_TRUE(st.is_ok()) << st.message();
  store.commit(std::move(update));
}

struct Weights {
  std::vector<float> w1 = random_vec(kC * kC * 9, 1, 0.1f), b1 = random_vec(kC, 2, 0.1f);
  std::vector<float> w2 = random_vec(kC * kC * 9, 3, 0.1f), b2 = random_vec(kC, 4, 0.1f);
};

// x -> Conv1 -> Relu (a) -> Conv2 -> Add(a) -> Relu -> y
std::vector<float> reference(const std::vector<float>& x, const Weights& w) {
  auto a = naive_conv(x, w.w1, w.b1, kC, kC, kH, 3);
  relu(a);
  auto y = naive_conv(a, w.w2, w.b2, kC, kC, kH, 3);
  for (size_t i = 0; i < y.size(); ++i) y[i] += a[i];
  relu(y);
  return y;
}

// The residual block; weights come from `weight(name, data, dims)`.
template <typename MakeWeight>
ir::Graph residual_block(MakeWeight weight, const Weights& w) {
  ir::Graph g;
  g.name = "block";
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, kC, kH, kH}));
  std::map<std::string, ir::Attribute> conv_attrs = {{"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  ir::ValueId c1 = add_op(g, "Conv", {x, weight(g, "w1", w.w1, Dims{kC, kC, 3, 3}), weight(g, "b1", w.b1, Dims{kC})}, "c1",
                          conv_attrs);
  ir::ValueId a = add_op(g, "Relu", {c1}, "a");
  ir::ValueId c2 = add_op(g, "Conv", {a, weight(g, "w2", w.w2, Dims{kC, kC, 3, 3}), weight(g, "b2", w.b2, Dims{kC})}, "c2",
                          conv_attrs);
  ir::ValueId s = add_op(g, "Add", {c2, a}, "s");
  ir::ValueId y = add_op(g, "Relu", {s}, "y");
  g.outputs = {y};
  return g;
}

std::vector<float> run_plan(const Plan& plan, const WeightSnapshot& weights, const std::vector<float>& x) {
  std::vector<float> y(static_cast<size_t>(kC * kH * kH));
  Status s = plan.run(weights, {x.data()}, {y.data()}, nullptr);
  EXPECT_TRUE(s.is_ok()) << s.message();
  return y;
}

TEST(EpilogueFusion, FusesConvAddReluChains) {
  Weights w;
  ir::Graph g = residual_block([](ir::Graph& g, const std::string& n, const std::vector<float>& v, Dims d) {
    return g.add_const(n, tensor(v, d));
  }, w);
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  EXPECT_EQ(passes::fuse_epilogues(g), 3);  // Relu into conv1; Add and Relu into conv2
  int convs = 0, gone = 0;
  for (const ir::Node& n : g.nodes) {
    if (n.op == "Conv") ++convs;
    if (n.op == passes::kOpFusedAway) ++gone;
  }
  EXPECT_EQ(convs, 2);
  EXPECT_EQ(gone, 3);
  // The fused conv2 writes the graph output and moved to the last position.
  const ir::Node& last = g.nodes[static_cast<size_t>(g.value(g.outputs[0]).producer)];
  EXPECT_EQ(last.op, "Conv");
  EXPECT_EQ(last.attr_int(passes::kAttrResidual, 0), 1);
  EXPECT_EQ(last.attr_string(passes::kAttrActivation, ""), "Relu");
  EXPECT_EQ(last.inputs.size(), 4u);
}

TEST(EpilogueFusion, LeavesSharedIntermediatesAlone) {
  ir::Graph g;
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{2, 4}));
  ir::ValueId b = g.add_const("b", tensor(random_vec(16, 5), Dims{4, 4}));
  ir::ValueId m = add_op(g, "MatMul", {x, b}, "m");
  ir::ValueId r = add_op(g, "Relu", {m}, "r");
  g.outputs = {r, m};  // m is also a graph output: Relu must stay
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  EXPECT_EQ(passes::fuse_epilogues(g), 0);
}

TEST(FusedPlan, ConstWeightsMatchNaiveLoops) {
  Weights w;
  ir::Graph g = residual_block([](ir::Graph& g, const std::string& n, const std::vector<float>& v, Dims d) {
    return g.add_const(n, tensor(v, d));
  }, w);
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  VariableStore store({});
  auto plan = Plan::create(g, store, 2);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  auto x = random_vec(static_cast<size_t>(kC * kH * kH), 9);
  auto y = run_plan(**plan, *store.current(), x);
  EXPECT_LT(max_diff(y, reference(x, w)), 1e-4f);
}

// Variables: the inference plan packs the conv weights in the store; an init graph writes
// them through Assign (packing), and a refresh of one weight takes effect.
TEST(FusedPlan, PackedVariablesMatchNaiveLoopsAndRefresh) {
  Weights w;
  std::vector<VariableSlot> slots;
  for (auto [name, dims] : std::vector<std::pair<std::string, Dims>>{
           {"w1", {kC, kC, 3, 3}}, {"b1", {kC}}, {"w2", {kC, kC, 3, 3}}, {"b2", {kC}}})
    slots.push_back({name, DType::kFloat32, dims, *element_count(dims) * 4});
  VariableStore store(slots);
  ir::Graph infer = residual_block([](ir::Graph& g, const std::string& n, const std::vector<float>&, Dims d) {
    return g.add_variable(n, DType::kFloat32, d);
  }, w);
  ASSERT_TRUE(ir::infer_graph_types(infer).is_ok());
  auto plan = Plan::create(infer, store, 2);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  ASSERT_NE(store.layout(store.find("w1")), nullptr) << "the conv weight should be held packed";
  EXPECT_EQ(store.layout(store.find("b1")), nullptr);
  // What decides how a refresh writes them (store_mode_for): one read per output position.
  EXPECT_EQ(store.reads_per_run(store.find("w1")), static_cast<uint64_t>(kH * kH));
  EXPECT_EQ(store.reads_per_run(store.find("b1")), 1u);

  auto write = [&](const std::map<std::string, std::vector<float>>& values) { write_through_init(store, values); };
  write({{"w1", w.w1}, {"b1", w.b1}, {"w2", w.w2}, {"b2", w.b2}});
  auto x = random_vec(static_cast<size_t>(kC * kH * kH), 11);
  EXPECT_LT(max_diff(run_plan(**plan, *store.current(), x), reference(x, w)), 1e-4f);

  auto pinned = store.current();
  Weights w_new = w;
  w_new.w2 = random_vec(w.w2.size(), 21, 0.1f);
  write({{"w2", w_new.w2}});
  EXPECT_LT(max_diff(run_plan(**plan, *store.current(), x), reference(x, w_new)), 1e-4f);
  // The pinned snapshot still computes with the old weights.
  EXPECT_LT(max_diff(run_plan(**plan, *pinned, x), reference(x, w)), 1e-4f);
}

// Grouped convolutions with Variable weights (ResNeXt's kind: groups of 4 inputs to 4 outputs,
// then 2 groups of 16), which grouped_conv.h runs on AVX-512 (blocked_grouped_conv.h on AVX2) from
// weights the store holds in its output vectors: written through Assign, refreshed, and a pinned
// snapshot keeps the old ones.
TEST(FusedPlan, GroupedConvVariablesMatchNaiveLoopsAndRefresh) {
  constexpr int64_t kCh = 32, kSide = 9;
  const std::map<std::string, std::pair<int64_t, Dims>> shapes = {
      {"w1", {8, {kCh, 4, 3, 3}}}, {"b1", {0, {kCh}}}, {"w2", {2, {kCh, 16, 3, 3}}}, {"b2", {0, {kCh}}}};
  std::vector<VariableSlot> slots;
  std::map<std::string, std::vector<float>> values;
  uint32_t seed = 30;
  for (const auto& [name, shape] : shapes) {
    slots.push_back({name, DType::kFloat32, shape.second, *element_count(shape.second) * 4});
    values[name] = random_vec(static_cast<size_t>(*element_count(shape.second)), seed++, 0.2f);
  }
  VariableStore store(slots);
  ir::Graph g;
  g.name = "grouped";
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, kCh, kSide, kSide}));
  auto conv = [&](ir::ValueId in, const std::string& w, const std::string& b, const std::string& name) {
    return add_op(g, "Conv",
                  {in, g.add_variable(w, DType::kFloat32, shapes.at(w).second),
                   g.add_variable(b, DType::kFloat32, shapes.at(b).second)},
                  name, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"group", shapes.at(w).first}});
  };
  ir::ValueId a = add_op(g, "Relu", {conv(x, "w1", "b1", "c1")}, "a");
  g.outputs = {conv(a, "w2", "b2", "y")};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  auto plan = Plan::create(g, store, 2);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  if (cpu::grouped_conv_supported() || cpu::blocked_grouped_conv_supported()) {
    ASSERT_NE(store.layout(store.find("w1")), nullptr) << "the grouped weights should be held packed";
    ASSERT_NE(store.layout(store.find("w2")), nullptr);
  }
  auto reference = [&](const std::vector<float>& in, const std::map<std::string, std::vector<float>>& v) {
    auto mid = naive_conv(in, v.at("w1"), v.at("b1"), kCh, kCh, kSide, 3, 8);
    relu(mid);
    return naive_conv(mid, v.at("w2"), v.at("b2"), kCh, kCh, kSide, 3, 2);
  };
  auto run = [&](const WeightSnapshot& weights, const std::vector<float>& in) {
    std::vector<float> y(static_cast<size_t>(kCh * kSide * kSide));
    Status st = (*plan)->run(weights, {in.data()}, {y.data()}, nullptr);
    EXPECT_TRUE(st.is_ok()) << st.message();
    return y;
  };
  write_through_init(store, values);
  const auto in = random_vec(static_cast<size_t>(kCh * kSide * kSide), 39);
  EXPECT_LT(max_diff(run(*store.current(), in), reference(in, values)), 1e-4f);

  auto pinned = store.current();
  auto refreshed = values;
  refreshed["w1"] = random_vec(values["w1"].size(), 40, 0.2f);
  refreshed["w2"] = random_vec(values["w2"].size(), 41, 0.2f);
  write_through_init(store, {{"w1", refreshed["w1"]}, {"w2", refreshed["w2"]}});
  EXPECT_LT(max_diff(run(*store.current(), in), reference(in, refreshed)), 1e-4f);
  EXPECT_LT(max_diff(run(*pinned, in), reference(in, values)), 1e-4f);
}

// A 3 x 3 convolution of 32 channels between two others, so that its activations are blocked:
// where they are 8-channel blocks (AVX2, or LW_CPU_ACTIVATION_LAYOUT=blocked8) it runs by
// Winograd, whose kernel keeps the filters it transformed for as long as the weights'
// generation stays the same. Its weight "w2" is a Variable, written by a plan of one Assign.
class WinogradBlock {
 public:
  static constexpr int64_t kChannels = 32, kSize = 8;
  // Three versions of w2, and each one's expected output for x.
  const std::vector<std::vector<float>> versions = {weights(84), weights(85), weights(86)};
  const std::vector<float> x = random_vec(static_cast<size_t>(kChannels * kSize * kSize), 87);
  std::vector<std::vector<float>> want;

  explicit WinogradBlock(StoreOptions options)
      : store_({{"w2", DType::kFloat32, dims_, static_cast<uint64_t>(kChannels * kChannels * 9 * 4)}}, options) {
    ir::Graph g;
    ir::ValueId in = g.add_data("x", DType::kFloat32, Shape(Dims{1, kChannels, kSize, kSize}));
    ir::ValueId a = add_op(g, "Relu", {conv(g, in, g.add_const("w1", tensor(w1_, dims_)), "c1")}, "a");
    ir::ValueId m = add_op(g, "Relu", {conv(g, a, g.add_variable("w2", DType::kFloat32, dims_), "c2")}, "m");
    g.outputs = {conv(g, m, g.add_const("w3", tensor(w3_, dims_)), "c3")};
    EXPECT_TRUE(ir::infer_graph_types(g).is_ok());
    auto plan = Plan::create(g, store_, 2);
    EXPECT_TRUE(plan.is_ok()) << plan.status().message();
    if (plan.is_ok()) plan_ = std::move(*plan);
    ir::Graph write;
    write.name = "write";
    ir::ValueId value = write.add_data("w2_in", DType::kFloat32, Shape(dims_));
    write.add_assign(write.add_variable("w2", DType::kFloat32, dims_), value, false, "w2_assign");
    EXPECT_TRUE(ir::infer_graph_types(write).is_ok());
    auto writer = Plan::create(write, store_, 2);
    EXPECT_TRUE(writer.is_ok()) << writer.status().message();
    if (writer.is_ok()) writer_ = std::move(*writer);
    for (const auto& w2 : versions) {
      auto y = naive_conv(x, w1_, b_, kChannels, kChannels, kSize, 3);
      relu(y);
      y = naive_conv(y, w2, b_, kChannels, kChannels, kSize, 3);
      relu(y);
      want.push_back(naive_conv(y, w3_, b_, kChannels, kChannels, kSize, 3));
    }
  }
  bool ready() const { return plan_ && writer_; }
  VariableStore& store() { return store_; }

  void write(size_t version) {
    auto update = store_.begin_update();
    Status st = writer_->run(update->base(), {versions[version].data()}, {}, update.get());
    EXPECT_TRUE(st.is_ok()) << st.message();
    store_.commit(std::move(update));
  }
  std::vector<float> run(const WeightSnapshot& weights) const {
    std::vector<float> y(static_cast<size_t>(kChannels * kSize * kSize));
    Status st = plan_->run(weights, {x.data()}, {y.data()}, nullptr);
    EXPECT_TRUE(st.is_ok()) << st.message();
    return y;
  }
  // Which version `y` is the output of, or -1.
  int version_of(const std::vector<float>& y) const {
    for (size_t v = 0; v < want.size(); ++v)
      if (max_diff(y, want[v]) < 1e-4f) return static_cast<int>(v);
    return -1;
  }

 private:
  static std::vector<float> weights(uint32_t seed) { return random_vec(kChannels * kChannels * 9, seed, 0.1f); }
  ir::ValueId conv(ir::Graph& g, ir::ValueId in, ir::ValueId w, const std::string& name) const {
    return add_op(g, "Conv", {in, w, g.add_const(name + "_b", tensor(b_, {kChannels}))}, name,
                  {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  }
  const Dims dims_{kChannels, kChannels, 3, 3};
  const std::vector<float> w1_ = weights(81), w3_ = weights(82), b_ = random_vec(kChannels, 83, 0.1f);
  VariableStore store_;
  std::unique_ptr<Plan> plan_, writer_;
};

// Every version of the weight gives its own result: refreshes, runs on a pinned older snapshot
// in between, and in-place refreshes of the live buffer.
TEST(FusedPlan, WinogradFiltersFollowEveryWeightVersion) {
  for (bool in_place : {false, true}) {
    SCOPED_TRACE(in_place ? "in place" : "copy-on-write");
    StoreOptions options;
    options.in_place = in_place;
    WinogradBlock block(options);
    ASSERT_TRUE(block.ready());
    block.write(0);
    EXPECT_EQ(block.version_of(block.run(*block.store().current())), 0);
    EXPECT_EQ(block.version_of(block.run(*block.store().current())), 0) << "second run, kept filters";
    std::shared_ptr<const WeightSnapshot> pinned = in_place ? nullptr : block.store().current();
    block.write(1);
    EXPECT_EQ(block.version_of(block.run(*block.store().current())), 1) << "after a refresh";
    if (pinned) {
      EXPECT_EQ(block.version_of(block.run(*pinned)), 0) << "the pinned older version";
      EXPECT_EQ(block.version_of(block.run(*block.store().current())), 1) << "the current one again";
      pinned.reset();
    }
    block.write(2);
    EXPECT_EQ(block.version_of(block.run(*block.store().current())), 2) << "after a second refresh";
  }
}

// Inferences on three threads while a fourth refreshes the weight over and over: each result is
// that of the version its snapshot holds (the kept filters are shared, replaced and reused
// across threads).
TEST(FusedPlan, WinogradFiltersUnderConcurrentRefreshes) {
  WinogradBlock block(StoreOptions{});
  ASSERT_TRUE(block.ready());
  block.write(0);
  std::map<uint64_t, int> version_of_snapshot = {{block.store().current()->version, 0}};
  std::mutex mu;
  std::atomic<bool> done{false};
  std::atomic<int> wrong{0}, runs{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t)
    readers.emplace_back([&] {
      while (!done.load()) {
        auto snapshot = block.store().current();
        const int got = block.version_of(block.run(*snapshot));
        std::lock_guard<std::mutex> lock(mu);
        auto want = version_of_snapshot.find(snapshot->version);
        if (want == version_of_snapshot.end() || got != want->second) ++wrong;
        ++runs;
      }
    });
  for (int i = 1; i <= 30; ++i) {
    {
      // Recorded before the snapshot is published, so a reader always finds it.
      std::lock_guard<std::mutex> lock(mu);
      version_of_snapshot[block.store().current()->version + 1] = i % 3;
    }
    block.write(static_cast<size_t>(i % 3));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  done = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(wrong.load(), 0) << "of " << runs.load() << " runs";
  EXPECT_GT(runs.load(), 3);
}

// A Variable read by two convolutions stays plain; both convs reorder it at run time.
TEST(FusedPlan, SharedWeightStaysPlain) {
  Weights w;
  w.w2 = w.w1;
  w.b2 = w.b1;
  VariableStore store({{"w", DType::kFloat32, {kC, kC, 3, 3}, static_cast<uint64_t>(kC * kC * 9 * 4)},
                       {"b", DType::kFloat32, {kC}, static_cast<uint64_t>(kC * 4)}});
  ir::Graph g = residual_block([](ir::Graph& g, const std::string& n, const std::vector<float>&, Dims d) {
    std::string name = n.substr(0, 1);
    ir::ValueId v = g.find_value(name);
    return v != ir::kNoValue ? v : g.add_variable(name, DType::kFloat32, d);
  }, w);
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  auto plan = Plan::create(g, store, 1);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  EXPECT_EQ(store.layout(store.find("w")), nullptr);
  auto update = store.begin_update();
  auto wb = update->stage(store.find("w"));
  auto bb = update->stage(store.find("b"));
  ASSERT_TRUE(wb.is_ok() && bb.is_ok());
  std::memcpy((*wb)->data(), w.w1.data(), w.w1.size() * 4);
  std::memcpy((*bb)->data(), w.b1.data(), w.b1.size() * 4);
  store.commit(std::move(update));
  auto x = random_vec(static_cast<size_t>(kC * kH * kH), 13);
  EXPECT_LT(max_diff(run_plan(**plan, *store.current(), x), reference(x, w)), 1e-4f);
}

TEST(FusedPlan, ConvClipAndGemmReluMatchNaiveLoops) {
  ir::Graph g;
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, 3, 5, 5}));
  auto w = random_vec(4 * 3, 31), b = random_vec(4, 32);
  ir::ValueId c = add_op(g, "Conv", {x, g.add_const("w", tensor(w, {4, 3, 1, 1})), g.add_const("b", tensor(b, {4}))}, "c");
  float lo_v = 0.0f, hi_v = 0.5f;
  ir::ValueId lo = g.add_const("lo", {DType::kFloat32, {}, Blob::copy_of(&lo_v, 4)});
  ir::ValueId hi = g.add_const("hi", {DType::kFloat32, {}, Blob::copy_of(&hi_v, 4)});
  ir::ValueId y = add_op(g, "Clip", {c, lo, hi}, "y");
  ir::ValueId fl = add_op(g, "Flatten", {y}, "f");
  auto gw = random_vec(100 * 7, 33), gb = random_vec(7, 34);
  ir::ValueId gm = add_op(g, "Gemm", {fl, g.add_const("gw", tensor(gw, {100, 7})), g.add_const("gb", tensor(gb, {7}))}, "gm");
  ir::ValueId out = add_op(g, "Relu", {gm}, "out");
  g.outputs = {out};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  VariableStore store({});
  auto plan = Plan::create(g, store, 2);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  auto xv = random_vec(75, 35);
  std::vector<float> got(7);
  ASSERT_TRUE((*plan)->run(*store.current(), {xv.data()}, {got.data()}, nullptr).is_ok());

  auto cy = naive_conv(xv, w, b, 3, 4, 5, 1);
  for (float& v : cy) v = std::min(std::max(v, lo_v), hi_v);
  std::vector<float> want(7);
  for (int j = 0; j < 7; ++j) {
    double acc = gb[static_cast<size_t>(j)];
    for (int k = 0; k < 100; ++k) acc += double(cy[static_cast<size_t>(k)]) * gw[static_cast<size_t>(k * 7 + j)];
    want[static_cast<size_t>(j)] = std::max(static_cast<float>(acc), 0.0f);
  }
  EXPECT_LT(max_diff(got, want), 1e-4f);
  bool any_negative_pre = false;
  for (int j = 0; j < 7; ++j) {
    double acc = gb[static_cast<size_t>(j)];
    for (int k = 0; k < 100; ++k) acc += double(cy[static_cast<size_t>(k)]) * gw[static_cast<size_t>(k * 7 + j)];
    any_negative_pre = any_negative_pre || acc < 0;
  }
  EXPECT_TRUE(any_negative_pre) << "the data should exercise the fused Relu";
}

// Gemm (transB) with its B as a Variable (held in oneDNN's blocked layout, written through
// blocked_pack's transposing tile copy) written through Assign, then refreshed; MatMul with a
// Const B packed by the kernel.
// AVX-512: both row counts run on packed_gemm (its 8 x 48 and 6 x 64 blocks); AVX2: 8 rows on
// oneDNN's matmul or skinny_gemm, 40 on oneDNN's or packed_gemm.
class PackedWeights : public ::testing::TestWithParam<int64_t> {};

TEST_P(PackedWeights, GemmAndMatMulMatchNaiveLoops) {
  const int64_t m = GetParam();
  constexpr int64_t k = 64, n = 48;
  VariableStore store({{"B", DType::kFloat32, {n, k}, static_cast<uint64_t>(n * k * 4)}});
  ir::Graph g;
  ir::ValueId a = g.add_data("a", DType::kFloat32, Shape(Dims{m, k}));
  ir::ValueId bv = g.add_variable("B", DType::kFloat32, {n, k});
  ir::ValueId h = add_op(g, "Gemm", {a, bv}, "h", {{"transB", int64_t{1}}});
  ir::ValueId r = add_op(g, "Relu", {h}, "r");
  auto c = random_vec(static_cast<size_t>(n * 5), 41);
  ir::ValueId y = add_op(g, "MatMul", {r, g.add_const("C", tensor(c, {n, 5}))}, "y");
  g.outputs = {y};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  auto plan = Plan::create(g, store, 2);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  EXPECT_EQ(store.reads_per_run(0), static_cast<uint64_t>(m)) << "one read per row of A";
  // B is in packed_gemm's panels for its AVX-512 path; on AVX2 packed where oneDNN's matmul
  // wants blocks, and held as given, [n, k], where its choice has none (transposing it to [k, n]
  // would only slow the matmul down), unless packed_gemm takes the product (more rows than
  // skinny_gemm's), which holds B in panels.
  if (cpu::avx512_allowed()) {
    ASSERT_NE(store.layout(0), nullptr) << "B should be held in packed_gemm's panels";
    const cpu::GemmPath path = cpu::packed_gemm_weight_path(m, n);
    EXPECT_EQ(path, cpu::GemmPath::kAvx512x48) << "8 rows, or 48 columns: one 48-column panel";
    EXPECT_EQ(store.layout(0)->key,
              cpu::make_weight_packing(cpu::plain_desc({n, k}), cpu::packed_gemm_b_desc(k, n, true, path))->key);
  } else if (test::matmul_prefers_blocked_b(m, k, n)) {
    EXPECT_NE(store.layout(0), nullptr) << "B should be held in oneDNN's blocked layout";
  } else if (m > cpu::kSkinnyGemmMaxRows && cpu::packed_gemm_supported()) {
    ASSERT_NE(store.layout(0), nullptr) << "B should be held in packed_gemm's panels";
    EXPECT_EQ(store.layout(0)->key, cpu::make_weight_packing(cpu::plain_desc({n, k}), cpu::packed_gemm_b_desc(k, n, true))->key);
  } else {
    EXPECT_EQ(store.layout(0), nullptr) << "B should stay as the caller holds it";
  }

  auto write = [&](const std::vector<float>& b) { write_through_init(store, {{"B", b}}); };
  auto reference = [&](const std::vector<float>& av, const std::vector<float>& b) {
    std::vector<float> rr(static_cast<size_t>(m * n)), out(static_cast<size_t>(m * 5));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t q = 0; q < k; ++q) acc += double(av[static_cast<size_t>(i * k + q)]) * b[static_cast<size_t>(j * k + q)];
        rr[static_cast<size_t>(i * n + j)] = std::max(static_cast<float>(acc), 0.0f);
      }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < 5; ++j) {
        double acc = 0;
        for (int64_t q = 0; q < n; ++q) acc += double(rr[static_cast<size_t>(i * n + q)]) * c[static_cast<size_t>(q * 5 + j)];
        out[static_cast<size_t>(i * 5 + j)] = static_cast<float>(acc);
      }
    return out;
  };
  auto av = random_vec(static_cast<size_t>(m * k), 42);
  auto run = [&] {
    std::vector<float> out(static_cast<size_t>(m * 5));
    Status s = (*plan)->run(*store.current(), {av.data()}, {out.data()}, nullptr);
    EXPECT_TRUE(s.is_ok()) << s.message();
    return out;
  };
  auto b1 = random_vec(static_cast<size_t>(n * k), 43);
  write(b1);
  EXPECT_LT(max_diff(run(), reference(av, b1)), 1e-4f);
  auto b2 = random_vec(static_cast<size_t>(n * k), 44);
  write(b2);
  EXPECT_LT(max_diff(run(), reference(av, b2)), 1e-4f);
}

INSTANTIATE_TEST_SUITE_P(FusedPlan, PackedWeights, ::testing::Values(int64_t{8}, int64_t{40}));

// Two plans over one Variable B for 8 and 40 rows of A (an input shape each): the first fixes
// B's layout (on AVX-512 packed_gemm's 48-column panels), the second runs on it whatever its
// own row count would pick, and both match a naive loop after every write of B.
TEST(FusedPlan, PlansForOtherRowsShareTheWeightsLayout) {
  constexpr int64_t k = 70, n = 100;
  VariableStore store({{"B", DType::kFloat32, {n, k}, static_cast<uint64_t>(n * k * 4)}});
  auto graph_for = [&](int64_t m) {
    ir::Graph g;
    ir::ValueId a = g.add_data("a", DType::kFloat32, Shape(Dims{m, k}));
    ir::ValueId bv = g.add_variable("B", DType::kFloat32, {n, k});
    g.outputs = {add_op(g, "Gemm", {a, bv}, "y", {{"transB", int64_t{1}}})};
    EXPECT_TRUE(ir::infer_graph_types(g).is_ok());
    return g;
  };
  const ir::Graph g8 = graph_for(8), g40 = graph_for(40);
  auto plan8 = Plan::create(g8, store, 2);
  ASSERT_TRUE(plan8.is_ok()) << plan8.status().message();
  auto plan40 = Plan::create(g40, store, 2);
  ASSERT_TRUE(plan40.is_ok()) << plan40.status().message();
  if (cpu::avx512_allowed()) {
    ASSERT_NE(store.layout(0), nullptr);
    EXPECT_EQ(store.layout(0)->key,
              cpu::make_weight_packing(cpu::plain_desc({n, k}),
                                       cpu::packed_gemm_b_desc(k, n, true, cpu::GemmPath::kAvx512x48))
                  ->key);
  }
  for (int round = 0; round < 2; ++round) {
    auto b = random_vec(static_cast<size_t>(n * k), 50 + round);
    write_through_init(store, {{"B", b}});
    for (int64_t m : {8, 40}) {
      auto av = random_vec(static_cast<size_t>(m * k), 60 + static_cast<int>(m));
      std::vector<float> out(static_cast<size_t>(m * n)), want(static_cast<size_t>(m * n));
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double acc = 0;
          for (int64_t q = 0; q < k; ++q)
            acc += double(av[static_cast<size_t>(i * k + q)]) * b[static_cast<size_t>(j * k + q)];
          want[static_cast<size_t>(i * n + j)] = static_cast<float>(acc);
        }
      const Plan& plan = m == 8 ? **plan8 : **plan40;
      Status st = plan.run(*store.current(), {av.data()}, {out.data()}, nullptr);
      ASSERT_TRUE(st.is_ok()) << st.message();
      EXPECT_LT(max_diff(out, want), 1e-4f) << m << " rows, round " << round;
    }
  }
}

// MatMul of a batched A with one B matrix runs as one [batch*m, k] x [k, n] product.
TEST(FusedPlan, BatchedMatMulWithOneMatrixMatchesNaiveLoop) {
  for (Dims a_dims : {Dims{4, 3, 5}, Dims{6, 1, 5}, Dims{2, 2, 3, 5}}) {
    ir::Graph g;
    ir::ValueId a = g.add_data("a", DType::kFloat32, Shape(a_dims));
    auto bv = random_vec(5 * 6, 51);
    ir::ValueId y = add_op(g, "MatMul", {a, g.add_const("b", tensor(bv, {5, 6}))}, "y");
    ir::ValueId r = add_op(g, "Relu", {y}, "r");
    g.outputs = {r};
    ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
    VariableStore store({});
    auto plan = Plan::create(g, store, 2);
    ASSERT_TRUE(plan.is_ok()) << plan.status().message();
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < a_dims.size(); ++i) rows *= a_dims[i];
    auto av = random_vec(static_cast<size_t>(rows * 5), 52);
    std::vector<float> got(static_cast<size_t>(rows * 6)), want(got.size());
    ASSERT_TRUE((*plan)->run(*store.current(), {av.data()}, {got.data()}, nullptr).is_ok());
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < 6; ++j) {
        double acc = 0;
        for (int64_t q = 0; q < 5; ++q) acc += double(av[static_cast<size_t>(i * 5 + q)]) * bv[static_cast<size_t>(q * 6 + j)];
        want[static_cast<size_t>(i * 6 + j)] = std::max(static_cast<float>(acc), 0.0f);
      }
    EXPECT_LT(max_diff(got, want), 1e-5f) << "A " << Shape(a_dims).to_string();
  }
}

// Two bottleneck-style blocks, each: a -> Conv -> Relu -> Conv -> Add(a) -> Relu. The residual
// `a` dies at the second Conv, so the plan writes that Conv's output over it (and the next
// block's over that): outputs must still match naive loops, and the arena is smaller than
// the same graph's with the residuals kept alive (read again by the graph's last node).
TEST(FusedPlan, ResidualOutputOverTheResidualMatchesNaiveLoops) {
  Weights w;
  auto w3 = random_vec(kC * kC * 9, 91, 0.1f), b3 = random_vec(kC, 92, 0.1f);
  auto w4 = random_vec(kC * kC * 9, 93, 0.1f), b4 = random_vec(kC, 94, 0.1f);
  auto build = [&](bool keep_residuals) {
    ir::Graph g;
    ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, kC, kH, kH}));
    auto conv = [&](ir::ValueId in, const std::vector<float>& wv, const std::vector<float>& bv,
                    const std::string& name) { return conv3x3(g, in, wv, bv, name); };
    ir::ValueId a = add_op(g, "Relu", {x}, "a");
    ir::ValueId t1 = add_op(g, "Relu", {conv(a, w.w1, w.b1, "c1")}, "t1");
    ir::ValueId s1 = add_op(g, "Add", {conv(t1, w.w2, w.b2, "c2"), a}, "s1");
    ir::ValueId y1 = add_op(g, "Relu", {s1}, "y1");
    ir::ValueId t2 = add_op(g, "Relu", {conv(y1, w3, b3, "c3")}, "t2");
    ir::ValueId s2 = add_op(g, "Add", {conv(t2, w4, b4, "c4"), y1}, "s2");
    ir::ValueId y2 = add_op(g, "Relu", {s2}, "y2");
    ir::ValueId out = add_op(g, "Sigmoid", {y2}, "out");
    if (keep_residuals) out = add_op(g, "Sum", {out, a, y1}, "kept");
    g.outputs = {out};
    return g;
  };
  auto xv = random_vec(static_cast<size_t>(kC * kH * kH), 95);
  auto relu_of = [](std::vector<float> v) {
    relu(v);
    return v;
  };
  auto a = relu_of(xv);
  auto y1 = naive_conv(relu_of(naive_conv(a, w.w1, w.b1, kC, kC, kH, 3)), w.w2, w.b2, kC, kC, kH, 3);
  for (size_t i = 0; i < y1.size(); ++i) y1[i] = std::max(y1[i] + a[i], 0.0f);
  auto y2 = naive_conv(relu_of(naive_conv(y1, w3, b3, kC, kC, kH, 3)), w4, b4, kC, kC, kH, 3);
  std::vector<float> want(y2.size());
  for (size_t i = 0; i < y2.size(); ++i) want[i] = 1.0f / (1.0f + std::exp(-std::max(y2[i] + y1[i], 0.0f)));

  uint64_t arena[2] = {0, 0};
  for (bool keep : {false, true}) {
    ir::Graph g = build(keep);
    ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
    VariableStore store({});
    auto plan = Plan::create(g, store, 2);
    ASSERT_TRUE(plan.is_ok()) << plan.status().message();
    arena[keep] = (*plan)->arena_bytes();
    std::vector<float> got(want.size());
    ASSERT_TRUE((*plan)->run(*store.current(), {xv.data()}, {got.data()}, nullptr).is_ok());
    std::vector<float> expect = want;
    if (keep)
      for (size_t i = 0; i < expect.size(); ++i) expect[i] += a[i] + y1[i];
    EXPECT_LT(max_diff(got, expect), 1e-5f) << (keep ? "residuals kept alive" : "outputs over the residuals");
  }
  EXPECT_LT(arena[0], arena[1]);
}

// Two 1 x 1 convolutions with Variable weights between two with a Const weight, the third
// adding the second's input back: on AVX-512 machines they run as packed_gemm products (the
// weights held in its panels, written by init and by a refresh), the last in two passes over its
// 600 input channels with its output placed over the residual (both channels-last), which it
// then reads from a copy. Both weight versions match a naive loop.
TEST(FusedPlan, PointwiseConvsOverTheResidualMatchNaiveLoops) {
  constexpr int64_t c = 40, mid = 600, h = 48;
  VariableStore store({{"w1", DType::kFloat32, {mid, c, 1, 1}, static_cast<uint64_t>(mid * c * 4)},
                       {"w2", DType::kFloat32, {c, mid, 1, 1}, static_cast<uint64_t>(c * mid * 4)}});
  auto b1 = random_vec(mid, 101, 0.1f), b2 = random_vec(c, 102, 0.1f);
  auto w0 = random_vec(static_cast<size_t>(c * c), 108, 0.3f), b0 = random_vec(c, 109, 0.1f);
  ir::Graph g;
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, c, h, h}));
  ir::ValueId a = add_op(
      g, "Relu",
      {add_op(g, "Conv", {x, g.add_const("w0", tensor(w0, {c, c, 1, 1})), g.add_const("b0", tensor(b0, {c}))}, "c0")},
      "a");
  ir::ValueId t = add_op(g, "Relu",
                         {add_op(g, "Conv", {a, g.add_variable("w1", DType::kFloat32, {mid, c, 1, 1}),
                                             g.add_const("b1", tensor(b1, {mid}))},
                                 "c1")},
                         "t");
  ir::ValueId c2 = add_op(
      g, "Conv", {t, g.add_variable("w2", DType::kFloat32, {c, mid, 1, 1}), g.add_const("b2", tensor(b2, {c}))}, "c2");
  // A convolution after the block keeps its output channels-last, like the residual.
  ir::ValueId y = add_op(g, "Relu", {add_op(g, "Add", {c2, a}, "s")}, "y");
  ir::ValueId c3 =
      add_op(g, "Conv", {y, g.add_const("w3", tensor(w0, {c, c, 1, 1})), g.add_const("b3", tensor(b0, {c}))}, "c3");
  g.outputs = {add_op(g, "Sigmoid", {c3}, "out")};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  auto plan = Plan::create(g, store, 2);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  // (The conv_layout_* variants of this suite force other activation layouts.)
  const char* forced = std::getenv("LW_CPU_ACTIVATION_LAYOUT");
  const bool channels_last = cpu::preferred_conv_activation_layout() == cpu::Layout::kChannelsLast &&
                             (!forced || std::string(forced) == "auto" || std::string(forced) == "channels_last");
  if (cpu::packed_gemm_supported(cpu::GemmPath::kAvx512x64) && channels_last) {
    ASSERT_NE(store.layout(1), nullptr) << "w2 should be held in packed_gemm's panels";
    EXPECT_EQ(store.layout(1)->key,
              cpu::make_weight_packing(cpu::plain_desc({c, mid}),
                                       cpu::packed_gemm_b_desc(mid, c, true, cpu::packed_gemm_weight_path(h * h, c)))
                  ->key);
    EXPECT_GT(cpu::packed_gemm_passes(h * h, mid, cpu::packed_gemm_weight_path(h * h, c)), 1);
  }
  auto xv = random_vec(static_cast<size_t>(c * h * h), 103);
  for (int version = 0; version < 2; ++version) {
    auto w1 = random_vec(static_cast<size_t>(mid * c), 104 + version, 0.2f);
    auto w2 = random_vec(static_cast<size_t>(c * mid), 106 + version, 0.05f);
    write_through_init(store, {{"w1", w1}, {"w2", w2}});

    auto av = naive_conv(xv, w0, b0, c, c, h, 1);
    relu(av);
    auto tv = naive_conv(av, w1, b1, c, mid, h, 1);
    relu(tv);
    auto sv = naive_conv(tv, w2, b2, mid, c, h, 1);
    for (size_t i = 0; i < sv.size(); ++i) sv[i] = std::max(sv[i] + av[i], 0.0f);
    auto want = naive_conv(sv, w0, b0, c, c, h, 1);
    for (float& v : want) v = 1.0f / (1.0f + std::exp(-v));
    std::vector<float> got(want.size());
    ASSERT_TRUE((*plan)->run(*store.current(), {xv.data()}, {got.data()}, nullptr).is_ok());
    EXPECT_LT(max_diff(got, want), 1e-5f) << "weights version " << version;
  }
}

// MatMul -> Add(bias, either operand order) -> Relu becomes one MatMul with a bias and a Relu
// when the backend asks for it (the CPU plan does), and matches a naive loop; a bias that is
// not a row vector stays a separate Add.
TEST(FusedPlan, MatMulBiasReluMatchesNaiveLoop) {
  for (bool bias_first : {false, true}) {
    ir::Graph g;
    ir::ValueId a = g.add_data("a", DType::kFloat32, Shape(Dims{2, 3, 5}));
    auto bv = random_vec(5 * 6, 81), cv = random_vec(6, 82);
    ir::ValueId mm = add_op(g, "MatMul", {a, g.add_const("b", tensor(bv, {5, 6}))}, "mm");
    ir::ValueId c = g.add_const("c", tensor(cv, {6}));
    ir::ValueId s = add_op(g, "Add", bias_first ? std::vector<ir::ValueId>{c, mm} : std::vector<ir::ValueId>{mm, c}, "s");
    ir::ValueId r = add_op(g, "Relu", {s}, "r");
    g.outputs = {r};
    ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
    ir::Graph fused = g, unfused = g;
    EXPECT_EQ(passes::fuse_epilogues(fused, {.matmul_bias = true}), 2);
    EXPECT_EQ(passes::fuse_epilogues(unfused), 0) << "without the option the Add blocks the chain";
    VariableStore store({});
    auto plan = Plan::create(g, store, 2);
    ASSERT_TRUE(plan.is_ok()) << plan.status().message();
    auto av = random_vec(2 * 3 * 5, 83);
    std::vector<float> got(2 * 3 * 6), want(got.size());
    ASSERT_TRUE((*plan)->run(*store.current(), {av.data()}, {got.data()}, nullptr).is_ok());
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t j = 0; j < 6; ++j) {
        double acc = cv[static_cast<size_t>(j)];
        for (int64_t q = 0; q < 5; ++q) acc += double(av[static_cast<size_t>(i * 5 + q)]) * bv[static_cast<size_t>(q * 6 + j)];
        want[static_cast<size_t>(i * 6 + j)] = std::max(static_cast<float>(acc), 0.0f);
      }
    EXPECT_LT(max_diff(got, want), 1e-5f);
  }
  // A [3, 6] addend is not a row bias: the Add stays.
  ir::Graph g;
  ir::ValueId a = g.add_data("a", DType::kFloat32, Shape(Dims{3, 5}));
  ir::ValueId mm = add_op(g, "MatMul", {a, g.add_const("b", tensor(random_vec(30, 84), {5, 6}))}, "mm");
  ir::ValueId s = add_op(g, "Add", {mm, g.add_const("c", tensor(random_vec(18, 85), {3, 6}))}, "s");
  g.outputs = {s};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  EXPECT_EQ(passes::fuse_epilogues(g, {.matmul_bias = true}), 0);
}

// Conv -> Clip(bounds are Variables, so not fused) -> Conv -> Sigmoid (output): the Clip
// passes the convolution layout through; the graph output stays plain. These ConvLayout plans
// run in the layout LW_CPU_ACTIVATION_LAYOUT names (CTest runs them under each).
TEST(ConvLayout, FlowsThroughElementwiseOpsAndMatchesNaiveLoops) {
  Weights w;
  VariableStore store({{"lo", DType::kFloat32, {}, 4}, {"hi", DType::kFloat32, {}, 4}});
  ir::Graph g;
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, kC, kH, kH}));
  std::map<std::string, ir::Attribute> pads = {{"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  ir::ValueId c1 = add_op(g, "Conv", {x, g.add_const("w1", tensor(w.w1, {kC, kC, 3, 3})), g.add_const("b1", tensor(w.b1, {kC}))},
                          "c1", pads);
  ir::ValueId lo = g.add_variable("lo", DType::kFloat32, {}), hi = g.add_variable("hi", DType::kFloat32, {});
  ir::ValueId cl = add_op(g, "Clip", {c1, lo, hi}, "cl");
  ir::ValueId c2 = add_op(g, "Conv", {cl, g.add_const("w2", tensor(w.w2, {kC, kC, 3, 3})), g.add_const("b2", tensor(w.b2, {kC}))},
                          "c2", pads);
  ir::ValueId y = add_op(g, "Sigmoid", {c2}, "y");
  g.outputs = {y};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  ir::Graph fused = g;
  passes::fuse_epilogues(fused);
  auto layout = passes::choose_conv_layout(fused);
  EXPECT_TRUE(layout[static_cast<size_t>(c1)]);
  EXPECT_TRUE(layout[static_cast<size_t>(cl)]);
  EXPECT_FALSE(layout[static_cast<size_t>(c2)]) << "read by Sigmoid, whose output is a graph output";
  EXPECT_FALSE(layout[static_cast<size_t>(y)]);

  auto plan = Plan::create(g, store, 2);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  float bounds[2] = {-0.05f, 0.1f};
  auto update = store.begin_update();
  for (int i = 0; i < 2; ++i) {
    auto b = update->stage(i);
    ASSERT_TRUE(b.is_ok());
    std::memcpy((*b)->data(), &bounds[i], 4);
  }
  store.commit(std::move(update));
  auto xv = random_vec(static_cast<size_t>(kC * kH * kH), 61);
  auto got = run_plan(**plan, *store.current(), xv);
  auto a = naive_conv(xv, w.w1, w.b1, kC, kC, kH, 3);
  for (float& v : a) v = std::min(std::max(v, bounds[0]), bounds[1]);
  auto want = naive_conv(a, w.w2, w.b2, kC, kC, kH, 3);
  for (float& v : want) v = 1.0f / (1.0f + std::exp(-v));
  EXPECT_LT(max_diff(got, want), 1e-5f);
}

// Naive max or average pool over each plane of [c, h, h] (average: padding not counted;
// ceil_mode = 1 adds the last partial window).
std::vector<float> naive_pool(const std::vector<float>& x, int64_t c, int64_t h, int64_t k, int64_t s, int64_t pad,
                              bool max, bool ceil_mode, int64_t* out_h) {
  int64_t span = h + 2 * pad - k;
  int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  *out_h = o;
  std::vector<float> y(static_cast<size_t>(c * o * o));
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t i = 0; i < o; ++i)
      for (int64_t j = 0; j < o; ++j) {
        double best = -INFINITY, sum = 0;
        int64_t count = 0;
        for (int64_t u = 0; u < k; ++u)
          for (int64_t v = 0; v < k; ++v) {
            int64_t ii = i * s + u - pad, jj = j * s + v - pad;
            if (ii < 0 || jj < 0 || ii >= h || jj >= h) continue;
            float val = x[static_cast<size_t>((ch * h + ii) * h + jj)];
            best = std::max(best, double(val));
            sum += val;
            ++count;
          }
        y[static_cast<size_t>((ch * o + i) * o + j)] = static_cast<float>(max ? best : sum / double(count));
      }
  return y;
}

// Conv -> MaxPool (oneDNN) -> Conv -> AveragePool with ceil_mode (the loop kernel, through
// plain copies) -> Conv -> GlobalAveragePool: every value before the global pool stays in the
// convolution layout, and the result matches naive loops.
TEST(ConvLayout, FlowsThroughPoolsAndMatchesNaiveLoops) {
  Weights w;
  auto w3 = random_vec(kC * kC * 9, 71, 0.1f), b3 = random_vec(kC, 72, 0.1f);
  constexpr int64_t h0 = 15;
  ir::Graph g;
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, kC, h0, h0}));
  auto conv = [&](ir::ValueId in, const std::vector<float>& wv, const std::vector<float>& bv, const std::string& name) {
    return conv3x3(g, in, wv, bv, name);
  };
  ir::ValueId c1 = conv(x, w.w1, w.b1, "c1");
  ir::ValueId p1 = add_op(g, "MaxPool", {c1}, "p1",
                          {{"kernel_shape", std::vector<int64_t>{3, 3}}, {"strides", std::vector<int64_t>{2, 2}},
                           {"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  ir::ValueId c2 = conv(p1, w.w2, w.b2, "c2");
  ir::ValueId p2 = add_op(g, "AveragePool", {c2}, "p2",
                          {{"kernel_shape", std::vector<int64_t>{3, 3}}, {"strides", std::vector<int64_t>{2, 2}},
                           {"ceil_mode", int64_t{1}}});
  ir::ValueId c3 = conv(p2, w3, b3, "c3");
  ir::ValueId y = add_op(g, "GlobalAveragePool", {c3}, "y");
  g.outputs = {y};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  ir::Graph fused = g;
  passes::fuse_epilogues(fused);
  auto layout = passes::choose_conv_layout(fused);
  for (ir::ValueId v : {c1, p1, c2, p2, c3}) EXPECT_TRUE(layout[static_cast<size_t>(v)]) << g.value(v).name;
  EXPECT_FALSE(layout[static_cast<size_t>(y)]);

  VariableStore store({});
  auto plan = Plan::create(g, store, 2);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  auto xv = random_vec(static_cast<size_t>(kC * h0 * h0), 73);
  std::vector<float> got(kC);
  ASSERT_TRUE((*plan)->run(*store.current(), {xv.data()}, {got.data()}, nullptr).is_ok());

  int64_t h1 = 0, h2 = 0;
  auto a = naive_conv(xv, w.w1, w.b1, kC, kC, h0, 3);
  a = naive_pool(a, kC, h0, 3, 2, 1, true, false, &h1);
  ASSERT_EQ(h1, 8);
  a = naive_conv(a, w.w2, w.b2, kC, kC, h1, 3);
  a = naive_pool(a, kC, h1, 3, 2, 0, false, true, &h2);
  ASSERT_EQ(h2, 4);  // ceil_mode: (8 - 3) / 2 rounded up + 1
  a = naive_conv(a, w3, b3, kC, kC, h2, 3);
  std::vector<float> want(kC);
  for (int64_t ch = 0; ch < kC; ++ch) {
    double sum = 0;
    for (int64_t i = 0; i < h2 * h2; ++i) sum += a[static_cast<size_t>(ch * h2 * h2 + i)];
    want[static_cast<size_t>(ch)] = static_cast<float>(sum / double(h2 * h2));
  }
  EXPECT_LT(max_diff(got, want), 1e-5f);
}

// A squeeze-and-excitation block over a concatenation, as SqueezeNet and EfficientNet have them:
// Conv -> Relu (r1, one node once fused) -> Conv (c2); Concat(r1, c2) along the channels -> GlobalAveragePool ->
// Sigmoid (s, [1, 32, 1, 1]) -> Mul(cat, s) -> Add(a per-channel constant [32, 1, 1]) -> Conv 1 x 1
// (output). The Concat and the broadcasting Mul and Add keep the convolution layout (their other
// operands stay plain: a per-channel value is the same bytes in every layout), and the result
// matches naive loops.
TEST(ConvLayout, FlowsThroughConcatsAndPerChannelOperandsAndMatchesNaiveLoops) {
  Weights w;
  constexpr int64_t kCat = 2 * kC;
  const auto w3 = random_vec(kC * kCat, 91, 0.1f), shift = random_vec(kCat, 92, 0.5f);
  ir::Graph g;
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, kC, kH, kH}));
  ir::ValueId c1 = conv3x3(g, x, w.w1, w.b1, "c1");
  ir::ValueId r1 = add_op(g, "Relu", {c1}, "r1");
  ir::ValueId c2 = conv3x3(g, r1, w.w2, w.b2, "c2");
  ir::ValueId cat = add_op(g, "Concat", {r1, c2}, "cat", {{"axis", int64_t{1}}});
  ir::ValueId pooled = add_op(g, "GlobalAveragePool", {cat}, "pooled");
  ir::ValueId scale = add_op(g, "Sigmoid", {pooled}, "scale");
  ir::ValueId m = add_op(g, "Mul", {cat, scale}, "m");
  ir::ValueId a = add_op(g, "Add", {g.add_const("shift", tensor(shift, {kCat, 1, 1})), m}, "a");
  ir::ValueId y = add_op(g, "Conv", {a, g.add_const("w3", tensor(w3, {kC, kCat, 1, 1}))}, "y");
  g.outputs = {y};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  ir::Graph fused = g;
  passes::fuse_epilogues(fused);
  for (int64_t block : {1, 8, 16}) {
    auto layout = passes::choose_conv_layout(fused, block);
    for (ir::ValueId v : {r1, c2, cat, m, a}) EXPECT_TRUE(layout[static_cast<size_t>(v)]) << g.value(v).name << ", block " << block;
    EXPECT_FALSE(layout[static_cast<size_t>(scale)]) << "read by Mul as its per-channel operand";
    EXPECT_FALSE(layout[static_cast<size_t>(y)]) << "a graph output";
  }

  VariableStore store({});
  auto plan = Plan::create(g, store, 2);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  auto xv = random_vec(static_cast<size_t>(kC * kH * kH), 93);
  auto got = run_plan(**plan, *store.current(), xv);

  auto first = naive_conv(xv, w.w1, w.b1, kC, kC, kH, 3);
  relu(first);
  auto second = naive_conv(first, w.w2, w.b2, kC, kC, kH, 3);
  std::vector<float> joined = first;
  joined.insert(joined.end(), second.begin(), second.end());
  const int64_t hw = kH * kH;
  for (int64_t ch = 0; ch < kCat; ++ch) {
    double sum = 0;
    for (int64_t i = 0; i < hw; ++i) sum += joined[static_cast<size_t>(ch * hw + i)];
    const double sig = 1.0 / (1.0 + std::exp(-sum / static_cast<double>(hw)));
    for (int64_t i = 0; i < hw; ++i) {
      float& v = joined[static_cast<size_t>(ch * hw + i)];
      v = static_cast<float>(v * sig + shift[static_cast<size_t>(ch)]);
    }
  }
  auto want = naive_conv(joined, w3, {}, kCat, kC, kH, 1);
  EXPECT_LT(max_diff(got, want), 1e-5f);
}

// DenseNet's chains: Conv (c0) -> BatchNormalization -> Relu -> Conv (c1); Concat(c0, c1) -> Pad
// of nothing (its exporter's, before each pool) -> BatchNormalization -> Clip(0, 6) -> Conv 1 x 1
// (output). Each BatchNormalization of its own takes the activation after it, every value up to
// the output keeps the convolution layout (the Pad's output shares its input's memory), and the
// result matches naive loops.
TEST(ConvLayout, BatchNormActivationChainsAndEmptyPadsMatchNaiveLoops) {
  Weights w;
  constexpr int64_t kCat = 2 * kC;
  const auto w2 = random_vec(kC * kCat, 101, 0.1f);
  struct Bn {
    std::vector<float> scale, bias, mean, var;
  };
  auto make_bn = [](int64_t c, uint32_t seed) {
    Bn b{random_vec(static_cast<size_t>(c), seed, 0.5f), random_vec(static_cast<size_t>(c), seed + 1, 0.5f),
         random_vec(static_cast<size_t>(c), seed + 2, 0.5f), random_vec(static_cast<size_t>(c), seed + 3, 0.5f)};
    for (float& v : b.scale) v += 1.0f;
    for (float& v : b.var) v = std::fabs(v) + 0.5f;
    return b;
  };
  const Bn bn1 = make_bn(kC, 102), bn2 = make_bn(kCat, 106);
  ir::Graph g;
  auto batchnorm = [&](ir::ValueId in, const Bn& b, int64_t c, const std::string& name) {
    return add_op(g, "BatchNormalization",
                  {in, g.add_const(name + "_s", tensor(b.scale, {c})), g.add_const(name + "_b", tensor(b.bias, {c})),
                   g.add_const(name + "_m", tensor(b.mean, {c})), g.add_const(name + "_v", tensor(b.var, {c}))},
                  name, {{"epsilon", 1e-3f}});
  };
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, kC, kH, kH}));
  ir::ValueId c0 = conv3x3(g, x, w.w1, w.b1, "c0");
  ir::ValueId r1 = add_op(g, "Relu", {batchnorm(c0, bn1, kC, "bn1")}, "r1");
  ir::ValueId c1 = conv3x3(g, r1, w.w2, w.b2, "c1");
  ir::ValueId cat = add_op(g, "Concat", {c0, c1}, "cat", {{"axis", int64_t{1}}});
  const std::vector<int64_t> zeros(8, 0);
  ir::ValueId padded = add_op(
      g, "Pad",
      {cat, g.add_const("pads", ir::TensorData{DType::kInt64, {8}, Blob::copy_of(zeros.data(), 8 * sizeof(int64_t))})},
      "pad");
  ir::ValueId r2 = add_op(g, "Clip", {batchnorm(padded, bn2, kCat, "bn2"), g.add_const("lo", tensor({0.0f}, {})),
                                      g.add_const("hi", tensor({6.0f}, {}))},
                          "r2");
  ir::ValueId y = add_op(g, "Conv", {r2, g.add_const("w2", tensor(w2, {kC, kCat, 1, 1}))}, "y");
  g.outputs = {y};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  ir::Graph fused = g;
  passes::fuse_epilogues(fused, {.batchnorm = true});
  for (ir::ValueId v : {r1, r2}) {
    const ir::Node& n = fused.nodes[static_cast<size_t>(fused.value(v).producer)];
    EXPECT_EQ(n.op, "BatchNormalization") << g.value(v).name;
    EXPECT_TRUE(n.has_attr(passes::kAttrActivation)) << g.value(v).name;
  }
  for (int64_t block : {1, 8, 16}) {
    auto layout = passes::choose_conv_layout(fused, block);
    for (ir::ValueId v : {c0, r1, c1, cat, padded, r2})
      EXPECT_TRUE(layout[static_cast<size_t>(v)]) << g.value(v).name << ", block " << block;
    EXPECT_FALSE(layout[static_cast<size_t>(y)]) << "a graph output";
  }

  VariableStore store({});
  auto plan = Plan::create(g, store, 2);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  auto xv = random_vec(static_cast<size_t>(kC * kH * kH), 110);
  auto got = run_plan(**plan, *store.current(), xv);

  const int64_t hw = kH * kH;
  auto normalize = [&](std::vector<float> v, const Bn& b, int64_t c, float lo, float hi) {
    for (int64_t ch = 0; ch < c; ++ch) {
      const size_t k = static_cast<size_t>(ch);
      const double a = b.scale[k] / std::sqrt(double{b.var[k]} + 1e-3);
      for (int64_t i = 0; i < hw; ++i) {
        float& e = v[static_cast<size_t>(ch * hw + i)];
        e = static_cast<float>(std::min(std::max((e - b.mean[k]) * a + b.bias[k], double{lo}), double{hi}));
      }
    }
    return v;
  };
  auto first = naive_conv(xv, w.w1, w.b1, kC, kC, kH, 3);
  auto second = naive_conv(normalize(first, bn1, kC, 0.0f, INFINITY), w.w2, w.b2, kC, kC, kH, 3);
  std::vector<float> joined = first;
  joined.insert(joined.end(), second.begin(), second.end());
  auto want = naive_conv(normalize(joined, bn2, kCat, 0.0f, 6.0f), w2, {}, kCat, kC, kH, 1);
  EXPECT_LT(max_diff(got, want), 1e-4f);
}

// With a channel block, values whose channels do not fill whole blocks stay plain (a blocked
// layout would pad them), and so do the values that then disagree: x -> Conv (12 channels) ->
// Conv (16) -> Relu -> Conv (16, output).
TEST(ConvLayout, BlockedOnlyWhereChannelsFillWholeBlocks) {
  ir::Graph g;
  std::map<std::string, ir::Attribute> pads = {{"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  ir::ValueId x = g.add_data("x", DType::kFloat32, Shape(Dims{1, kC, kH, kH}));
  ir::ValueId c1 = add_op(g, "Conv", {x, g.add_const("w1", tensor(random_vec(12 * kC * 9, 81), {12, kC, 3, 3}))}, "c1", pads);
  ir::ValueId c2 = add_op(g, "Conv", {c1, g.add_const("w2", tensor(random_vec(kC * 12 * 9, 82), {kC, 12, 3, 3}))}, "c2", pads);
  ir::ValueId r = add_op(g, "Relu", {c2}, "r");
  ir::ValueId c3 = add_op(g, "Conv", {r, g.add_const("w3", tensor(random_vec(kC * kC * 9, 83), {kC, kC, 3, 3}))}, "c3", pads);
  g.outputs = {c3};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  auto nhwc = passes::choose_conv_layout(g);
  EXPECT_TRUE(nhwc[static_cast<size_t>(c1)]);
  EXPECT_TRUE(nhwc[static_cast<size_t>(c2)]);
  for (int64_t block : {8, 16}) {
    auto blocked = passes::choose_conv_layout(g, block);
    EXPECT_FALSE(blocked[static_cast<size_t>(c1)]) << "12 channels in blocks of " << block;
    EXPECT_TRUE(blocked[static_cast<size_t>(c2)]) << block;
    EXPECT_TRUE(blocked[static_cast<size_t>(r)]) << block;
    EXPECT_FALSE(blocked[static_cast<size_t>(c3)]) << "a graph output";
  }
  EXPECT_FALSE(passes::choose_conv_layout(g, 32)[static_cast<size_t>(c2)]) << "16 channels in blocks of 32";
}

// An unknown LW_CPU_ACTIVATION_LAYOUT fails the plan with a message naming it, not a crash or a
// silent default.
TEST(ConvLayout, UnknownLayoutNameIsAnError) {
  Weights w;
  ir::Graph g = residual_block([](ir::Graph& graph, const std::string& name, const std::vector<float>& v,
                                  const Dims& d) { return graph.add_const(name, tensor(v, d)); },
                               w);
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  VariableStore store({});
  const char* old = std::getenv("LW_CPU_ACTIVATION_LAYOUT");
  const std::string saved = old ? old : "";
  setenv("LW_CPU_ACTIVATION_LAYOUT", "nchw16", 1);
  auto plan = Plan::create(g, store, 1);
  if (old) {
    setenv("LW_CPU_ACTIVATION_LAYOUT", saved.c_str(), 1);
  } else {
    unsetenv("LW_CPU_ACTIVATION_LAYOUT");
  }
  ASSERT_FALSE(plan.is_ok());
  EXPECT_EQ(plan.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(plan.status().message().find("nchw16"), std::string::npos) << plan.status().message();
}

}  // namespace
}  // namespace lw::rt
