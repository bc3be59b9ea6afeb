// The CUDA plan: a graph prepared for one CUDA device and one set of static input shapes.
//
// Every node gets a CUDA kernel when the backend has one that accepts it; otherwise it runs on
// its CPU kernel over host copies of its inputs (the stream is synchronized around it), so any
// bundle the CPU backend runs also runs here, the nodes without a CUDA kernel just cost a round
// trip. Activations live in one device arena per concurrent execution (planned as on the CPU);
// Const data is uploaded once when the plan is made; Variables are read from the pinned
// snapshot's device buffers. Inputs and outputs may be device or host memory: host inputs are
// copied into the arena first, outputs are copied to wherever the caller's buffer is.
//
// Profiling: with LW_CUDA_PROFILE=1 every step is timed with CUDA events and each plan prints
// its time per op type (and the host fallbacks') to stderr when it is destroyed.
//
// Concurrency: each run takes an execution context (stream, cuBLAS/cuDNN handles, arena,
// staging) from a pool, so concurrent runs overlap on the GPU; run() returns after the stream
// has finished, so the snapshot a run pinned stays alive for all of its kernels.
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "backends/cpu/kernel.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda/kernel.h"
#include "backends/cuda/libraries.h"
#include "backends/cuda/weight_copy.h"
#include "compiler/passes/epilogue_fusion.h"
#include "runtime/execution_plan.h"
#include "runtime/memory_planner.h"
#include "runtime/plan_checks.h"

