#include "backends/cpu/dnnl_call.h"

#include <omp.h>

#include "backends/cpu/dnnl_util.h"

namespace lw::cpu {

struct DnnlCall::Bound {
  std::vector<dnnl::memory> memory;
  std::vector<dnnl_exec_arg_t> args;
  std::vector<const void*> handle;  // what each memory object points at
};

namespace {
// Whether `d` lays out more elements than it holds (zero padding of a blocked dim).
bool has_padding(const dnnl::memory::desc& d) {
  const dnnl_memory_desc_t& m = d.data;
  for (int i = 0; i < m.ndims; ++i)
    if (m.padded_dims[i] != m.dims[i] || m.padded_offsets[i] != 0) return true;
  return false;
}
}  // namespace

DnnlCall::DnnlCall(dnnl::primitive prim, std::vector<Arg> args) : prim_(std::move(prim)), args_(std::move(args)) {
  for (const Arg& a : args_) padded_.push_back(has_padding(a.desc));
}

DnnlCall::DnnlCall(const ActivationReorder& own) : own_(own) {}

DnnlCall::DnnlCall(DnnlCall&& other) noexcept
    : prim_(std::move(other.prim_)), own_(other.own_), args_(std::move(other.args_)),
      padded_(std::move(other.padded_)) {}

DnnlCall& DnnlCall::operator=(DnnlCall&& other) noexcept {
  prim_ = std::move(other.prim_);
  own_ = other.own_;
  args_ = std::move(other.args_);
  padded_ = std::move(other.padded_);
  for (auto& s : slots_) s.reset();
  return *this;
}

DnnlCall::DnnlCall() = default;
DnnlCall::~DnnlCall() = default;

std::unique_ptr<DnnlCall::Bound> DnnlCall::make_bound() const {
  auto b = std::make_unique<Bound>();
  const dnnl::engine& eng = dnnl_cpu_engine();
  for (size_t i = 0; i < args_.size(); ++i) {
    // Padded ones are created when first bound (see the header).
    b->memory.push_back(padded_[i] ? dnnl::memory() : dnnl::memory(args_[i].desc, eng, DNNL_MEMORY_NONE));
    b->args.push_back({args_[i].id, b->memory.back() ? b->memory.back().get() : nullptr});
    b->handle.push_back(nullptr);
  }
  return b;
}

void DnnlCall::bind(Bound& b, const void* const* buffers) const {
  for (size_t i = 0; i < args_.size(); ++i) {
    const void* p = buffers[i];
    if (b.memory[i] && b.handle[i] == p) continue;
    if (padded_[i]) {
      b.memory[i] = dnnl::memory(args_[i].desc, dnnl_cpu_engine(), const_cast<void*>(p));
      b.args[i].memory = b.memory[i].get();
    } else {
      b.memory[i].set_data_handle(const_cast<void*>(p));
    }
    b.handle[i] = p;
  }
}

void DnnlCall::execute(Bound& b) const {
  dnnl::stream& stream = dnnl_thread_stream();
  dnnl_status_t st = dnnl_primitive_execute(prim_.get(), stream.get(), static_cast<int>(b.args.size()), b.args.data());
  if (st != dnnl_success) throw dnnl::error(st, "could not execute a primitive");
  stream.wait();
}

void DnnlCall::run(const void* const* buffers, size_t count) const {
  if (own_) {
    if (count != 2) throw dnnl::error(dnnl_invalid_arguments, "a reorder takes 2 arguments");
    run_activation_reorder(*own_, static_cast<const float*>(buffers[0]), static_cast<float*>(const_cast<void*>(buffers[1])),
                           omp_get_max_threads());
    return;
  }
  if (count != args_.size()) throw dnnl::error(dnnl_invalid_arguments, "wrong number of primitive arguments");
  for (size_t k = 0; k < kSlots; ++k) {
    if (busy_[k].exchange(true, std::memory_order_acquire)) continue;
    struct Release {
      std::atomic<bool>& flag;
      ~Release() { flag.store(false, std::memory_order_release); }
    } release{busy_[k]};
    if (!slots_[k]) slots_[k] = make_bound();
    bind(*slots_[k], buffers);
    execute(*slots_[k]);
    return;
  }
  // Every slot is in use by other threads: a set for this run only.
  std::unique_ptr<Bound> b = make_bound();
  bind(*b, buffers);
  execute(*b);
}

void DnnlCall::run(std::initializer_list<const void*> buffers) const { run(buffers.begin(), buffers.size()); }

}  // namespace lw::cpu
