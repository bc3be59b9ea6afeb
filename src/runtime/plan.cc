#include "runtime/plan.h"

#include <omp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <set>

#include "backends/cpu/kernels/packed_gemm.h"
#include "compiler/passes/attention_fusion.h"
#include "compiler/passes/activation_fusion.h"
#include "compiler/passes/const_value.h"
#include "compiler/passes/conv_layout.h"
#include "compiler/passes/epilogue_fusion.h"
#include "compiler/passes/layernorm_fusion.h"
#include "core/parallel_for.h"
#include "core/thread_scratch.h"
#include "graph/ops/tensor_geometry.h"
#include "runtime/memory_planner.h"
#include "runtime/plan_checks.h"

namespace lw::rt {

namespace {
// Drops the whole pages inside [p, p + n) of a read-only file mapping: they leave the resident
// set and are read from the file again if touched. Best effort (errors are ignored).
void drop_mapped_pages(const void* p, size_t n) {
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  uintptr_t end = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

// Collects the file ranges an init has copied and drops their pages in batches. Each madvise
// flushes the TLB of every thread of the process (an interprocessor interrupt to each other
// core running one, a trap to the hypervisor in a virtual machine), so a batch makes as few
// calls as it can: tensors a few pages apart count as one run (the pages between hold padding
// or other constants; dropping a private read-only file page only means the next reader faults
// it in again from the page cache), and a run is cut into one piece per intra-op thread, at
// 2 MiB boundaries, so the unmapping work still spreads over the threads (0.1 us per 4 KiB
// page: 0.3 ms for MobileNet v2's 14 MB on one thread when the file is mapped page by page).
// MobileNet v2's init made 10 calls in 2 MiB pieces; with the file's pages mapped 2 MiB at a
// time (as a freshly written file is), the interrupts were most of the dropping. Holding up
// to kBatch bytes before dropping bounds what the batching adds to the peak resident set.
class MappedPageDropper {
 public:
  void add(const void* p, size_t n) {
    ranges_.push_back({reinterpret_cast<uintptr_t>(p), reinterpret_cast<uintptr_t>(p) + n});
    pending_ += n;
    if (pending_ >= kBatch) flush();
  }
  void flush() {
    std::sort(ranges_.begin(), ranges_.end());
    const uintptr_t threads = static_cast<uintptr_t>(std::max(1, omp_get_max_threads()));
    std::vector<std::pair<uintptr_t, uintptr_t>> pieces;
    for (size_t i = 0; i < ranges_.size();) {
      uintptr_t begin = ranges_[i].first, end = ranges_[i].second;
      for (++i; i < ranges_.size() && ranges_[i].first <= end + kGap; ++i) end = std::max(end, ranges_[i].second);
      // One piece per thread, each ending on a 2 MiB boundary (so no two threads share a page
      // table, and a mapping of whole 2 MiB pages is not split).
      const uintptr_t share = ((end - begin) / threads + kPiece - 1) / kPiece * kPiece;
      for (uintptr_t cut; begin < end; begin = cut) {
        cut = share == 0 ? end : std::min(end, (begin + share) / kPiece * kPiece);
        if (cut <= begin) cut = std::min(end, (begin / kPiece + 1) * kPiece);
        pieces.push_back({begin, cut});
      }
    }
    const long n = static_cast<long>(pieces.size());
    parallel_for_each(n, static_cast<int>(threads), [&](long k) {
      const auto& [begin, end] = pieces[static_cast<size_t>(k)];
      drop_mapped_pages(reinterpret_cast<const void*>(begin), end - begin);
    });
    ranges_.clear();
    pending_ = 0;
  }
  ~MappedPageDropper() { flush(); }

 private:
  static constexpr size_t kBatch = size_t{16} << 20;
  static constexpr uintptr_t kPiece = uintptr_t{2} << 20;
  static constexpr uintptr_t kGap = uintptr_t{64} << 10;
  std::vector<std::pair<uintptr_t, uintptr_t>> ranges_;
  size_t pending_ = 0;
};

// LW_PROFILE: unset, empty or 0 times nothing; "steps" times each step on its own (a row per
// node, to set beside another runtime's per-node profile); any other value, each op type.
enum class ProfileMode { kOff, kOpTypes, kSteps };
ProfileMode profile_mode() {
  static const ProfileMode mode = [] {
    const char* v = std::getenv("LW_PROFILE");
    const std::string name = v ? v : "";
    if (name.empty() || name == "0") return ProfileMode::kOff;
    return name == "steps" ? ProfileMode::kSteps : ProfileMode::kOpTypes;
  }();
  return mode;
}
bool profiling() { return profile_mode() != ProfileMode::kOff; }

// The layout of activations between convolutions (compiler/passes/conv_layout.h), from
// LW_CPU_ACTIVATION_LAYOUT: channels_last, blocked8, blocked16, or auto (unset). auto takes the
// blocked layout where oneDNN's convolutions prefer 8-channel blocks (an AVX2 machine, two
// threads: ResNet-18 35-39 -> 31-32 ms, ResNet-50 59-74 -> 56-63, MobileNet v2 within the noise;
// oneDNN's AVX2 3 x 3 kernels are faster on nChw8c), else channels-last. Where they prefer 16-channel blocks (AVX-512), channels-last
// stays: it met the speed targets there, and the blocked layout has not been measured on one.
Result<cpu::Layout> conv_activation_layout() {
  const char* v = std::getenv("LW_CPU_ACTIVATION_LAYOUT");
  const std::string name = v ? v : "";
  if (name.empty() || name == "auto")
    return cpu::preferred_conv_activation_layout() == cpu::Layout::kBlocked8 ? cpu::Layout::kBlocked8
                                                                             : cpu::Layout::kChannelsLast;
  if (name == "channels_last") return cpu::Layout::kChannelsLast;
  if (name == "blocked8") return cpu::Layout::kBlocked8;
  if (name == "blocked16") return cpu::Layout::kBlocked16;
  return make_error(StatusCode::kInvalidArgument, "LW_CPU_ACTIVATION_LAYOUT='", name,
                    "' is not a layout (auto, channels_last, blocked8 or blocked16)");
}

// Whether attention chains become one node (compiler/passes/attention_fusion.h), from
// LW_CPU_ATTENTION: fused (or unset) where the CPU has the kernel's AVX2 and FMA, unfused to
// keep the separate MatMul/Softmax nodes (to compare, and for the tests of the unfused path).
Result<bool> fuse_attention_here() {
  const char* v = std::getenv("LW_CPU_ATTENTION");
  const std::string name = v ? v : "";
  if (name.empty() || name == "fused") return cpu::packed_gemm_supported();
  if (name == "unfused") return false;
  return make_error(StatusCode::kInvalidArgument, "LW_CPU_ATTENTION='", name, "' is not a choice (fused or unfused)");
}

// A Transpose that moves only dims of size 1 ([128, 1, 512] -> [1, 128, 512]) keeps every byte
// where it was.
bool moves_only_unit_dims(const ir::Node& n, const ir::Graph& g) {
  if (n.inputs.empty() || n.inputs[0] == ir::kNoValue) return false;
  const Dims& dims = g.value(n.inputs[0]).shape.dims();
  const std::vector<int64_t> perm = ir::perm_attribute(n, "perm", dims.size(), true);
  if (perm.empty() && !dims.empty()) return false;
  int64_t previous = -1;
  for (int64_t p : perm) {
    if (dims[static_cast<size_t>(p)] == 1) continue;
    if (p < previous) return false;
    previous = p;
  }
  return true;
}

// The profile's name for a step: its op, plus what the epilogue pass fused into it.
std::string profile_key(const ir::Node& n) {
  std::string key = n.op;
  if (n.attr_int(passes::kAttrBatchNorm, 0) != 0) key += "+BatchNorm";
  if (n.attr_int(passes::kAttrResidual, 0) != 0 || n.attr_int(passes::kAttrSkip, 0) != 0) key += "+Add";
  std::string act = n.attr_string(passes::kAttrActivation, "");
  if (!act.empty()) key += "+" + act;
  return key;
}

// The per-step profile's name for step `index`: its place in the plan, the node's name, its op
// as above and its first output's dims.
std::string step_profile_key(size_t index, const ir::Node& n, const ir::Graph& g) {
  char place[16];
  std::snprintf(place, sizeof place, "#%03zu ", index);
  std::string key(place);
  key.append(n.name.empty() ? "(unnamed)" : n.name).append(" ").append(profile_key(n));
  if (!n.outputs.empty()) key.append(" ").append(dims_to_string(g.value(n.outputs[0]).shape.dims()));
  return key;
}

// How many times one run of `n` reads each element of its weight (input 1): once per output
// position of a Conv, once per row of a Gemm's or MatMul's left operand; 1 for other ops or
// when the output's shape is not known.
uint64_t weight_reads_per_run(const ir::Node& n, const ir::Graph& g) {
  if (n.outputs.empty()) return 1;
  const Dims& out = g.value(n.outputs[0]).shape.dims();
  for (int64_t d : out)
    if (d <= 0) return 1;
  auto product = [&](size_t from, size_t to) {
    uint64_t p = 1;
    for (size_t i = from; i < to; ++i) p *= static_cast<uint64_t>(out[i]);
    return p;
  };
  if (n.op == "Conv" && out.size() >= 3) return static_cast<uint64_t>(out[0]) * product(2, out.size());
  if ((n.op == "Gemm" || n.op == "MatMul") && out.size() >= 2) return product(0, out.size() - 1);
  return 1;
}

// Layouts are fixed through the store a Plan is created with; Plans otherwise only read it.
VariableStore& store_mut(const VariableStore& store) { return const_cast<VariableStore&>(store); }
}  // namespace

Result<std::unique_ptr<Plan>> Plan::create(ir::Graph graph, const VariableStore& store, int num_threads,
                                           MappedRange mapped) {
  std::unique_ptr<Plan> plan(new Plan());
  plan->mapped_ = mapped;
  plan->graph_ = std::move(graph);
  plan->store_ = &store;
  plan->num_threads_ = num_threads > 0 ? num_threads : 1;
  passes::fuse_activations(plan->graph_);
  passes::fuse_layernorms(plan->graph_);
  passes::fuse_layernorm_skips(plan->graph_);
  LW_ASSIGN_OR_RETURN(const bool fuse_attention, fuse_attention_here());
  if (fuse_attention) passes::fuse_attention(plan->graph_);
  passes::fuse_epilogues(plan->graph_, {.matmul_bias = true, .batchnorm = true});
  const ir::Graph& g = plan->graph_;

  // Absurd sizes are refused here, once, so no kernel ever computes with overflowing dims.
  LW_RETURN_IF_ERROR(check_static_values(g));

  // Which values are graph outputs, and which output each op-produced value writes directly.
  std::vector<int64_t> direct_output(g.values.size(), -1);
  for (size_t k = 0; k < g.outputs.size(); ++k) {
    ir::ValueId v = g.outputs[k];
    int32_t producer = g.value(v).producer;
    const std::string& op = g.nodes[static_cast<size_t>(producer)].op;
    bool is_op = op != ir::kOpData && op != ir::kOpConst && op != ir::kOpVariable;
    if (is_op && direct_output[static_cast<size_t>(v)] < 0) direct_output[static_cast<size_t>(v)] = static_cast<int64_t>(k);
  }

  // Activations between convolutions in the layout they run on (compiler/passes/conv_layout.h).
  auto consumers = g.consumers();
  LW_ASSIGN_OR_RETURN(const cpu::Layout conv_layout, conv_activation_layout());
  const std::vector<bool> in_conv_layout = passes::choose_conv_layout(g, cpu::channel_block(conv_layout));
  auto layout_of = [&](ir::ValueId v) { return in_conv_layout[static_cast<size_t>(v)] ? conv_layout : cpu::Layout::kPlain; };

  std::vector<Binding> binding(g.values.size());
  std::vector<int32_t> arena_values;           // values placed in the arena
  std::vector<int32_t> def_step(g.values.size(), -1), last_use(g.values.size(), -1);
  std::set<std::string> missing_kernels;
  std::set<int32_t> read_slots;
  // Kernels are made after this walk, several at a time (below).
  struct PendingKernel {
    size_t step;
    cpu::KernelFactory factory;
    cpu::KernelSpec spec;
    std::vector<int32_t> packable_slot;  // per input: the Variable slot it may pack, or -1
  };
  std::vector<PendingKernel> pending;

  for (const ir::Node& n : g.nodes) {
    if (n.op == passes::kOpFusedAway) continue;
    if (n.op == ir::kOpData) {
      binding[static_cast<size_t>(n.outputs[0])] = {Where::kInput, static_cast<uint64_t>(n.attr_int("index", 0)), nullptr};
      continue;
    }
    if (n.op == ir::kOpConst) {
      const ir::TensorData* t = n.attr_tensor("value");
      binding[static_cast<size_t>(n.outputs[0])] = {Where::kConst, 0, t ? t->bytes.data : nullptr};
      continue;
    }
    if (n.op == ir::kOpVariable) {
      LW_ASSIGN_OR_RETURN(int32_t slot, variable_slot(g, n, store));
      binding[static_cast<size_t>(n.outputs[0])] = {Where::kVariable, static_cast<uint64_t>(slot), nullptr};
      continue;
    }

    Step step;
    step.node = &n;
    int32_t step_index = static_cast<int32_t>(plan->steps_.size());
    for (size_t s = 0; s < n.inputs.size(); ++s) {
      ir::ValueId in = n.inputs[s];
      if (in == ir::kNoValue) {
        step.inputs.push_back({});
        continue;
      }
      step.inputs.push_back(binding[static_cast<size_t>(in)]);
      last_use[static_cast<size_t>(in)] = step_index;
      bool is_assign_target = n.op == ir::kOpAssign && s == 0;
      if (binding[static_cast<size_t>(in)].where == Where::kVariable && !is_assign_target)
        read_slots.insert(static_cast<int32_t>(binding[static_cast<size_t>(in)].index));
    }

    if (n.op == ir::kOpAssign) {
      step.assign_slot = static_cast<int32_t>(binding[static_cast<size_t>(n.inputs[0])].index);
      LW_RETURN_IF_ERROR(check_assign(g, n, &step.assign_skip));
      step.assign_bytes = store.slots()[static_cast<size_t>(step.assign_slot)].bytes;
      plan->writes_variables_ = true;
      plan->steps_.push_back(std::move(step));
      continue;
    }

    cpu::KernelFactory factory = cpu::find_cpu_kernel(n.op);
    if (!factory) {
      missing_kernels.insert(n.op);
      continue;
    }
    cpu::KernelSpec spec{n, {}, {}, {}, plan->num_threads_, {}, {}, {}, {}};
    spec.huge_pages = store.options().memory == WeightMemory::kHostHugePages;
    spec.input_packing.resize(n.inputs.size());
    spec.may_pack.assign(n.inputs.size(), false);
    std::vector<int32_t> packable_slot(n.inputs.size(), -1);
    for (size_t s = 0; s < n.inputs.size(); ++s) {
      ir::ValueId in = n.inputs[s];
      if (in == ir::kNoValue) {
        spec.inputs.push_back({});
        spec.const_inputs.push_back(nullptr);
        spec.input_layouts.push_back(cpu::Layout::kPlain);
        continue;
      }
      const ir::Value& v = g.value(in);
      spec.inputs.push_back({v.dtype, v.shape});
      spec.input_layouts.push_back(layout_of(in));
      const ir::Node& p = g.nodes[static_cast<size_t>(v.producer)];
      spec.const_inputs.push_back(p.op == ir::kOpConst ? p.attr_tensor("value") : nullptr);
      if (binding[static_cast<size_t>(in)].where != Where::kVariable) continue;
      // A weight read only by this Conv (as W) may be held in the layout the
      // kernel prefers; every other read of a Variable fixes it to the plain layout.
      auto slot = static_cast<int32_t>(binding[static_cast<size_t>(in)].index);
      // (Gemm/MatMul B stays plain: oneDNN reads it as fast, and a refresh stays a memcpy.)
      bool packing_op = n.op == "Conv" || n.op == "Gemm" || n.op == "MatMul";
      bool sole_conv_weight = packing_op && s == 1 && consumers[static_cast<size_t>(in)].size() == 1;
      if (store.layout_fixed(slot)) {
        spec.input_packing[s] = store.layout(slot);
      } else if (sole_conv_weight) {
        spec.may_pack[s] = true;
        packable_slot[s] = slot;
      } else {
        store_mut(store).fix_layout(slot, nullptr);
        spec.input_packing[s] = store.layout(slot);
      }
      if (spec.input_packing[s] && !sole_conv_weight)
        return make_error(StatusCode::kInternal, "graph '", g.name, "': node '", n.name, "' reads Variable '", v.name,
                          "' in the plain layout, but it is held packed for another node");
    }
    for (ir::ValueId out : n.outputs) {
      const ir::Value& v = g.value(out);
      spec.outputs.push_back({v.dtype, v.shape});
      spec.output_layouts.push_back(layout_of(out));
      int64_t k = direct_output[static_cast<size_t>(out)];
      if (k >= 0) {
        binding[static_cast<size_t>(out)] = {Where::kOutput, static_cast<uint64_t>(k), nullptr};
      } else {
        binding[static_cast<size_t>(out)] = {Where::kArena, 0, nullptr};
        arena_values.push_back(out);
        def_step[static_cast<size_t>(out)] = step_index;
      }
    }
    if (n.inputs.size() > 1 && n.inputs[1] != ir::kNoValue &&
        binding[static_cast<size_t>(n.inputs[1])].where == Where::kVariable) {
      uint64_t reads = weight_reads_per_run(n, g);
      if (reads > 1)
        store_mut(store).note_reads_per_run(static_cast<int32_t>(binding[static_cast<size_t>(n.inputs[1])].index), reads);
    }
    pending.push_back({plan->steps_.size(), factory, std::move(spec), std::move(packable_slot)});
    plan->steps_.push_back(std::move(step));
  }
  if (!missing_kernels.empty()) {
    std::string list;
    for (const auto& op : missing_kernels) list += (list.empty() ? "" : ", ") + op;
    return make_error(StatusCode::kOpNotFound, "graph '", g.name, "': the CPU backend has no kernel for: ", list);
  }

  // The kernels, on the intra-op threads: making oneDNN primitives (JIT code generation on a
  // process's first load) was most of opening a model. Each spec depends only on its own node
  // (a packable weight has exactly one reader), and factories are thread-safe. Nothing may
  // leave the parallel region by exception: a factory's exception is carried out and rethrown
  // here, and the first failure in node order is the one reported, as when made one by one.
  const long made = static_cast<long>(pending.size());
  std::vector<std::unique_ptr<cpu::Kernel>> kernels(pending.size());
  std::vector<Status> failures(pending.size());
  std::vector<std::exception_ptr> thrown(pending.size());
  auto make_one = [&](long i) {
    const auto k = static_cast<size_t>(i);
    try {
      auto kernel = pending[k].factory(pending[k].spec);
      if (kernel.is_ok()) {
        kernels[k] = std::move(kernel).value();
      } else {
        failures[k] = kernel.status();
      }
    } catch (...) {
      thrown[k] = std::current_exception();
    }
  };
  // oneDNN fixes the thread count of some primitives when it creates their descriptors (its
  // AVX-512 brgemm convolutions take omp_get_max_threads() then): that must be the plan's, not
  // the calling thread's (the machine's cores by default). Before, plans for one thread ran those
  // convolutions on every core, and the idle cores' OpenMP threads spun between them next to
  // liveweight's own one-thread kernels.
  const int caller_threads = omp_get_max_threads();
  omp_set_num_threads(plan->num_threads_);
  parallel_for_each(made, plan->num_threads_, make_one);
  omp_set_num_threads(caller_threads);
  for (size_t k = 0; k < pending.size(); ++k) {
    PendingKernel& pk = pending[k];
    const ir::Node& n = pk.spec.node;
    if (thrown[k]) std::rethrow_exception(thrown[k]);
    if (!failures[k].is_ok()) return with_node_context(failures[k], n);
    Step& step = plan->steps_[pk.step];
    step.kernel = std::move(kernels[k]);
    bool redo = false;
    for (size_t s = 0; s < pk.packable_slot.size(); ++s) {
      if (pk.packable_slot[s] < 0) continue;
      if (!store_mut(store).fix_layout(pk.packable_slot[s], step.kernel->wanted_packing(s))) {
        // Someone fixed it first (another Plan, or it was written plain): take theirs.
        pk.spec.may_pack[s] = false;
        pk.spec.input_packing[s] = store.layout(pk.packable_slot[s]);
        redo = true;
      }
    }
    if (redo) {
      auto again = pk.factory(pk.spec);
      if (!again.is_ok()) return with_node_context(again.status(), n);
      step.kernel = std::move(again).value();
    }
  }

  // Values read by the final output copies live to the end.
  const auto end_step = static_cast<int32_t>(plan->steps_.size());
  std::set<ir::ValueId> graph_outputs(g.outputs.begin(), g.outputs.end());
  for (ir::ValueId out : g.outputs) last_use[static_cast<size_t>(out)] = end_step;

  std::vector<int32_t> alias_of(g.values.size(), -1);  // value -> the value whose memory it takes
  auto root = [&](int32_t v) {
    while (alias_of[static_cast<size_t>(v)] >= 0) v = alias_of[static_cast<size_t>(v)];
    return v;
  };
  // The last step that reads the memory of `v`, through any value that shares it.
  auto last_read_of_memory = [&](int32_t v) {
    const int32_t r = root(v);
    int32_t last = -1;
    for (int32_t a : arena_values)
      if (root(a) == r) last = std::max(last, last_use[static_cast<size_t>(a)]);
    return last;
  };

  // Reshape and its kin only give the same bytes other dims, and an Identity or a Pad of
  // nothing the same bytes. Where input and output are activations in the arena in one layout
  // (plain, but for those two), the output takes the input's memory and the step does
  // nothing: no kernel writes an activation after the step that produced it, so the two
  // names can share the bytes for as long as either is read (a transformer encoder layer
  // copied 128 x 512 floats five times for its Reshapes; DenseNet-121 spent 1.1 ms a run in
  // its exporter's three empty Pads).
  for (Step& st : plan->steps_) {
    const ir::Node& n = *st.node;
    const bool renames = n.op == "Reshape" || n.op == "Flatten" || n.op == "Squeeze" || n.op == "Unsqueeze" ||
                         n.op == "Identity" || (n.op == "Transpose" && moves_only_unit_dims(n, g)) ||
                         passes::pads_nothing(g, n);
    if (!st.kernel || !renames || n.inputs.empty() || n.outputs.size() != 1) continue;
    const ir::ValueId in = n.inputs[0], out = n.outputs[0];
    if (in == ir::kNoValue || binding[static_cast<size_t>(in)].where != Where::kArena ||
        binding[static_cast<size_t>(out)].where != Where::kArena || layout_of(in) != layout_of(out) ||
        g.value(in).dtype != g.value(out).dtype)
      continue;
    alias_of[static_cast<size_t>(out)] = in;
    st.renames_only = true;
  }

  // A Conv with a fused residual whose residual value dies there writes its output over it:
  // the sum post-op then adds to the residual where it lies, instead of the kernel first
  // copying it into the output (one thread; 16 copies of up to 3 MB per ResNet-50 inference).
  // "Dies": no value sharing its memory is read later, and no other input of the Conv is one.
  for (size_t si = 0; si < plan->steps_.size(); ++si) {
    const Step& st = plan->steps_[si];
    const ir::Node& n = *st.node;
    if (!st.kernel || n.op != "Conv" || n.attr_int(passes::kAttrResidual, 0) == 0 || n.outputs.size() != 1) continue;
    const ir::ValueId res = n.inputs.back(), out = n.outputs[0];
    if (res == ir::kNoValue || binding[static_cast<size_t>(res)].where != Where::kArena ||
        binding[static_cast<size_t>(out)].where != Where::kArena || graph_outputs.count(res))
      continue;
    if (last_read_of_memory(res) != static_cast<int32_t>(si)) continue;
    bool shared = false;
    for (size_t i = 0; i + 1 < n.inputs.size(); ++i)
      shared = shared || (n.inputs[i] != ir::kNoValue && binding[static_cast<size_t>(n.inputs[i])].where == Where::kArena &&
                          root(n.inputs[i]) == root(res));
    if (shared) continue;
    const ir::Value &rv = g.value(res), &ov = g.value(out);
    if (rv.dtype != ov.dtype || rv.shape != ov.shape ||
        layout_of(res) != layout_of(out))
      continue;
    alias_of[static_cast<size_t>(out)] = res;
  }

  // Place activations (an aliased value's lifetime extends its root's); scratch goes after them.
  std::vector<Lifetime> lifetimes;
  std::vector<int32_t> placed;              // the roots, in arena_values order
  std::vector<int32_t> slot_of(g.values.size(), -1);
  for (int32_t v : arena_values) {
    if (alias_of[static_cast<size_t>(v)] >= 0) continue;
    const ir::Value& val = g.value(v);
    LW_ASSIGN_OR_RETURN(uint64_t bytes, byte_size(val.dtype, val.shape.dims()));
    int32_t first = def_step[static_cast<size_t>(v)];
    slot_of[static_cast<size_t>(v)] = static_cast<int32_t>(lifetimes.size());
    lifetimes.push_back({bytes, first, std::max(first, last_use[static_cast<size_t>(v)])});
    placed.push_back(v);
  }
  for (int32_t v : arena_values) {
    if (alias_of[static_cast<size_t>(v)] < 0) continue;
    Lifetime& l = lifetimes[static_cast<size_t>(slot_of[static_cast<size_t>(root(v))])];
    l.last = std::max(l.last, last_use[static_cast<size_t>(v)]);
  }
  ArenaPlan arena = plan_arena(lifetimes);
  for (int32_t v : arena_values)
    binding[static_cast<size_t>(v)].index = arena.offsets[static_cast<size_t>(slot_of[static_cast<size_t>(root(v))])];
  uint64_t scratch = 0;
  for (const Step& s : plan->steps_)
    if (s.kernel) scratch = std::max<uint64_t>(scratch, s.kernel->scratch_bytes());
  plan->scratch_offset_ = align64(arena.arena_bytes);
  plan->arena_bytes_ = plan->scratch_offset_ + scratch;

  // Rebind step inputs/outputs now that arena offsets are known.
  for (Step& s : plan->steps_) {
    for (size_t i = 0; i < s.inputs.size(); ++i)
      if (s.node->inputs[i] != ir::kNoValue) s.inputs[i] = binding[static_cast<size_t>(s.node->inputs[i])];
    s.outputs.clear();
    for (ir::ValueId out : s.node->outputs) s.outputs.push_back(binding[static_cast<size_t>(out)]);
  }

  for (size_t k = 0; k < g.outputs.size(); ++k) {
    const ir::Value& v = g.value(g.outputs[k]);
    LW_ASSIGN_OR_RETURN(uint64_t bytes, byte_size(v.dtype, v.shape.dims()));
    plan->output_dims_.push_back(v.shape.dims());
    plan->output_bytes_.push_back(bytes);
    if (direct_output[static_cast<size_t>(g.outputs[k])] != static_cast<int64_t>(k))
      plan->final_copies_.push_back({binding[static_cast<size_t>(g.outputs[k])], k, bytes});
  }
  plan->variables_read_.assign(read_slots.begin(), read_slots.end());
  // Init and update graphs: only Assigns of inputs and Consts, no outputs.
  plan->assign_only_ = !plan->steps_.empty() && g.outputs.empty();
  for (const Step& s : plan->steps_)
    plan->assign_only_ = plan->assign_only_ && !s.kernel &&
                         (s.inputs[1].where == Where::kInput || s.inputs[1].where == Where::kConst);
  if (plan->assign_only_)
    for (const Step& s : plan->steps_)
      if (!s.assign_skip) {
        plan->assigns_.push_back(&s);
        plan->assign_slots_.push_back(s.assign_slot);
      }
  return plan;
}

Status Plan::resolve(const Binding& b, const WeightSnapshot& weights, const std::vector<const void*>& inputs,
                     const std::vector<void*>& outputs, uint8_t* arena, const void** out) const {
  switch (b.where) {
    case Where::kArena: *out = arena + b.index; return Status::ok();
    case Where::kInput: *out = inputs[b.index]; return Status::ok();
    case Where::kOutput: *out = outputs[b.index]; return Status::ok();
    case Where::kConst: *out = b.data; return Status::ok();
    case Where::kVariable: {
      const auto& buffer = weights.buffers[b.index];
      *out = buffer ? buffer->data() : nullptr;
      return Status::ok();
    }
    case Where::kNone: *out = nullptr; return Status::ok();
  }
  return make_error(StatusCode::kInternal, "bad binding");
}

uint64_t Plan::generation(const Binding& b, const WeightSnapshot& weights) {
  if (b.where == Where::kConst) return 1;
  if (b.where != Where::kVariable) return 0;
  const auto& buffer = weights.buffers[b.index];
  return buffer ? buffer->generation() : 0;
}

uint8_t* Plan::acquire_arena() const {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!arena_pool_.empty()) {
      uint8_t* a = arena_pool_.back().release();
      arena_pool_.pop_back();
      return a;
    }
  }
  return static_cast<uint8_t*>(alloc_aligned(arena_bytes_));
}