namespace lw::cuda {

namespace {

using rt::has_zero_dim;
using rt::VariableStore;
using rt::WeightSnapshot;
using rt::with_node_context;

constexpr uint64_t kAlign = 256;
// Pinned-host weights below this size are copied by the batched kernel rather than by DMA.
constexpr uint64_t kZeroCopyBelow = uint64_t{256} << 10;

bool profiling() {
  static const bool on = [] {
    const char* v = std::getenv("LW_CUDA_PROFILE");
    return v && *v && std::string(v) != "0";
  }();
  return on;
}
uint64_t align_up(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// Device memory owned by a plan or a context.
struct DeviceBlock {
  void* p = nullptr;
  DeviceBlock() = default;
  explicit DeviceBlock(void* q) : p(q) {}
  DeviceBlock(const DeviceBlock&) = delete;
  DeviceBlock& operator=(const DeviceBlock&) = delete;
  ~DeviceBlock() { free_device(p); }
};

struct PinnedBlock {
  void* p = nullptr;
  PinnedBlock() = default;
  PinnedBlock(const PinnedBlock&) = delete;
  PinnedBlock& operator=(const PinnedBlock&) = delete;
  ~PinnedBlock() { free_host(p); }
};

enum class Where : uint8_t { kArena, kInput, kConst, kVariable, kNone };
struct Binding {
  Where where = Where::kNone;
  uint64_t index = 0;            // arena offset, input index, variable slot, or const offset
  const void* host = nullptr;    // kConst: the host data
};

struct Step {
  const ir::Node* node = nullptr;
  std::unique_ptr<Kernel> gpu;        // a CUDA kernel, or
  std::unique_ptr<cpu::Kernel> host;  // the CPU kernel over host copies, or neither: an Assign
  std::vector<Binding> inputs;
  std::vector<Binding> outputs;
  std::vector<uint64_t> input_bytes, output_bytes;  // host steps: what to copy each way
  bool skip = false;  // an output has a zero dim: nothing to compute
  // Assign only:
  int32_t assign_slot = -1;
  uint64_t assign_bytes = 0;
  bool assign_skip = false;
};

// One execution's private resources; pooled by the plan.
struct ExecContext {
  int device = 0;
  cudaStream_t stream = nullptr;
  // Marks the legacy default stream's work at the start of a run, so the run's stream waits for
  // whatever a caller enqueued there (cudaMemcpy of an input may still be in flight).
  cudaEvent_t legacy_mark = nullptr;
  ExecHandles handles;
  DeviceBlock arena;
  PinnedBlock host_staging;  // host steps' inputs, outputs and scratch
  DeviceBlock copy_table;    // batched weight copy descriptors (device)
  PinnedBlock copy_table_host;
  uint64_t copy_table_jobs = 0;
  PinnedRing ring;
  std::vector<cudaEvent_t> step_events;  // LW_CUDA_PROFILE: one before each step and one after the last
  ~ExecContext() {
    if (stream) (void)cudaStreamSynchronize(stream);
    for (cudaEvent_t e : step_events) (void)cudaEventDestroy(e);
    destroy_handles(libraries(), &handles);
    if (legacy_mark) (void)cudaEventDestroy(legacy_mark);
    if (stream) (void)cudaStreamDestroy(stream);
  }
};

class CudaPlan : public rt::ExecutionPlan {
 public:
  ~CudaPlan() override;
  static Result<std::unique_ptr<CudaPlan>> create(ir::Graph graph, const VariableStore& store,
                                                  const rt::DeviceOptions& options);

  const std::vector<Dims>& output_dims() const override { return output_dims_; }
  const std::vector<uint64_t>& output_bytes() const override { return output_bytes_; }
  const std::vector<int32_t>& variables_read() const override { return variables_read_; }
  bool writes_variables() const override { return writes_variables_; }
  Status run(const WeightSnapshot& weights, const std::vector<const void*>& inputs,
             const std::vector<void*>& outputs, VariableStore::Update* update) const override;

 private:
  CudaPlan() = default;
  Result<std::unique_ptr<ExecContext>> acquire() const;
  void release(std::unique_ptr<ExecContext> ctx) const;
  const void* resolve(const Binding& b, const WeightSnapshot& weights, const std::vector<const void*>& inputs,
                      uint8_t* arena) const;
  Status run_steps(ExecContext& ctx, const WeightSnapshot& weights, const std::vector<const void*>& inputs,
                   const std::vector<void*>& outputs, VariableStore::Update* update) const;
  Status run_host_step(ExecContext& ctx, const Step& s, const WeightSnapshot& weights,
                       const std::vector<const void*>& inputs) const;
  Status run_assigns(ExecContext& ctx, const WeightSnapshot& weights, const std::vector<const void*>& inputs,
                     VariableStore::Update* update) const;

  ir::Graph graph_;
  const VariableStore* store_ = nullptr;
  rt::DeviceOptions options_;
  std::vector<Step> steps_;
  std::vector<Binding> output_from_;  // where each graph output is, copied out at the end
  std::vector<uint64_t> input_staging_;  // arena offset for each graph input given in host memory
  std::vector<uint64_t> input_bytes_;
  std::vector<Dims> output_dims_;
  std::vector<uint64_t> output_bytes_;
  std::vector<int32_t> variables_read_;
  bool writes_variables_ = false;
  bool assign_only_ = false;
  uint64_t arena_bytes_ = 0;
  uint64_t scratch_offset_ = 0;
  uint64_t host_staging_bytes_ = 0;
  std::unique_ptr<DeviceBlock> consts_;  // every Const a step reads, uploaded once

  mutable std::mutex pool_mu_;
  mutable std::vector<std::unique_ptr<ExecContext>> pool_;

  // LW_CUDA_PROFILE: milliseconds per step summed over the profiled runs. The plan's first run
  // is kept apart (first_run_ms_, -1 until it ran): CUDA loads kernels lazily and cuBLAS and
  // cuDNN set themselves up on first use, which made ResNet-50's one GEMM look like 0.25 ms
  // per run over 30 runs (4.1 ms with cuDNN switched off) where it takes a few microseconds.
  void record_profile(ExecContext& ctx) const;
  mutable std::mutex profile_mu_;
  mutable std::vector<double> step_ms_;
  mutable uint64_t profiled_runs_ = 0;
  mutable double first_run_ms_ = -1;
};

CudaPlan::~CudaPlan() {
  if (!profiling() || first_run_ms_ < 0) return;
  if (profiled_runs_ == 0) {
    std::fprintf(stderr, "liveweight CUDA profile: graph '%s', one run (the first, with CUDA's lazy loading): %.3f ms in steps\n",
                 graph_.name.c_str(), first_run_ms_);
    return;
  }
  std::map<std::string, std::pair<double, int>> by_op;  // op (host: "host:<op>") -> ms, nodes
  double total = 0;
  for (size_t i = 0; i < steps_.size() && i < step_ms_.size(); ++i) {
    const Step& st = steps_[i];
    std::string key = st.host ? "host:" + st.node->op : st.node->op;
    if (st.gpu && !st.gpu->variant().empty()) key += " [" + st.gpu->variant() + "]";
    by_op[key].first += step_ms_[i] / static_cast<double>(profiled_runs_);
    by_op[key].second += 1;
    total += step_ms_[i] / static_cast<double>(profiled_runs_);
  }
  std::vector<std::pair<std::string, std::pair<double, int>>> rows(by_op.begin(), by_op.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  std::fprintf(stderr,
               "liveweight CUDA profile: graph '%s', %llu runs after the first, %.3f ms per run in steps (first run, "
               "not counted: %.3f ms)\n",
               graph_.name.c_str(), static_cast<unsigned long long>(profiled_runs_), total, first_run_ms_);
  for (const auto& [op, v] : rows)
    std::fprintf(stderr, "  %-44s %4d nodes %9.3f ms/run\n", op.c_str(), v.second, v.first);
}

void CudaPlan::record_profile(ExecContext& ctx) const {
  if (ctx.step_events.size() != steps_.size() + 1) return;
  std::vector<double> ms(steps_.size(), 0.0);
  for (size_t i = 0; i < steps_.size(); ++i) {
    float t = 0;
    if (cudaEventElapsedTime(&t, ctx.step_events[i], ctx.step_events[i + 1]) == cudaSuccess) ms[i] = t;
  }
  std::lock_guard<std::mutex> lock(profile_mu_);
  if (first_run_ms_ < 0) {
    first_run_ms_ = 0;
    for (double t : ms) first_run_ms_ += t;
    return;
  }
  step_ms_.resize(steps_.size(), 0.0);
  for (size_t i = 0; i < ms.size(); ++i) step_ms_[i] += ms[i];
  ++profiled_runs_;
}

Result<std::unique_ptr<CudaPlan>> CudaPlan::create(ir::Graph graph, const VariableStore& store,
                                                   const rt::DeviceOptions& options) {
  std::unique_ptr<CudaPlan> plan(new CudaPlan());
  plan->graph_ = std::move(graph);
  plan->store_ = &store;
  plan->options_ = options;
  LW_RETURN_IF_ERROR(set_device(options.cuda_device));
  passes::fuse_epilogues(plan->graph_);
  const ir::Graph& g = plan->graph_;
  const Libraries& libs = libraries();

  LW_RETURN_IF_ERROR(rt::check_static_values(g));

  std::vector<Binding> binding(g.values.size());
  std::vector<int32_t> arena_values;
  std::vector<int32_t> def_step(g.values.size(), -1), last_use(g.values.size(), -1);
  std::set<int32_t> read_slots;
  // Consts read by steps, uploaded below: value -> offset in the const block.
  std::vector<std::pair<const ir::TensorData*, uint64_t>> const_uploads;
  uint64_t const_bytes = 0;
  std::vector<int64_t> const_offset(g.values.size(), -1);
  VariableStore& mutable_store = const_cast<VariableStore&>(store);

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
      LW_ASSIGN_OR_RETURN(int32_t slot, rt::variable_slot(g, n, store));
      // CUDA kernels read every weight plain, so a refresh is a pure copy.
      if (!mutable_store.fix_layout(slot, nullptr))
        return make_error(StatusCode::kInternal, "Variable '", g.value(n.outputs[0]).name,
                          "' is held in a packed layout");
      binding[static_cast<size_t>(n.outputs[0])] = {Where::kVariable, static_cast<uint64_t>(slot), nullptr};
      continue;
    }

    Step step;
    step.node = &n;
    const int32_t step_index = static_cast<int32_t>(plan->steps_.size());
    for (size_t s = 0; s < n.inputs.size(); ++s) {
      ir::ValueId in = n.inputs[s];
      if (in == ir::kNoValue) continue;
      last_use[static_cast<size_t>(in)] = step_index;
      const Binding& b = binding[static_cast<size_t>(in)];
      if (b.where == Where::kVariable && !(n.op == ir::kOpAssign && s == 0))
        read_slots.insert(static_cast<int32_t>(b.index));
    }

    if (n.op == ir::kOpAssign) {
      step.assign_slot = static_cast<int32_t>(binding[static_cast<size_t>(n.inputs[0])].index);
      LW_RETURN_IF_ERROR(rt::check_assign(g, n, &step.assign_skip));
      step.assign_bytes = store.slots()[static_cast<size_t>(step.assign_slot)].bytes;
      plan->writes_variables_ = true;
      plan->steps_.push_back(std::move(step));
      continue;
    }

    std::vector<ir::TensorType> in_types, out_types;
    std::vector<const ir::TensorData*> const_inputs;
    for (ir::ValueId in : n.inputs) {
      if (in == ir::kNoValue) {
        in_types.push_back({});
        const_inputs.push_back(nullptr);
        continue;
      }
      const ir::Value& v = g.value(in);
      in_types.push_back({v.dtype, v.shape});
      const ir::Node& p = g.nodes[static_cast<size_t>(v.producer)];
      const_inputs.push_back(p.op == ir::kOpConst ? p.attr_tensor("value") : nullptr);
    }
    for (ir::ValueId out : n.outputs) {
      const ir::Value& v = g.value(out);
      out_types.push_back({v.dtype, v.shape});
      if (has_zero_dim(v.shape.dims())) step.skip = true;
    }

    // A CUDA kernel when one exists and accepts the node; else the CPU kernel.
    if (KernelFactory factory = find_cuda_kernel(n.op)) {
      KernelSpec spec{n, in_types, out_types, const_inputs, options.allow_tf32, &libs};
      auto kernel = factory(spec);
      if (kernel.is_ok()) {
        step.gpu = std::move(kernel).value();
      } else if (kernel.status().code() != StatusCode::kUnsupportedDtype &&
                 kernel.status().code() != StatusCode::kOpNotFound) {
        return with_node_context(kernel.status(), n);
      }
    }
    if (!step.gpu) {
      cpu::KernelFactory factory = cpu::find_cpu_kernel(n.op);
      if (!factory) return make_error(StatusCode::kOpNotFound, "graph '", g.name, "': no kernel for op ", n.op);
      cpu::KernelSpec spec{n, in_types, out_types, const_inputs, options.num_threads > 0 ? options.num_threads : 1,
                           {}, {}, {}, {}};
      auto kernel = factory(spec);
      if (!kernel.is_ok()) return with_node_context(kernel.status(), n);
      step.host = std::move(kernel).value();
      // Every value's size was checked above.
      auto bytes_of = [](const ir::TensorType& t) -> uint64_t {
        if (t.dtype == DType::kUndefined) return 0;
        auto b = byte_size(t.dtype, t.shape.dims());
        return b.is_ok() ? *b : 0;
      };
      for (const auto& t : in_types) step.input_bytes.push_back(bytes_of(t));
      for (const auto& t : out_types) step.output_bytes.push_back(bytes_of(t));
      uint64_t staging = 0;
      for (uint64_t b : step.input_bytes) staging += align_up(b);
      for (uint64_t b : step.output_bytes) staging += align_up(b);
      staging += align_up(step.host->scratch_bytes());
      plan->host_staging_bytes_ = std::max(plan->host_staging_bytes_, staging);
    }

    // Consts a CUDA kernel reads as data go to the device.
    if (step.gpu) {
      for (ir::ValueId in : n.inputs) {
        if (in == ir::kNoValue) continue;
        const Binding& b = binding[static_cast<size_t>(in)];
        if (b.where != Where::kConst || const_offset[static_cast<size_t>(in)] >= 0) continue;
        const ir::Node& p = g.nodes[static_cast<size_t>(g.value(in).producer)];
        const ir::TensorData* t = p.attr_tensor("value");
        if (!t) continue;
        const_offset[static_cast<size_t>(in)] = static_cast<int64_t>(const_bytes);
        const_uploads.push_back({t, const_bytes});
        const_bytes += align_up(t->bytes.size);
      }
    }
    for (ir::ValueId out : n.outputs) {
      binding[static_cast<size_t>(out)] = {Where::kArena, 0, nullptr};
      arena_values.push_back(out);
      def_step[static_cast<size_t>(out)] = step_index;
    }
    plan->steps_.push_back(std::move(step));
  }
  for (size_t v = 0; v < const_offset.size(); ++v)
    if (const_offset[v] >= 0) binding[v].index = static_cast<uint64_t>(const_offset[v]);

  // Arena: activations (graph outputs live to the end), then staging for host inputs, then
  // kernel scratch.
  std::vector<rt::Lifetime> lifetimes;
  const int32_t end = static_cast<int32_t>(plan->steps_.size());
  for (int32_t v : arena_values) {
    const ir::Value& val = g.value(v);
    LW_ASSIGN_OR_RETURN(uint64_t bytes, byte_size(val.dtype, val.shape.dims()));
    int32_t first = def_step[static_cast<size_t>(v)];
    int32_t last = std::max(first, last_use[static_cast<size_t>(v)]);
    for (ir::ValueId out : g.outputs)
      if (out == v) last = end;
    lifetimes.push_back({bytes, first, last});
  }
  rt::ArenaPlan arena = rt::plan_arena(lifetimes);
  for (size_t i = 0; i < arena_values.size(); ++i) binding[static_cast<size_t>(arena_values[i])].index = arena.offsets[i];
  uint64_t offset = align_up(arena.arena_bytes);
  for (ir::ValueId in : g.inputs) {
    const ir::Value& v = g.value(in);
    LW_ASSIGN_OR_RETURN(uint64_t bytes, byte_size(v.dtype, v.shape.dims()));
    plan->input_staging_.push_back(offset);
    plan->input_bytes_.push_back(bytes);
    offset += align_up(bytes);
  }
  uint64_t scratch = 0;
  for (const Step& s : plan->steps_)
    if (s.gpu) scratch = std::max<uint64_t>(scratch, s.gpu->scratch_bytes());
  plan->scratch_offset_ = offset;
  plan->arena_bytes_ = offset + align_up(scratch);

  for (Step& s : plan->steps_) {
    s.inputs.clear();
    for (ir::ValueId in : s.node->inputs) s.inputs.push_back(in == ir::kNoValue ? Binding{} : binding[static_cast<size_t>(in)]);
    s.outputs.clear();
    for (ir::ValueId out : s.node->outputs) s.outputs.push_back(binding[static_cast<size_t>(out)]);
  }
  for (ir::ValueId out : g.outputs) {
    const ir::Value& v = g.value(out);
    LW_ASSIGN_OR_RETURN(uint64_t bytes, byte_size(v.dtype, v.shape.dims()));
    plan->output_dims_.push_back(v.shape.dims());
    plan->output_bytes_.push_back(bytes);
    plan->output_from_.push_back(binding[static_cast<size_t>(out)]);
  }
  plan->variables_read_.assign(read_slots.begin(), read_slots.end());
  plan->assign_only_ = !plan->steps_.empty() && g.outputs.empty();
  for (const Step& s : plan->steps_)
    plan->assign_only_ = plan->assign_only_ && !s.gpu && !s.host &&
                         (s.inputs[1].where == Where::kInput || s.inputs[1].where == Where::kConst);

  if (const_bytes > 0) {
    LW_ASSIGN_OR_RETURN(void* block, malloc_device(const_bytes));
    plan->consts_ = std::make_unique<DeviceBlock>(block);
    for (const auto& [t, off] : const_uploads)
      LW_RETURN_IF_ERROR(copy(static_cast<uint8_t*>(block) + off, t->bytes.data, t->bytes.size));
  }
  return plan;
}

Result<std::unique_ptr<ExecContext>> CudaPlan::acquire() const {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!pool_.empty()) {
      auto ctx = std::move(pool_.back());
      pool_.pop_back();
      return ctx;
    }
  }
  auto ctx = std::make_unique<ExecContext>();
  ctx->device = options_.cuda_device;
  LW_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking));
  LW_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&ctx->legacy_mark, cudaEventDisableTiming));
  LW_RETURN_IF_ERROR(create_handles(libraries(), ctx->stream, &ctx->handles));
  if (arena_bytes_ > 0) {
    LW_ASSIGN_OR_RETURN(void* arena, malloc_device(arena_bytes_));
    ctx->arena.p = arena;
  }
  if (host_staging_bytes_ > 0) {
    LW_ASSIGN_OR_RETURN(void* staging, malloc_host(host_staging_bytes_));
    ctx->host_staging.p = staging;
  }
  return ctx;
}

