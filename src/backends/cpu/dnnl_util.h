// oneDNN glue for the CPU kernels: one process-wide CPU engine, a stream per thread, and
// conversions. The engine is created on first use and never destroyed; the streams are
// thread_local. Errors from oneDNN (thrown as dnnl::error) become Status values here and
// never escape a kernel.
#pragma once

#include <memory>
#include <string>

#include "backends/cpu/dnnl_call.h"
#include "backends/cpu/kernel.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace lw::cpu {

// The CPU engine (index 0). Thread-safe; throws dnnl::error if oneDNN cannot create it.
const dnnl::engine& dnnl_cpu_engine();
// This thread's in-order stream on dnnl_cpu_engine().
dnnl::stream& dnnl_thread_stream();

// A reorder from `from` to `to`, run as call.run({src, dst}): activation_reorder.h's conversion
// between the activation layouts it describes, else a oneDNN reorder on dnnl_cpu_engine().
// Throws dnnl::error when oneDNN has none between the two.
DnnlCall reorder_call(const dnnl::memory::desc& from, const dnnl::memory::desc& to);

// Plain row-major memory descriptor of `dims` (f32 unless told).
dnnl::memory::desc plain_desc(const Dims& dims, dnnl::memory::data_type dt = dnnl::memory::data_type::f32);

// oneDNN's channels-last tag for an activation of `rank` 3, 4 or 5 (nwc, nhwc, ndhwc).
dnnl::memory::format_tag channels_last_tag(size_t rank);
// float32 descriptor of an activation in `layout` (every layout but kPlain: rank 3 to 5).
dnnl::memory::desc activation_desc(const Dims& dims, Layout layout);

// Whether a primitive descriptor's implementation name (impl_info_str()) is oneDNN's reference
// code ("ref:any", ...): correct, but orders of magnitude slower than its jit kernels.
inline bool is_reference_impl(const char* impl_info) { return std::string(impl_info).rfind("ref", 0) == 0; }

// A PackedLayout whose pack() writes a tensor from `plain` into `packed`: a tile copy for 2-D
// float32 blocked layouts (blocked_pack.h), else a oneDNN reorder created here (throws
// dnnl::error when oneDNN cannot). pack() runs on up to omp_get_max_threads() threads.
// unpack() (packed -> plain) is a oneDNN reorder created on each call.
std::shared_ptr<PackedLayout> make_weight_packing(const dnnl::memory::desc& plain, const dnnl::memory::desc& packed);

// A kernel that runs one oneDNN primitive reading DNNL_ARG_SRC (input 0) and writing
// DNNL_ARG_DST (output 0), with a user scratchpad: pools, softmax. `what` names the primitive
// in errors ("pooling").
class DnnlSrcDstKernel final : public Kernel {
 public:
  DnnlSrcDstKernel(dnnl::primitive prim, dnnl::memory::desc src, dnnl::memory::desc dst,
                   dnnl::memory::desc scratch, const ir::Node& node, const char* what);
  size_t scratch_bytes() const override { return scratch_bytes_; }
  Status run(const KernelRun& r) const override;

 private:
  DnnlCall call_;
  size_t scratch_bytes_;
  std::string name_, op_, what_;
};

// "node 'x' (Op): oneDNN <what> failed: <status>" for a caught dnnl::error.
Status dnnl_failure(const ir::Node& node, const char* what, const dnnl::error& e);

}  // namespace lw::cpu
