// One oneDNN primitive with a fixed list of arguments, run without creating oneDNN objects.
//
// Building a dnnl::memory per argument and an std::unordered_map of them on every run costs
// about 30 heap allocations per convolution. A DnnlCall keeps, per concurrent execution, one
// set of memory objects and a plain dnnl_exec_arg_t array: a run re-points the memory objects
// at the run's buffers (dnnl_memory_set_data_handle, which does not allocate) and hands the
// array to dnnl_primitive_execute. What remains are oneDNN's own allocations inside every
// execution (its argument map: about 4 per call in oneDNN 2.6).
//
// A memory object whose layout has padding (a blocked weight whose channel count is not a
// multiple of the block) is never re-pointed: set_data_handle would rewrite its padding with
// zeros, and a weight buffer is shared by concurrent inferences. It is created again when its
// buffer changes (after a refresh), and kept while it does not.
//
// A reorder between two activation layouts that activation_reorder.h converts (made by
// reorder_call) holds no primitive: its run() is that conversion, which allocates nothing.
//
// Thread-safety: run() may be called from several threads at once. Each call takes one of
// kSlots sets of memory objects (lock-free); when all are taken, it builds a temporary one.
#pragma once

#include <array>
#include <atomic>
#include <initializer_list>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "backends/cpu/activation_reorder.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace lw::cpu {

class DnnlCall {
 public:
  struct Arg {
    int id;  // DNNL_ARG_*
    dnnl::memory::desc desc;
  };

  DnnlCall();
  DnnlCall(dnnl::primitive prim, std::vector<Arg> args);
  // run({src, dst}) converts with run_activation_reorder on omp_get_max_threads() threads.
  explicit DnnlCall(const ActivationReorder& own);
  // Moving is for setting up (before any run): the memory object sets are not moved.
  DnnlCall(DnnlCall&& other) noexcept;
  DnnlCall& operator=(DnnlCall&& other) noexcept;
  DnnlCall(const DnnlCall&) = delete;
  DnnlCall& operator=(const DnnlCall&) = delete;
  ~DnnlCall();

  // Runs the primitive on this thread's stream with argument i at buffers[i] (as many as the
  // constructor's list), and waits for it. Throws dnnl::error on failure.
  void run(std::initializer_list<const void*> buffers) const;
  void run(const void* const* buffers, size_t count) const;

 private:
  struct Bound;  // one set of memory objects and the argument array over them
  static constexpr size_t kSlots = 4;

  std::unique_ptr<Bound> make_bound() const;
  void bind(Bound& b, const void* const* buffers) const;
  void execute(Bound& b) const;

  dnnl::primitive prim_;
  std::optional<ActivationReorder> own_;
  std::vector<Arg> args_;
  std::vector<bool> padded_;
  mutable std::array<std::atomic<bool>, kSlots> busy_{};
  mutable std::array<std::unique_ptr<Bound>, kSlots> slots_;
};

}  // namespace lw::cpu