void CudaPlan::release(std::unique_ptr<ExecContext> ctx) const {
  std::lock_guard<std::mutex> lock(pool_mu_);
  try {
    pool_.push_back(std::move(ctx));
  } catch (const std::bad_alloc&) {
    // ctx frees itself
  }
}

const void* CudaPlan::resolve(const Binding& b, const WeightSnapshot& weights, const std::vector<const void*>& inputs,
                              uint8_t* arena) const {
  switch (b.where) {
    case Where::kArena: return arena + b.index;
    case Where::kInput: return inputs[b.index];
    case Where::kConst: return consts_ ? static_cast<const uint8_t*>(consts_->p) + b.index : nullptr;
    case Where::kVariable: {
      const auto& buffer = weights.buffers[b.index];
      return buffer ? buffer->data() : nullptr;
    }
    case Where::kNone: return nullptr;
  }
  return nullptr;
}

Status CudaPlan::run_host_step(ExecContext& ctx, const Step& s, const WeightSnapshot& weights,
                               const std::vector<const void*>& inputs) const {
  // Bring the inputs to pinned host memory (Consts are on the host already), run the CPU
  // kernel, send the outputs back.
  auto* arena = static_cast<uint8_t*>(ctx.arena.p);
  auto* staging = static_cast<uint8_t*>(ctx.host_staging.p);
  uint64_t off = 0;
  std::vector<const void*> in_ptrs(s.inputs.size(), nullptr);
  std::vector<void*> out_ptrs(s.outputs.size(), nullptr);
  for (size_t i = 0; i < s.inputs.size(); ++i) {
    const Binding& b = s.inputs[i];
    if (b.where == Where::kNone) continue;
    if (b.where == Where::kConst) {
      in_ptrs[i] = b.host;
      continue;
    }
    const void* src = resolve(b, weights, inputs, arena);
    if (!src) return make_error(StatusCode::kInternal, "input ", i, " of a host step has no data");
    LW_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(staging + off, src, s.input_bytes[i], cudaMemcpyDefault, ctx.stream));
    in_ptrs[i] = staging + off;
    off += align_up(s.input_bytes[i]);
  }
  for (size_t i = 0; i < s.outputs.size(); ++i) {
    out_ptrs[i] = staging + off;
    off += align_up(s.output_bytes[i]);
  }
  void* scratch = staging + off;
  LW_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(ctx.stream));
  omp_set_num_threads(options_.num_threads > 0 ? options_.num_threads : 1);
  LW_RETURN_IF_ERROR(with_node_context(s.host->run({in_ptrs.data(), out_ptrs.data(), scratch}), *s.node));
  for (size_t i = 0; i < s.outputs.size(); ++i)
    LW_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(arena + s.outputs[i].index, out_ptrs[i], s.output_bytes[i],
                                            cudaMemcpyHostToDevice, ctx.stream));
  return Status::ok();
}