void Plan::release_arena(uint8_t* arena) const {
  AlignedPtr owned(arena);
  std::lock_guard<std::mutex> lock(pool_mu_);
  // Called on every exit of run(), unwinding included: when the pool cannot grow, the arena is
  // freed instead of pooled.
  try {
    arena_pool_.push_back(std::move(owned));
  } catch (const std::bad_alloc&) {
  }
}

Status Plan::write_variable(int32_t slot, const void* src, uint64_t plain_bytes, WeightBuffer* dst,
                            StoreMode mode) const {
  // The slot's layout is fixed before any write, and never changes after.
  if (auto layout = store_->layout(slot)) {
    Status status = layout->pack(src, dst->data(), mode);
    if (!status.is_ok())
      return status.with_context(str_cat("writing Variable '", store_->slots()[static_cast<size_t>(slot)].name, "': "));
  } else {
    parallel_copy(dst->data(), src, plain_bytes, mode);
  }
  return Status::ok();
}

Status Plan::run_assigns(const std::vector<const void*>& inputs, const std::vector<void*>& outputs,
                         VariableStore::Update* update) const {
  // Large tensors use every thread each; the small ones are spread over the threads one tensor
  // per thread at a time (one parallel region instead of one per tensor).
  constexpr uint64_t kLarge = uint64_t{4} << 20;
  struct Job {
    int32_t slot;
    const void* src;
    uint64_t bytes;
    WeightBuffer* dst;
    bool from_file;  // a Const in the mapped file: drop its pages once copied
    uint64_t reads;  // how often an inference reads it (VariableStore::reads_per_run)
    StoreMode mode = StoreMode::kCached;
  };
  std::vector<Job> small, large;
  // All buffers at once: those the pool lacks may then share one block of huge pages.
  std::vector<WeightBuffer*> buffers;
  LW_RETURN_IF_ERROR(update->stage_many(assign_slots_, &buffers));
  const std::vector<uint64_t> reads = store_->reads_per_run(assign_slots_);
  uint64_t total = 0;
  for (size_t k = 0; k < assigns_.size(); ++k) {
    const Step& s = *assigns_[k];
    const void* src = nullptr;
    LW_RETURN_IF_ERROR(resolve(s.inputs[1], update->base(), inputs, outputs, nullptr, &src));
    bool from_file = s.inputs[1].where == Where::kConst && mapped_.contains(src, s.assign_bytes);
    (s.assign_bytes >= kLarge ? large : small).push_back({s.assign_slot, src, s.assign_bytes, buffers[k], from_file, reads[k]});
    total += s.assign_bytes;
  }
  // Written around the cache when it is larger than the last-level cache, or is a megabyte or
  // more of a model whose weights are, or of weights an inference reuses while the buffers
  // involved overflow the cache (see store_mode_for); otherwise it stays cached for the next
  // inference. Copy-on-write writes buffers other than the current weights.
  const uint64_t model_bytes = store_->total_bytes();
  const uint64_t footprint = (store_->options().in_place ? 1 : 2) * total + model_bytes;
  for (std::vector<Job>* jobs : {&large, &small})
    for (Job& j : *jobs) j.mode = store_mode_for(total, model_bytes, footprint, j.reads);
  MappedPageDropper dropper;
  for (const Job& j : large) {
    LW_RETURN_IF_ERROR(write_variable(j.slot, j.src, j.bytes, j.dst, j.mode));
    if (j.from_file) dropper.add(j.src, j.bytes);
  }
  if (small.empty()) return Status::ok();
  std::vector<Status> results(small.size());
  const long n = static_cast<long>(small.size());
  auto write_small = [&](long i) {
    const Job& j = small[static_cast<size_t>(i)];
    results[static_cast<size_t>(i)] = write_variable(j.slot, j.src, j.bytes, j.dst, j.mode);
  };
  // A lone small tensor is copied outside any region, on every thread (see parallel_for_each).
  parallel_for_each(n, num_threads_, write_small);
  for (const Job& j : small)
    if (j.from_file) dropper.add(j.src, j.bytes);
  for (const Status& st : results) LW_RETURN_IF_ERROR(st);
  return Status::ok();
}

