// Small helpers shared by the CPU kernels: errors that name the node, dtype checks,
// element counts and a static-partition OpenMP parallel loop. Header-only; thread-safe.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <new>
#include <stdexcept>

#include "backends/cpu/kernel.h"

namespace lw::cpu {

template <typename... Parts>
Status kernel_error(const KernelSpec& spec, StatusCode code, const Parts&... parts) {
  return make_error(code, "node '", spec.node.name, "' (", spec.node.op, "): ", parts...);
}

// kUnsupportedDtype unless input `i` (when present) has one of `allowed`.
inline Status require_dtype(const KernelSpec& spec, size_t i, std::initializer_list<DType> allowed) {
  if (i >= spec.inputs.size() || spec.inputs[i].dtype == DType::kUndefined) return Status::ok();
  DType t = spec.inputs[i].dtype;
  for (DType a : allowed)
    if (a == t) return Status::ok();
  return kernel_error(spec, StatusCode::kUnsupportedDtype, "the CPU kernel does not support ", dtype_name(t),
                      " for input ", i);
}

inline int64_t numel(const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

// Threads worth using for `work` units when one thread should get at least `grain`.
inline int threads_for(int64_t work, int64_t grain, int max_threads) {
  if (max_threads <= 1 || work <= grain) return 1;
  return static_cast<int>(std::min<int64_t>(max_threads, work / grain));
}

// Calls share(t, parts) on each of `threads` OpenMP threads (t its index, parts their count: a
// share may hold `#pragma omp barrier`s, which all threads reach), or share(0, 1) inline for one.
template <typename Fn>
void run_shares(int threads, Fn&& share) {
  if (threads <= 1) {
    share(0, 1);
    return;
  }
#pragma omp parallel num_threads(threads)
  share(omp_get_thread_num(), omp_get_num_threads());
}

// Calls fn(begin, end) over contiguous slices of [0, n), one per thread (in thread order, as a
// static schedule splits them). With one thread, one item, or where a region would run on one
// thread anyway (inside another parallel region, nesting not enabled), fn(0, n) runs right here
// instead of in a one-thread region: libgomp builds a team for every region, even one whose `if`
// clause fails, and a refresh packs each tensor in a region of its own (blocked_pack.h), inside
// the region that shares the small tensors out: a 16 x 32 weight's pack took 0.49 us that way,
// 0.05 this one (MobileNet v2's full refresh at one thread, 106 tensors: 0.50-0.51 -> 0.48-0.49
// ms).
template <typename Fn>
void parallel_ranges(int64_t n, int threads, Fn&& fn) {
  if (threads <= 1 || n <= 1 || omp_get_active_level() >= omp_get_max_active_levels()) {
    if (n > 0) fn(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    int64_t begin = n * t / nt, end = n * (t + 1) / nt;
    if (begin < end) fn(begin, end);
  }
}

template <typename K, typename... Args>
Result<std::unique_ptr<Kernel>> make_kernel(Args&&... args) {
  return std::unique_ptr<Kernel>(new K(std::forward<Args>(args)...));
}

// Wraps a factory whose kernel builds tables sized by the output (Tile, Pad, Resize...): outputs
// past kMaxTensorBytes are an error naming the node, and an allocation that fails for a hostile
// but legal size becomes kOutOfMemory instead of an exception.
template <Result<std::unique_ptr<Kernel>> (*Factory)(const KernelSpec&)>
Result<std::unique_ptr<Kernel>> guarded(const KernelSpec& spec) {
  for (const auto& o : spec.outputs) {
    if (o.dtype == DType::kUndefined || !o.shape.is_static()) continue;
    auto bytes = byte_size(o.dtype, o.shape.dims());
    if (!bytes.is_ok()) return kernel_error(spec, StatusCode::kInvalidArgument, bytes.status().message());
  }
  try {
    return Factory(spec);
  } catch (const std::bad_alloc&) {
    return kernel_error(spec, StatusCode::kOutOfMemory, "out of memory while creating the kernel");
  } catch (const std::length_error&) {
    return kernel_error(spec, StatusCode::kOutOfMemory, "tables for the output size exceed memory");
  }
}

}  // namespace lw::cpu