Status CudaPlan::run_assigns(ExecContext& ctx, const WeightSnapshot& weights, const std::vector<const void*>& inputs,
                             VariableStore::Update* update) const {
  omp_set_num_threads(options_.num_threads > 0 ? options_.num_threads : 1);  // the pinned ring's host copies
  std::vector<CopyJob> device_jobs;
  for (const Step& s : steps_) {
    if (s.assign_skip || s.assign_bytes == 0) continue;
    const void* src = s.inputs[1].where == Where::kConst ? s.inputs[1].host : resolve(s.inputs[1], weights, inputs, nullptr);
    if (!src) return make_error(StatusCode::kInternal, "Assign to slot ", s.assign_slot, " has no source data");
    LW_ASSIGN_OR_RETURN(rt::WeightBuffer * dst, update->stage(s.assign_slot));
    switch (pointer_kind(src)) {
      case PointerKind::kDevice:
      case PointerKind::kManaged: device_jobs.push_back({src, dst->data(), s.assign_bytes}); break;
      case PointerKind::kPinnedHost: {
        // Small tensors join the batched kernel, which reads them over the bus (one launch
        // instead of a DMA call each: ResNet-50 has 108 weights, half of them biases); large
        // ones go by DMA at the link's full speed.
        const void* view = s.assign_bytes < kZeroCopyBelow ? pinned_device_view(src) : nullptr;
        if (view) {
          device_jobs.push_back({view, dst->data(), s.assign_bytes});
        } else {
          LW_CUDA_RETURN_IF_ERROR(
              cudaMemcpyAsync(dst->data(), src, s.assign_bytes, cudaMemcpyHostToDevice, ctx.stream));
        }
        break;
      }
      case PointerKind::kPageableHost:
        LW_RETURN_IF_ERROR(ctx.ring.copy_to_device(dst->data(), src, s.assign_bytes, ctx.stream));
        break;
    }
  }
  if (!device_jobs.empty()) {
    const size_t chunks = batch_chunks(device_jobs);
    if (ctx.copy_table_jobs < chunks) {
      // Wait for any earlier batch still reading the old tables before replacing them.
      LW_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(ctx.stream));
      free_device(ctx.copy_table.p);
      ctx.copy_table.p = nullptr;
      free_host(ctx.copy_table_host.p);
      ctx.copy_table_host.p = nullptr;
      ctx.copy_table_jobs = 0;
      LW_ASSIGN_OR_RETURN(ctx.copy_table.p, malloc_device(chunks * sizeof(CopyJob)));
      LW_ASSIGN_OR_RETURN(ctx.copy_table_host.p, malloc_host(chunks * sizeof(CopyJob)));
      ctx.copy_table_jobs = chunks;
    }
    LW_RETURN_IF_ERROR(copy_device_batch(device_jobs, static_cast<CopyJob*>(ctx.copy_table_host.p),
                                         static_cast<CopyJob*>(ctx.copy_table.p), ctx.stream));
  }
  return Status::ok();
}