Plan::~Plan() {
  if (!profiling() || profiled_runs_ == 0) return;
  std::vector<std::pair<std::string, ProfileEntry>> rows(profile_.begin(), profile_.end());
  std::sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) { return x.second.ms > y.second.ms; });
  double total = 0;
  for (const auto& r : rows) total += r.second.ms;
  std::fprintf(stderr, "liveweight profile: graph '%s', %llu runs, %.3f ms of steps per run\n", graph_.name.c_str(),
               static_cast<unsigned long long>(profiled_runs_), total / static_cast<double>(profiled_runs_));
  for (const auto& r : rows)
    std::fprintf(stderr, "  %-40s %9.3f ms/run %5.1f%%  %llu steps/run\n", r.first.c_str(),
                 r.second.ms / static_cast<double>(profiled_runs_), total > 0 ? 100.0 * r.second.ms / total : 0.0,
                 static_cast<unsigned long long>(r.second.calls / profiled_runs_));
}

Status Plan::run(const WeightSnapshot& weights, const std::vector<const void*>& inputs,
                 const std::vector<void*>& outputs, VariableStore::Update* update) const {
  for (int32_t slot : variables_read_)
    if (!weights.buffers[static_cast<size_t>(slot)])
      return make_error(StatusCode::kInvalidArgument, "graph '", graph_.name, "' reads Variable '",
                        store_->slots()[static_cast<size_t>(slot)].name,
                        "', which has never been written: run the weight-init graph or an update that sets it first");
  if (writes_variables_ && !update) return make_error(StatusCode::kInternal, "update graph run without an update");

  omp_set_num_threads(num_threads_);
  if (assign_only_) return run_assigns(inputs, outputs, update);
  uint8_t* arena = acquire_arena();
  if (!arena) return make_error(StatusCode::kOutOfMemory, "cannot allocate ", arena_bytes_, " bytes of activation memory");
  // Back to the pool on every exit, a bad_alloc thrown by a step included (it leaked before).
  struct ArenaReturn {
    const Plan* plan;
    uint8_t* arena;
    ~ArenaReturn() { plan->release_arena(arena); }
  } arena_return{this, arena};

  Status status;
  // Reused by this thread's runs: no allocation per run once they have grown.
  struct StepPointers {
    std::vector<const void*> in;
    std::vector<void*> out;
    std::vector<uint64_t> generations;
  };
  auto pointers = ThreadScratch<StepPointers>::borrow();
  std::vector<const void*>& in_ptrs = pointers->in;
  std::vector<void*>& out_ptrs = pointers->out;
  std::vector<uint64_t>& in_generations = pointers->generations;
  for (const Step& s : steps_) {
    if (s.renames_only) continue;
    if (!s.kernel) {  // Assign
      if (s.assign_skip) continue;
      const void* src = nullptr;
      status = resolve(s.inputs[1], weights, inputs, outputs, arena, &src);
      if (!status.is_ok()) break;
      auto staged = update->stage(s.assign_slot);
      if (!staged.is_ok()) {
        status = staged.status();
        break;
      }
      status = write_variable(s.assign_slot, src, s.assign_bytes, *staged, StoreMode::kCached);
      if (!status.is_ok()) break;
      continue;
    }
    bool empty = false;
    for (ir::ValueId out : s.node->outputs)
      if (has_zero_dim(graph_.value(out).shape.dims())) empty = true;
    if (empty) continue;
    in_ptrs.assign(s.inputs.size(), nullptr);
    out_ptrs.assign(s.outputs.size(), nullptr);
    in_generations.assign(s.inputs.size(), 0);
    for (size_t i = 0; i < s.inputs.size(); ++i) {
      status = resolve(s.inputs[i], weights, inputs, outputs, arena, &in_ptrs[i]);
      if (!status.is_ok()) break;
      in_generations[i] = generation(s.inputs[i], weights);
    }
    for (size_t i = 0; i < s.outputs.size() && status.is_ok(); ++i) {
      const void* p = nullptr;
      status = resolve(s.outputs[i], weights, inputs, outputs, arena, &p);
      out_ptrs[i] = const_cast<void*>(p);
    }
    if (!status.is_ok()) break;
    if (profiling()) {
      auto t0 = std::chrono::steady_clock::now();
      status = s.kernel->run({in_ptrs.data(), out_ptrs.data(), arena + scratch_offset_, in_generations.data()});
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      std::string key = profile_mode() == ProfileMode::kSteps
                            ? step_profile_key(static_cast<size_t>(&s - steps_.data()), *s.node, graph_)
                            : profile_key(*s.node);
      std::lock_guard<std::mutex> lock(profile_mu_);
      ProfileEntry& e = profile_[key];
      e.ms += ms;
      ++e.calls;
    } else {
      status = s.kernel->run({in_ptrs.data(), out_ptrs.data(), arena + scratch_offset_, in_generations.data()});
    }
    if (!status.is_ok()) {
      status = with_node_context(status, *s.node);
      break;
    }
  }
  if (profiling() && status.is_ok()) {
    std::lock_guard<std::mutex> lock(profile_mu_);
    ++profiled_runs_;
  }
  if (status.is_ok()) {
    for (const Copy& c : final_copies_) {
      const void* src = nullptr;
      status = resolve(c.from, weights, inputs, outputs, arena, &src);
      if (!status.is_ok()) break;
      if (src != outputs[c.output]) std::memmove(outputs[c.output], src, c.bytes);
    }
  }
  return status;
}

}  // namespace lw::rt
