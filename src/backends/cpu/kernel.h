// CPU kernels: one object per node of a prepared graph, created once with every input and
// output shape known (static), then run any number of times, possibly from several threads
// at once (run() is const and must not mutate the kernel).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/stream_copy.h"
#include "graph/op_registry.h"

namespace lw::cpu {

// Memory layout of an activation tensor. Only the runtime's layout pass chooses a layout other
// than kPlain, and only for 4-D values that flow between convolutions and pools (possibly through
// layout-agnostic element-wise ops), so other kernels always see kPlain.
//   kChannelsLast: NHWC.
//   kBlocked8 / kBlocked16: oneDNN's nChw8c / nChw16c, channels in blocks of 8 or 16, each block
//     a channels-last [H][W][block] slab; only for values whose channel count is a multiple of
//     the block, so the tensor has exactly as many bytes as in the plain layout.
enum class Layout : uint8_t { kPlain, kChannelsLast, kBlocked8, kBlocked16 };

// The channel block of a blocked layout (8 or 16); 0 for the others.
inline int64_t channel_block(Layout layout) {
  return layout == Layout::kBlocked8 ? 8 : layout == Layout::kBlocked16 ? 16 : 0;
}

// The activation layout the convolutions run fastest on with this machine's instruction set:
// the source layout oneDNN picks for a typical 3 x 3 convolution when left to choose (kBlocked8
// with AVX2, for instance), kChannelsLast when it picks neither blocked layout. Computed once
// per process (dnnl_util.cc); thread-safe.
Layout preferred_conv_activation_layout();

// True when the CPU has AVX-512 (F, CD, BW, DQ, VL: oneDNN's avx512_core) and oneDNN may use it:
// liveweight's own AVX-512 code follows the same cap, so DNNL_MAX_CPU_ISA=AVX2 makes an AVX-512
// machine run as an AVX2 one throughout (the tests of the AVX2 paths use that). Computed once per
// process (dnnl_util.cc); thread-safe.
bool avx512_allowed();
// True when the CPU has AVX2 and FMA (every x86 machine of this project): the AVX2 code paths of
// liveweight's own kernels. Computed once per process (dnnl_util.cc); thread-safe.
bool avx2_fma_supported();

// A physical layout a kernel wants a weight (Variable) held in, e.g. oneDNN's blocked
// convolution weights. Immutable once created; shared by the VariableStore and kernels.
struct PackedLayout {
  std::string key;     // equal keys mean the same layout
  uint64_t bytes = 0;  // size of the packed tensor
  // Converts the plain row-major tensor at `plain` into this layout at `packed` (bytes long).
  // Parallel inside (intra-op threads); thread-safe. `mode` kStreaming: a large refresh, written
  // around the cache where the layout allows (core/stream_copy.h); a oneDNN reorder ignores it.
  std::function<Status(const void* plain, void* packed, StoreMode mode)> pack;
  // The inverse: converts the tensor at `packed` (bytes long) in this layout back into the plain
  // row-major tensor at `plain`. Thread-safe; not on a hot path (saving weights, tests).
  std::function<Status(const void* packed, void* plain)> unpack;
  // Backend description of the layout (a dnnl::memory::desc on the CPU), for kernels that read
  // a weight packed by another kernel.
  std::shared_ptr<const void> native;
};

struct KernelSpec {
  const ir::Node& node;
  std::vector<ir::TensorType> inputs;   // static shapes; dtype kUndefined for an omitted input
  std::vector<ir::TensorType> outputs;  // static shapes
  // Data of inputs that are Consts of the graph (shape inputs always are); null otherwise.
  // The data outlives the kernel.
  std::vector<const ir::TensorData*> const_inputs;
  int num_threads = 1;  // intra-op threads the kernel may use
  // Optional, per input/output (empty or shorter: kPlain).
  std::vector<Layout> input_layouts;
  std::vector<Layout> output_layouts;
  // Per input (empty or shorter: none). input_packing[i]: the data of input i arrives packed in
  // this layout. may_pack[i]: input i is a weight whose layout is still free; the kernel may ask
  // for one through wanted_packing(i).
  std::vector<std::shared_ptr<const PackedLayout>> input_packing;
  std::vector<bool> may_pack;
  // Weights the kernel packs itself (Consts) go in alloc_weight_block(..., huge_pages).
  bool huge_pages = false;

  Layout input_layout(size_t i) const { return i < input_layouts.size() ? input_layouts[i] : Layout::kPlain; }
  Layout output_layout(size_t i) const { return i < output_layouts.size() ? output_layouts[i] : Layout::kPlain; }
  const PackedLayout* packing(size_t i) const { return i < input_packing.size() ? input_packing[i].get() : nullptr; }
  bool can_pack(size_t i) const { return i < may_pack.size() && may_pack[i]; }
};

struct KernelRun {
  const void* const* inputs;  // one per input slot; null for an omitted optional input
  void* const* outputs;       // one per output; never aliases an input
  void* scratch;              // scratch_bytes() of 64-byte-aligned memory, private to this run
  // Per input, or null (then all 0): 0 for an activation; 1 for a constant, whose bytes never
  // change; otherwise the generation of the Variable buffer the input is, which changes whenever
  // its bytes do (rt::WeightBuffer::generation). A kernel may keep what it derives from a weight
  // (Winograd's transformed filters) for as long as the generation stays the same.
  const uint64_t* input_generations = nullptr;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual Status run(const KernelRun& run) const = 0;
  virtual size_t scratch_bytes() const { return 0; }
  // The layout this kernel chose for input i when the spec allowed it (may_pack), else null.
  // The runtime then stores that weight in this layout and runs the kernel with it.
  virtual std::shared_ptr<const PackedLayout> wanted_packing(size_t input) const { return nullptr; }
  // oneDNN's name for the implementation behind this kernel's main primitive (such as
  // "jit:avx2" or "brg:avx512_core"; "ref:any" is its slow reference code), or "" where the
  // kernel is liveweight's own code. For tests and diagnostics; fixed at creation.
  virtual std::string implementation() const { return ""; }
};

using KernelFactory = Result<std::unique_ptr<Kernel>> (*)(const KernelSpec& spec);

// Null when the CPU backend has no kernel for `op`. Thread-safe.
KernelFactory find_cpu_kernel(const std::string& op);
std::vector<std::string> cpu_kernel_ops();

struct KernelEntry {
  const char* op;
  KernelFactory factory;
};
// Filled in by src/backends/cpu/kernels/*.cc (see kernels/kernels.h); called once.
void register_all_cpu_kernels(std::vector<KernelEntry>& registry);

}  // namespace lw::cpu