Status CudaPlan::run_steps(ExecContext& ctx, const WeightSnapshot& weights, const std::vector<const void*>& inputs,
                           const std::vector<void*>& outputs, VariableStore::Update* update) const {
  if (assign_only_) return run_assigns(ctx, weights, inputs, update);
  auto* arena = static_cast<uint8_t*>(ctx.arena.p);
  // Host inputs go to their staging place in the arena first.
  std::vector<const void*> dev_inputs(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    PointerKind kind = pointer_kind(inputs[i]);
    if (kind == PointerKind::kDevice || kind == PointerKind::kManaged || input_bytes_[i] == 0) {
      dev_inputs[i] = inputs[i];
    } else {
      LW_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(arena + input_staging_[i], inputs[i], input_bytes_[i],
                                              cudaMemcpyHostToDevice, ctx.stream));
      dev_inputs[i] = arena + input_staging_[i];
    }
  }
  std::vector<const void*> in_ptrs;
  std::vector<void*> out_ptrs;
  const bool timed = profiling();
  if (timed && ctx.step_events.empty()) {
    ctx.step_events.assign(steps_.size() + 1, nullptr);
    for (cudaEvent_t& e : ctx.step_events) LW_CUDA_RETURN_IF_ERROR(cudaEventCreate(&e));
  }
  size_t step_index = 0;
  for (const Step& s : steps_) {
    if (timed) LW_CUDA_RETURN_IF_ERROR(cudaEventRecord(ctx.step_events[step_index], ctx.stream));
    ++step_index;
    if (!s.gpu && !s.host) {  // Assign inside a larger graph
      if (s.assign_skip) continue;
      const void* src = resolve(s.inputs[1], weights, dev_inputs, arena);
      LW_ASSIGN_OR_RETURN(rt::WeightBuffer * dst, update->stage(s.assign_slot));
      if (src && s.assign_bytes)
        LW_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst->data(), src, s.assign_bytes, cudaMemcpyDefault, ctx.stream));
      continue;
    }
    if (s.skip) continue;
    if (s.host) {
      LW_RETURN_IF_ERROR(run_host_step(ctx, s, weights, dev_inputs));
      continue;
    }
    in_ptrs.assign(s.inputs.size(), nullptr);
    out_ptrs.assign(s.outputs.size(), nullptr);
    for (size_t i = 0; i < s.inputs.size(); ++i) in_ptrs[i] = resolve(s.inputs[i], weights, dev_inputs, arena);
    for (size_t i = 0; i < s.outputs.size(); ++i) out_ptrs[i] = arena + s.outputs[i].index;
    Status st = s.gpu->run({in_ptrs.data(), out_ptrs.data(), arena + scratch_offset_, ctx.handles});
    if (!st.is_ok()) return with_node_context(st, *s.node);
  }
  if (timed) LW_CUDA_RETURN_IF_ERROR(cudaEventRecord(ctx.step_events[steps_.size()], ctx.stream));
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (output_bytes_[k] == 0) continue;
    const Binding& b = output_from_[k];
    const void* src = b.where == Where::kConst ? b.host : resolve(b, weights, dev_inputs, arena);
    if (!src) return make_error(StatusCode::kInternal, "output ", k, " has no data");
    LW_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(outputs[k], src, output_bytes_[k], cudaMemcpyDefault, ctx.stream));
  }
  return Status::ok();
}

Status CudaPlan::run(const WeightSnapshot& weights, const std::vector<const void*>& inputs,
                     const std::vector<void*>& outputs, VariableStore::Update* update) const {
  for (int32_t slot : variables_read_)
    if (!weights.buffers[static_cast<size_t>(slot)])
      return make_error(StatusCode::kInvalidArgument, "graph '", graph_.name, "' reads Variable '",
                        store_->slots()[static_cast<size_t>(slot)].name,
                        "', which has never been written: run the weight-init graph or an update that sets it first");
  if (writes_variables_ && !update) return make_error(StatusCode::kInternal, "update graph run without an update");
  LW_CUDA_RETURN_IF_ERROR(cudaSetDevice(options_.cuda_device));
  LW_ASSIGN_OR_RETURN(std::unique_ptr<ExecContext> ctx, acquire());
  Status status;
  cudaError_t mark = cudaEventRecord(ctx->legacy_mark, cudaStreamLegacy);
  if (mark == cudaSuccess) mark = cudaStreamWaitEvent(ctx->stream, ctx->legacy_mark, 0);
  if (mark != cudaSuccess) status = cuda_error(mark, "ordering after the default stream", __FILE__, __LINE__);
  if (status.is_ok()) status = run_steps(*ctx, weights, inputs, outputs, update);
  // Always wait: the run's memory (arena, staging, pinned snapshot) must outlive its kernels,
  // and a fault inside a kernel surfaces here.
  cudaError_t err = cudaStreamSynchronize(ctx->stream);
  if (status.is_ok() && err != cudaSuccess) status = cuda_error(err, "executing the graph", __FILE__, __LINE__);
  if (status.is_ok()) {
    err = cudaGetLastError();
    if (err != cudaSuccess) status = cuda_error(err, "executing the graph", __FILE__, __LINE__);
  }
  if (status.is_ok() && profiling() && !assign_only_) record_profile(*ctx);
  release(std::move(ctx));
  if (!status.is_ok()) return status.with_context(str_cat("graph '", graph_.name, "' on CUDA: "));
  return status;
}

}  // namespace

Result<std::unique_ptr<rt::ExecutionPlan>> create_plan(ir::Graph graph, const rt::VariableStore& store,
                                                       const rt::DeviceOptions& options) {
  LW_ASSIGN_OR_RETURN(std::unique_ptr<CudaPlan> plan, CudaPlan::create(std::move(graph), store, options));
  return std::unique_ptr<rt::ExecutionPlan>(std::move(plan));
}

std::vector<std::string> kernel_ops() { return cuda_kernel_ops(); }

}  // namespace lw::cuda
