// CUDA kernels that move bytes without arithmetic, matching the CPU kernels of
// data_movement.cc and tensor.cc: the copies (Identity, Dropout in inference, Flatten, Reshape,
// Squeeze, Unsqueeze), Transpose, Concat, Split, Slice, Expand, Tile, Gather, Pad and Trilu.
// All work on any element type of 1, 2, 4 or 8 bytes (the copies on any fixed size), moving
// elements as unsigned integers. Every shape-like parameter comes from constant inputs at
// creation; run() only picks a vector width from the buffers' alignment and launches.
//
// One difference from the CPU: Gather with indices read at run time cannot report an
// out-of-range index (the host never sees the data), so such an index yields zeros in its
// output slice instead of an error. Constant indices are checked at creation, and an
// out-of-range one makes the factory refuse, so the CPU kernel reports it.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernel.h"
#include "backends/cuda/kernels/kernels.h"
#include "backends/cuda/kernels/strided_copy.cuh"
#include "graph/ops/tensor_geometry.h"

namespace lw::cuda {

namespace {

namespace sc = strided_copy;
using sc::kThreads;
using sc::Unit;

constexpr int64_t kInt32Limit = int64_t{1} << 31;


bool present(const KernelSpec& spec, size_t i) {
  return i < spec.inputs.size() && spec.inputs[i].dtype != DType::kUndefined;
}

const ir::TensorData* const_input(const KernelSpec& spec, size_t i) {
  return i < spec.const_inputs.size() ? spec.const_inputs[i] : nullptr;
}

// Every present input and output has static dims (the plan promises it; checked so a broken
// promise is a refusal rather than a wrong launch).
bool all_static(const KernelSpec& spec) {
  for (const auto& t : spec.inputs)
    if (t.dtype != DType::kUndefined && !t.shape.is_static()) return false;
  for (const auto& t : spec.outputs)
    if (t.dtype != DType::kUndefined && !t.shape.is_static()) return false;
  return true;
}

Dims row_major_strides(const Dims& dims) {
  Dims s(dims.size(), 1);
  for (size_t k = dims.size(); k-- > 1;) s[k - 1] = s[k] * dims[k];
  return s;
}

size_t tensor_bytes(const ir::TensorType& t) {
  return static_cast<size_t>(numel_of(t.shape.dims())) * dtype_size(t.dtype);
}

bool is_unit_size(size_t esize) { return esize == 1 || esize == 2 || esize == 4 || esize == 8; }

// Writes nothing: for outputs with no elements.
class EmptyKernel final : public Kernel {
 public:
  Status run(const KernelRun&) const override { return Status::ok(); }
};

// ---------------------------------------------------------------------------------------------
// Byte copies: Identity, Dropout (inference), Flatten, Reshape, Squeeze, Unsqueeze.

class CopyKernel final : public Kernel {
 public:
  CopyKernel(size_t bytes, size_t mask_bytes) : bytes_(bytes), mask_bytes_(mask_bytes) {}
  Status run(const KernelRun& r) const override {
    if (bytes_)
      LW_CUDA_RETURN_IF_ERROR(
          cudaMemcpyAsync(r.outputs[0], r.inputs[0], bytes_, cudaMemcpyDeviceToDevice, r.handles.stream));
    // Inference keeps every element: the mask (bool, one byte each) is all true.
    if (mask_bytes_ && r.outputs[1])
      LW_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(r.outputs[1], 1, mask_bytes_, r.handles.stream));
    return Status::ok();
  }

 private:
  size_t bytes_, mask_bytes_;
};

Result<std::unique_ptr<Kernel>> make_copy(const KernelSpec& spec) {
  if (spec.inputs.empty() || spec.outputs.empty()) return refuse(spec, "this arity");
  if (!all_static(spec)) return refuse(spec, "dynamic shapes");
  if (dtype_size(spec.inputs[0].dtype) == 0) return refuse_dtype(spec, spec.inputs[0].dtype);
  size_t in = tensor_bytes(spec.inputs[0]), out = tensor_bytes(spec.outputs[0]);
  if (in != out) return refuse(spec, "an input of ", in, " bytes with an output of ", out);
  const bool is_dropout = spec.node.op == "Dropout";
  size_t mask = 0;
  if (is_dropout && spec.outputs.size() > 1 && spec.outputs[1].dtype != DType::kUndefined) {
    if (spec.outputs[1].dtype != DType::kBool) return refuse_dtype(spec, spec.outputs[1].dtype);
    mask = tensor_bytes(spec.outputs[1]);
  }
  if (is_dropout && present(spec, 2)) {
    // The CPU kernel checks a run-time training_mode on every run; the GPU cannot read it
    // without a synchronization, so only a constant false one stays here.
    const ir::TensorData* t = const_input(spec, 2);
    if (!t) return refuse(spec, "a training_mode read at run time");
    LW_ASSIGN_OR_RETURN(Dims v, ir::tensor_to_ints(*t));
    for (int64_t b : v)
      if (b != 0) return refuse(spec, "training_mode=true");
  }
  return make_kernel<CopyKernel>(in, mask);
}

// ---------------------------------------------------------------------------------------------
// Strided copies: Transpose (general case), Slice, Expand, Tile.

class StridedCopyKernel final : public Kernel {
 public:
  StridedCopyKernel(sc::Geometry g, int64_t esize) : g_(g), esize_(esize) {
    // The widest unit (up to 16 bytes) the geometry allows; pointers are checked at run time.
    for (int64_t w = 16; w > esize; w /= 2) {
      if (w % esize == 0 && sc::widen(g_, w / esize, &wide_)) {
        wide_bytes_ = w;
        break;
      }
    }
  }
  Status run(const KernelRun& r) const override {
    cudaStream_t stream = r.handles.stream;
    if (sc::is_contiguous(g_)) {
      const auto* src = static_cast<const uint8_t*>(r.inputs[0]) + g_.base * esize_;
      LW_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(r.outputs[0], src, static_cast<size_t>(g_.total * esize_),
                                              cudaMemcpyDeviceToDevice, stream));
      return Status::ok();
    }
    if (wide_bytes_ &&
        (sc::address_bits(r.inputs[0]) | sc::address_bits(r.outputs[0])) % static_cast<uint64_t>(wide_bytes_) == 0)
      return sc::launch_gather_strided_bytes(wide_bytes_, wide_, r.inputs[0], r.outputs[0], stream);
    return sc::launch_gather_strided_bytes(esize_, g_, r.inputs[0], r.outputs[0], stream);
  }

 private:
  sc::Geometry g_, wide_;
  int64_t esize_;
  int64_t wide_bytes_ = 0;
};

Result<std::unique_ptr<Kernel>> strided_copy(const KernelSpec& spec, const Dims& out, const Dims& strides,
                                             int64_t base) {
  size_t esize = dtype_size(spec.inputs[0].dtype);
  if (!is_unit_size(esize)) return refuse_dtype(spec, spec.inputs[0].dtype);
  if (numel_of(out) == 0) return make_kernel<EmptyKernel>();
  sc::Geometry g;
  if (!sc::collapse(out, strides, base, &g)) return refuse(spec, "more than ", sc::kMaxDims, " collapsed dims");
  return make_kernel<StridedCopyKernel>(g, static_cast<int64_t>(esize));
}

// Transpose of the last two dims of [batch, N, M] into [batch, M, N] through a shared-memory
// tile, so both the reads and the writes are coalesced.
constexpr int kTile = 32;
constexpr int kTileRows = 8;

template <typename T>
__global__ void transpose_tiled_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t batch, int64_t m,
                                       int64_t n) {
  __shared__ T tile[kTile][kTile + 1];  // +1 column: no bank conflicts on the transposed read
  const int64_t tiles_n = (n + kTile - 1) / kTile;
  const int64_t i0 = static_cast<int64_t>(blockIdx.x) * kTile;  // along m
  const int64_t plane = m * n;
  for (int64_t b = blockIdx.z; b < batch; b += gridDim.z) {
    const T* xb = x + b * plane;
    T* yb = y + b * plane;
    for (int64_t tn = blockIdx.y; tn < tiles_n; tn += gridDim.y) {
      const int64_t j0 = tn * kTile;  // along n
      for (int r = threadIdx.y; r < kTile; r += kTileRows) {
        const int64_t j = j0 + r, i = i0 + threadIdx.x;
        if (j < n && i < m) tile[r][threadIdx.x] = xb[j * m + i];
      }
      __syncthreads();
      for (int r = threadIdx.y; r < kTile; r += kTileRows) {
        const int64_t i = i0 + r, j = j0 + threadIdx.x;
        if (i < m && j < n) yb[i * n + j] = tile[threadIdx.x][r];
      }
      __syncthreads();
    }
  }
}

class TiledTransposeKernel final : public Kernel {
 public:
  TiledTransposeKernel(int64_t batch, int64_t m, int64_t n, size_t esize)
      : batch_(batch), m_(m), n_(n), esize_(esize) {}
  Status run(const KernelRun& r) const override {
    switch (esize_) {
      case 1: return launch<Unit<1>::type>(r);
      case 2: return launch<Unit<2>::type>(r);
      case 4: return launch<Unit<4>::type>(r);
      default: return launch<Unit<8>::type>(r);
    }
  }

 private:
  template <typename T>
  Status launch(const KernelRun& r) const {
    dim3 block(kTile, kTileRows);
    dim3 grid(static_cast<unsigned>((m_ + kTile - 1) / kTile),
              static_cast<unsigned>(std::min<int64_t>((n_ + kTile - 1) / kTile, 65535)),
              static_cast<unsigned>(std::min<int64_t>(batch_, 65535)));
    transpose_tiled_kernel<T><<<grid, block, 0, r.handles.stream>>>(static_cast<const T*>(r.inputs[0]),
                                                                    static_cast<T*>(r.outputs[0]), batch_, m_, n_);
    LW_CUDA_CHECK_LAUNCH("Transpose tiled kernel");
    return Status::ok();
  }

  int64_t batch_, m_, n_;
  size_t esize_;
};

Result<std::unique_ptr<Kernel>> make_transpose(const KernelSpec& spec) {
  if (spec.inputs.size() != 1 || spec.outputs.size() != 1) return refuse(spec, "this arity");
  if (!all_static(spec)) return refuse(spec, "dynamic shapes");
  size_t esize = dtype_size(spec.inputs[0].dtype);
  if (!is_unit_size(esize)) return refuse_dtype(spec, spec.inputs[0].dtype);
  const Dims& in = spec.inputs[0].shape.dims();
  const Dims& out = spec.outputs[0].shape.dims();
  Dims perm = spec.node.attr_ints("perm");
  if (!spec.node.has_attr("perm"))
    for (size_t i = 0; i < in.size(); ++i) perm.push_back(static_cast<int64_t>(in.size() - 1 - i));
  if (perm.size() != in.size() || out.size() != in.size()) return refuse(spec, "perm ", perm, " for rank ", in.size());
  std::vector<bool> seen(in.size(), false);
  for (int64_t& p : perm) {
    if (p < 0) p += static_cast<int64_t>(in.size());
    if (p < 0 || p >= static_cast<int64_t>(in.size()) || seen[static_cast<size_t>(p)])
      return refuse(spec, "perm that is not a permutation");
    seen[static_cast<size_t>(p)] = true;
  }
  Dims in_strides = row_major_strides(in), strides(in.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    const size_t p = static_cast<size_t>(perm[i]);
    if (out[i] != in[p]) return refuse(spec, "output dims ", out, " that disagree with perm");
    strides[i] = in_strides[p];
  }
  if (numel_of(out) == 0) return make_kernel<EmptyKernel>();
  sc::Geometry g;
  if (!sc::collapse(out, strides, 0, &g)) return refuse(spec, "more than ", sc::kMaxDims, " collapsed dims");
  // After collapsing, a swap of the last two dims (with an optional contiguous batch dim) reads
  // dim -2 with stride 1 and dim -1 with stride m. Thin matrices gain nothing from a tile.
  if (g.rank == 2 || g.rank == 3) {
    const int64_t m = g.dims[g.rank - 2], n = g.dims[g.rank - 1];
    const bool swap = g.strides[g.rank - 2] == 1 && g.strides[g.rank - 1] == m &&
                      (g.rank == 2 || g.strides[0] == m * n);
    if (swap && m >= 16 && n >= 16 && (m + kTile - 1) / kTile < kInt32Limit)
      return make_kernel<TiledTransposeKernel>(g.rank == 3 ? g.dims[0] : 1, m, n, esize);
  }
  return make_kernel<StridedCopyKernel>(g, static_cast<int64_t>(esize));
}

Result<Dims> const_ints(const KernelSpec& spec, size_t i, const char* what) {
  const ir::TensorData* t = const_input(spec, i);
  if (!t) return refuse(spec, "a non-constant '", what, "' input");
  return ir::tensor_to_ints(*t);
}

Result<std::unique_ptr<Kernel>> make_slice(const KernelSpec& spec) {
  if (spec.inputs.size() < 3 || spec.outputs.size() != 1) return refuse(spec, "this arity");
  if (!all_static(spec)) return refuse(spec, "dynamic shapes");
  const Dims& x = spec.inputs[0].shape.dims();
  LW_ASSIGN_OR_RETURN(Dims starts, const_ints(spec, 1, "starts"));
  LW_ASSIGN_OR_RETURN(Dims ends, const_ints(spec, 2, "ends"));
  Dims axes, steps;
  if (present(spec, 3)) {
    LW_ASSIGN_OR_RETURN(axes, const_ints(spec, 3, "axes"));
  }
  if (present(spec, 4)) {
    LW_ASSIGN_OR_RETURN(steps, const_ints(spec, 4, "steps"));
  }
  auto geo = ir::slice_geometry(spec.node, x, starts, ends, axes, steps);
  if (!geo.is_ok()) return refuse(spec, "these slice parameters (", geo.status().message(), ")");
  Dims out(x.size()), strides(x.size());
  Dims in_strides = row_major_strides(x);
  int64_t base = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const ir::SliceAxis& a = (*geo)[i];
    out[i] = a.out;
    strides[i] = in_strides[i] * a.step;
    base += a.start * in_strides[i];
  }
  if (out != spec.outputs[0].shape.dims()) return refuse(spec, "output dims that disagree with inference");
  return strided_copy(spec, out, strides, base);
}

// Numpy broadcast strides of `in` seen from `out` (in right-aligned), or false when `in` does
// not broadcast to exactly `out`.
bool broadcast_strides(const Dims& in, const Dims& out, Dims* strides) {
  if (in.size() > out.size()) return false;
  const size_t shift = out.size() - in.size();
  Dims s(out.size(), 0);
  int64_t stride = 1;
  for (size_t k = in.size(); k-- > 0;) {
    const int64_t o = out[k + shift];
    if (in[k] != 1 && in[k] != o) return false;
    s[k + shift] = (in[k] == 1 && o != 1) ? 0 : stride;
    stride *= in[k];
  }
  *strides = std::move(s);
  return true;
}

Result<std::unique_ptr<Kernel>> make_expand(const KernelSpec& spec) {
  if (spec.inputs.empty() || spec.outputs.size() != 1) return refuse(spec, "this arity");
  if (!all_static(spec)) return refuse(spec, "dynamic shapes");
  const Dims& out = spec.outputs[0].shape.dims();
  Dims strides;
  if (!broadcast_strides(spec.inputs[0].shape.dims(), out, &strides))
    return refuse(spec, "an input that does not broadcast to ", out);
  return strided_copy(spec, out, strides, 0);
}

// Tile as a broadcast: output dim d of size reps * x_d is walked as [reps, x_d] with strides
// [0, stride_d], so the generic strided copy (after collapsing) does the work.
Result<std::unique_ptr<Kernel>> make_tile(const KernelSpec& spec) {
  if (spec.inputs.empty() || spec.outputs.size() != 1) return refuse(spec, "this arity");
  if (!all_static(spec)) return refuse(spec, "dynamic shapes");
  const Dims& x = spec.inputs[0].shape.dims();
  const Dims& out = spec.outputs[0].shape.dims();
  if (out.size() != x.size()) return refuse(spec, "an output rank that disagrees with the input");
  size_t esize = dtype_size(spec.inputs[0].dtype);
  if (!is_unit_size(esize)) return refuse_dtype(spec, spec.inputs[0].dtype);
  if (numel_of(out) == 0) return make_kernel<EmptyKernel>();
  Dims in_strides = row_major_strides(x), view, strides;
  for (size_t d = 0; d < x.size(); ++d) {
    if (x[d] <= 0 || out[d] % x[d] != 0) return refuse(spec, "output dims ", out, " that are no multiple of ", x);
    view.push_back(out[d] / x[d]);
    strides.push_back(0);
    view.push_back(x[d]);
    strides.push_back(in_strides[d]);
  }
  return strided_copy(spec, view, strides, 0);
}

// ---------------------------------------------------------------------------------------------
// Concat and Split: row copies. For `outer` rows, part k copies row[k] units from
// src[k] + o * src_stride[k] to dst[k] + o * dst_stride[k]. One launch covers up to
// kMaxParts parts, blockIdx.y selecting the part.

constexpr int kMaxParts = 32;

struct RowPart {
  const uint8_t* src;
  uint8_t* dst;
  int64_t src_stride, dst_stride, row, total;  // in units of the launch's element type
};

struct RowParts {
  RowPart p[kMaxParts];
};

template <typename T, typename I>
__global__ void row_copy_kernel(const __grid_constant__ RowParts parts) {
  const RowPart& p = parts.p[blockIdx.y];
  const T* src = reinterpret_cast<const T*>(p.src);
  T* dst = reinterpret_cast<T*>(p.dst);
  const I total = static_cast<I>(p.total), row = static_cast<I>(p.row);
  const I step = static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x);
  for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + threadIdx.x; i < total; i += step) {
    const I o = i / row, c = i - o * row;
    dst[static_cast<int64_t>(o) * p.dst_stride + c] = src[static_cast<int64_t>(o) * p.src_stride + c];
  }
}

// A part in bytes, pointers as offsets from the slot's buffer.
struct RowSpec {
  size_t slot;                    // input (Concat) or output (Split) index
  int64_t offset;                 // byte offset within the other side's row
  int64_t row;                    // bytes per row of this part
};

class RowCopyKernel final : public Kernel {
 public:
  RowCopyKernel(bool concat, int64_t outer, int64_t wide_row, std::vector<RowSpec> parts)
      : concat_(concat), outer_(outer), wide_row_(wide_row), parts_(std::move(parts)) {}

  Status run(const KernelRun& r) const override {
    cudaStream_t stream = r.handles.stream;
    std::vector<RowPart> parts;
    const uint64_t bits = describe(r.inputs, r.outputs, &parts);
    // One contiguous block per part: copies need no kernel.
    if (outer_ == 1 && parts.size() <= 4) {
      for (const RowPart& p : parts)
        LW_CUDA_RETURN_IF_ERROR(
            cudaMemcpyAsync(p.dst, p.src, static_cast<size_t>(p.row), cudaMemcpyDeviceToDevice, stream));
      return Status::ok();
    }
    const int64_t w = sc::common_width(bits);
    to_units(&parts, w);
    for (size_t first = 0; first < parts.size(); first += kMaxParts) {
      const size_t count = std::min<size_t>(kMaxParts, parts.size() - first);
      RowParts launch{};
      int64_t most = 0;
      for (size_t k = 0; k < count; ++k) {
        launch.p[k] = parts[first + k];
        most = std::max(most, launch.p[k].total);
      }
      LW_RETURN_IF_ERROR(launch_width(w, launch, most, static_cast<unsigned>(count), stream));
    }
    return Status::ok();
  }

  // The parts for these buffers in bytes, and the OR of every pointer, stride and row length
  // (the widest unit they all allow follows from it).
  uint64_t describe(const void* const* inputs, void* const* outputs, std::vector<RowPart>* parts) const {
    parts->resize(parts_.size());
    uint64_t bits = static_cast<uint64_t>(wide_row_);
    for (size_t k = 0; k < parts_.size(); ++k) {
      const RowSpec& s = parts_[k];
      RowPart& p = (*parts)[k];
      if (concat_) {
        p.src = static_cast<const uint8_t*>(inputs[s.slot]);
        p.dst = static_cast<uint8_t*>(outputs[0]) + s.offset;
        p.src_stride = s.row;
        p.dst_stride = wide_row_;
      } else {
        p.src = static_cast<const uint8_t*>(inputs[0]) + s.offset;
        p.dst = static_cast<uint8_t*>(outputs[s.slot]);
        p.src_stride = wide_row_;
        p.dst_stride = s.row;
      }
      p.row = s.row;
      p.total = outer_ * s.row;
      bits |= sc::address_bits(p.src) | sc::address_bits(p.dst) | static_cast<uint64_t>(s.row);
    }
    return bits;
  }

  static void to_units(std::vector<RowPart>* parts, int64_t w) {
    for (RowPart& p : *parts) {
      p.src_stride /= w;
      p.dst_stride /= w;
      p.row /= w;
      p.total /= w;
    }
  }

 private:
  template <typename T>
  static Status launch_typed(const RowParts& parts, int64_t most, unsigned count, cudaStream_t stream) {
    dim3 grid(grid_for(most, kThreads), count);
    if (most < kInt32Limit) row_copy_kernel<T, uint32_t><<<grid, kThreads, 0, stream>>>(parts);
    else row_copy_kernel<T, uint64_t><<<grid, kThreads, 0, stream>>>(parts);
    LW_CUDA_CHECK_LAUNCH("row copy kernel");
    return Status::ok();
  }
  static Status launch_width(int64_t w, const RowParts& parts, int64_t most, unsigned count, cudaStream_t stream) {
    switch (w) {
      case 16: return launch_typed<Unit<16>::type>(parts, most, count, stream);
      case 8: return launch_typed<Unit<8>::type>(parts, most, count, stream);
      case 4: return launch_typed<Unit<4>::type>(parts, most, count, stream);
      case 2: return launch_typed<Unit<2>::type>(parts, most, count, stream);
      default: return launch_typed<Unit<1>::type>(parts, most, count, stream);
    }
  }

  bool concat_;
  int64_t outer_;
  int64_t wide_row_;  // bytes per row of the concatenated side
  std::vector<RowSpec> parts_;
};

Result<std::unique_ptr<Kernel>> make_concat(const KernelSpec& spec) {
  if (spec.inputs.empty() || spec.outputs.size() != 1) return refuse(spec, "this arity");
  if (!all_static(spec)) return refuse(spec, "dynamic shapes");
  const Dims& out = spec.outputs[0].shape.dims();
  const size_t esize = dtype_size(spec.outputs[0].dtype);
  if (esize == 0) return refuse_dtype(spec, spec.outputs[0].dtype);
  int64_t axis = spec.node.attr_int("axis", 0);
  if (axis < 0) axis += static_cast<int64_t>(out.size());
  if (axis < 0 || axis >= static_cast<int64_t>(out.size())) return refuse(spec, "axis out of range");
  const int64_t outer = numel_of(Dims(out.begin(), out.begin() + axis));
  const int64_t out_row = numel_of(Dims(out.begin() + axis, out.end())) * static_cast<int64_t>(esize);
  std::vector<RowSpec> parts;
  int64_t offset = 0;
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    const auto& in = spec.inputs[i];
    const Dims& d = in.shape.dims();
    if (in.dtype == DType::kUndefined || d.size() != out.size() || dtype_size(in.dtype) != esize)
      return refuse(spec, "inputs that disagree with the output in rank or type");
    const int64_t row = numel_of(Dims(d.begin() + axis, d.end())) * static_cast<int64_t>(esize);
    if (row > 0) parts.push_back(RowSpec{i, offset, row});
    offset += row;
  }
  if (offset != out_row) return refuse(spec, "inputs whose sizes do not add up to the output");
  if (outer == 0 || out_row == 0) return make_kernel<EmptyKernel>();
  return make_kernel<RowCopyKernel>(true, outer, out_row, std::move(parts));
}

Result<std::unique_ptr<Kernel>> make_split(const KernelSpec& spec) {
  if (spec.inputs.empty() || spec.outputs.empty()) return refuse(spec, "this arity");
  if (!all_static(spec)) return refuse(spec, "dynamic shapes");
  const Dims& x = spec.inputs[0].shape.dims();
  const size_t esize = dtype_size(spec.inputs[0].dtype);
  if (esize == 0) return refuse_dtype(spec, spec.inputs[0].dtype);
  const int64_t r = static_cast<int64_t>(x.size());
  int64_t axis = spec.node.attr_int("axis", 0);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) return refuse(spec, "axis out of range");
  const size_t a = static_cast<size_t>(axis);
  const int64_t outer = numel_of(Dims(x.begin(), x.begin() + axis));
  const int64_t inner = numel_of(Dims(x.begin() + axis + 1, x.end())) * static_cast<int64_t>(esize);
  std::vector<RowSpec> parts;
  int64_t total = 0;
  for (size_t k = 0; k < spec.outputs.size(); ++k) {
    const auto& o = spec.outputs[k];
    const Dims& d = o.shape.dims();
    if (d.size() != x.size() || dtype_size(o.dtype) != esize)
      return refuse(spec, "an output that disagrees in rank or type");
    const int64_t row = d[a] * inner;
    if (row > 0) parts.push_back(RowSpec{k, total * inner, row});
    total += d[a];
  }
  if (total != x[a]) return refuse(spec, "output sizes that do not add up to the split axis");
  if (outer == 0 || parts.empty()) return make_kernel<EmptyKernel>();
  return make_kernel<RowCopyKernel>(false, outer, x[a] * inner, std::move(parts));
}

// ---------------------------------------------------------------------------------------------
// Gather: y[o, j, c] = x[o, idx[j], c] over [outer, n_idx, inner] units.

// Offset into x read by output unit i, or -1 for an index out of range. Host-callable for tests.
template <typename Index, typename I>
__host__ __device__ __forceinline__ int64_t gather_source(const Index* idx, I i, I inner, I n_idx, int64_t axis_size) {
  const I t = i / inner, c = i - t * inner;
  const I o = t / n_idx, j = t - o * n_idx;
  int64_t v = static_cast<int64_t>(idx[j]);
  if (v < 0) v += axis_size;
  if (v < 0 || v >= axis_size) return -1;
  return (static_cast<int64_t>(o) * axis_size + v) * static_cast<int64_t>(inner) + static_cast<int64_t>(c);
}

template <typename T, typename Index, typename I>
__global__ void gather_kernel(const T* __restrict__ x, const Index* __restrict__ idx, T* __restrict__ y, I total,
                              I inner, I n_idx, int64_t axis_size) {
  const I step = static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x);
  for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + threadIdx.x; i < total; i += step) {
    const int64_t src = gather_source(idx, i, inner, n_idx, axis_size);
    // Out of range: the CPU reports an error; here the slice reads as zeros.
    y[i] = src < 0 ? T{} : x[src];
  }
}

class GatherKernel final : public Kernel {
 public:
  GatherKernel(int64_t outer, int64_t axis_size, int64_t n_idx, int64_t inner_bytes, bool idx64)
      : outer_(outer), axis_size_(axis_size), n_idx_(n_idx), inner_bytes_(inner_bytes), idx64_(idx64) {}
  Status run(const KernelRun& r) const override {
    const uint64_t bits =
        sc::address_bits(r.inputs[0]) | sc::address_bits(r.outputs[0]) | static_cast<uint64_t>(inner_bytes_);
    switch (sc::common_width(bits)) {
      case 16: return launch<Unit<16>::type>(r, 16);
      case 8: return launch<Unit<8>::type>(r, 8);
      case 4: return launch<Unit<4>::type>(r, 4);
      case 2: return launch<Unit<2>::type>(r, 2);
      default: return launch<Unit<1>::type>(r, 1);
    }
  }

 private:
  template <typename T>
  Status launch(const KernelRun& r, int64_t width) const {
    return idx64_ ? launch_idx<T, int64_t>(r, width) : launch_idx<T, int32_t>(r, width);
  }
  template <typename T, typename Index>
  Status launch_idx(const KernelRun& r, int64_t width) const {
    const int64_t inner = inner_bytes_ / width;
    const int64_t total = outer_ * n_idx_ * inner;
    const T* x = static_cast<const T*>(r.inputs[0]);
    const Index* idx = static_cast<const Index*>(r.inputs[1]);
    T* y = static_cast<T*>(r.outputs[0]);
    const unsigned blocks = grid_for(total, kThreads);
    cudaStream_t stream = r.handles.stream;
    if (total < kInt32Limit)
      gather_kernel<T, Index, uint32_t><<<blocks, kThreads, 0, stream>>>(
          x, idx, y, static_cast<uint32_t>(total), static_cast<uint32_t>(inner), static_cast<uint32_t>(n_idx_),
          axis_size_);
    else
      gather_kernel<T, Index, uint64_t><<<blocks, kThreads, 0, stream>>>(
          x, idx, y, static_cast<uint64_t>(total), static_cast<uint64_t>(inner), static_cast<uint64_t>(n_idx_),
          axis_size_);
    LW_CUDA_CHECK_LAUNCH("Gather kernel");
    return Status::ok();
  }

  int64_t outer_, axis_size_, n_idx_, inner_bytes_;
  bool idx64_;
};

Result<std::unique_ptr<Kernel>> make_gather(const KernelSpec& spec) {
  if (spec.inputs.size() != 2 || spec.outputs.size() != 1) return refuse(spec, "this arity");
  if (!all_static(spec)) return refuse(spec, "dynamic shapes");
  const Dims& x = spec.inputs[0].shape.dims();
  const size_t esize = dtype_size(spec.inputs[0].dtype);
  if (esize == 0) return refuse_dtype(spec, spec.inputs[0].dtype);
  const DType it = spec.inputs[1].dtype;
  if (it != DType::kInt64 && it != DType::kInt32) return refuse_dtype(spec, it);
  int64_t axis = spec.node.attr_int("axis", 0);
  if (axis < 0) axis += static_cast<int64_t>(x.size());
  if (axis < 0 || axis >= static_cast<int64_t>(x.size())) return refuse(spec, "axis out of range");
  const int64_t outer = numel_of(Dims(x.begin(), x.begin() + axis));
  const int64_t inner = numel_of(Dims(x.begin() + axis + 1, x.end()));
  const int64_t n_idx = numel_of(spec.inputs[1].shape.dims());
  const int64_t axis_size = x[static_cast<size_t>(axis)];
  if (numel_of(spec.outputs[0].shape.dims()) != outer * n_idx * inner)
    return refuse(spec, "output dims that disagree with inference");
  // Constant indices out of range: the CPU kernel reports them as an error.
  if (const ir::TensorData* c = const_input(spec, 1)) {
    LW_ASSIGN_OR_RETURN(Dims v, ir::tensor_to_ints(*c));
    for (int64_t i : v)
      if (i < -axis_size || i >= axis_size)
        return refuse(spec, "index ", i, " out of range for an axis of ", axis_size);
  }
  if (outer * n_idx * inner == 0) return make_kernel<EmptyKernel>();
  return make_kernel<GatherKernel>(outer, axis_size, n_idx, inner * static_cast<int64_t>(esize),
                                   it == DType::kInt64);
}

// ---------------------------------------------------------------------------------------------
// Pad: constant, edge, reflect; per output dim the input index is computed from the padded one.

enum PadMode : int { kPadConstant = 0, kPadEdge = 1, kPadReflect = 2 };

struct PadGeometry {
  int rank = 0;
  int mode = kPadConstant;
  int64_t out[sc::kMaxDims] = {};
  int64_t in[sc::kMaxDims] = {};
  int64_t in_stride[sc::kMaxDims] = {};
  int64_t begin[sc::kMaxDims] = {};  // pad before each dim (negative crops)
  int64_t total = 0;
};

// Input index read by padded index `j` (already shifted by the begin pad), -1 for a constant.
// Same rule as the CPU kernel's pad_source: reflect repeats past the edge like numpy.
__host__ __device__ __forceinline__ int64_t pad_source(int64_t j, int64_t n, int mode) {
  if (j >= 0 && j < n) return j;
  if (mode == kPadConstant || n == 0) return -1;
  if (mode == kPadEdge) return j < 0 ? 0 : n - 1;
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  int64_t m = j % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

// Offset into x read by output element i, or -1 where the constant goes. Host-callable for tests.
template <typename I>
__host__ __device__ __forceinline__ int64_t pad_offset(const PadGeometry& g, I i) {
  I rem = i;
  int64_t off = 0;
  bool pad = false;
#ifdef __CUDA_ARCH__  // host compilers reject the pragma
#pragma unroll
#endif
  for (int d = sc::kMaxDims - 1; d >= 0; --d) {
    if (d < g.rank) {
      const I n = static_cast<I>(g.out[d]);
      const I q = rem / n;
      const int64_t s = pad_source(static_cast<int64_t>(rem - q * n) - g.begin[d], g.in[d], g.mode);
      rem = q;
      if (s < 0) pad = true;
      else off += s * g.in_stride[d];
    }
  }
  return pad ? -1 : off;
}

template <typename T, typename I>
__global__ void pad_kernel(const T* __restrict__ x, const T* __restrict__ fill_value, T* __restrict__ y,
                           const PadGeometry g) {
  const T fill = fill_value ? *fill_value : T{};
  const I total = static_cast<I>(g.total);
  const I step = static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x);
  for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + threadIdx.x; i < total; i += step) {
    const int64_t src = pad_offset(g, i);
    y[i] = src < 0 ? fill : x[src];
  }
}

class PadKernel final : public Kernel {
 public:
  PadKernel(PadGeometry g, size_t esize, bool has_value) : g_(g), esize_(esize), has_value_(has_value) {}
  Status run(const KernelRun& r) const override {
    switch (esize_) {
      case 1: return launch<Unit<1>::type>(r);
      case 2: return launch<Unit<2>::type>(r);
      case 4: return launch<Unit<4>::type>(r);
      default: return launch<Unit<8>::type>(r);
    }
  }

 private:
  template <typename T>
  Status launch(const KernelRun& r) const {
    const T* x = static_cast<const T*>(r.inputs[0]);
    const T* value = has_value_ ? static_cast<const T*>(r.inputs[2]) : nullptr;
    T* y = static_cast<T*>(r.outputs[0]);
    const unsigned blocks = grid_for(g_.total, kThreads);
    if (g_.total < kInt32Limit) pad_kernel<T, uint32_t><<<blocks, kThreads, 0, r.handles.stream>>>(x, value, y, g_);
    else pad_kernel<T, uint64_t><<<blocks, kThreads, 0, r.handles.stream>>>(x, value, y, g_);
    LW_CUDA_CHECK_LAUNCH("Pad kernel");
    return Status::ok();
  }

  PadGeometry g_;
  size_t esize_;
  bool has_value_;
};

Result<std::unique_ptr<Kernel>> make_pad(const KernelSpec& spec) {
  if (spec.inputs.size() < 2 || spec.outputs.size() != 1) return refuse(spec, "this arity");
  if (!all_static(spec)) return refuse(spec, "dynamic shapes");
  const Dims& x = spec.inputs[0].shape.dims();
  const size_t esize = dtype_size(spec.inputs[0].dtype);
  if (!is_unit_size(esize)) return refuse_dtype(spec, spec.inputs[0].dtype);
  LW_ASSIGN_OR_RETURN(Dims pads, const_ints(spec, 1, "pads"));
  auto out = ir::pad_output_dims(spec.node, x, pads);
  if (!out.is_ok()) return refuse(spec, "these pads (", out.status().message(), ")");
  if (*out != spec.outputs[0].shape.dims()) return refuse(spec, "output dims that disagree with inference");
  const bool has_value = present(spec, 2);
  if (has_value && (numel_of(spec.inputs[2].shape.dims()) != 1 || spec.inputs[2].dtype != spec.inputs[0].dtype))
    return refuse(spec, "a constant_value that is not one element of the input's type");
  const std::string mode = spec.node.attr_string("mode", "constant");
  PadGeometry g;
  if (mode == "constant") g.mode = kPadConstant;
  else if (mode == "edge") g.mode = kPadEdge;
  else if (mode == "reflect") g.mode = kPadReflect;
  else return refuse(spec, "mode '", mode, "'");
  g.total = numel_of(*out);
  if (g.total == 0) return make_kernel<EmptyKernel>();
  // Neighbouring dims without padding merge into one (any mode maps them to themselves).
  const Dims in_strides = row_major_strides(x);
  const size_t r = x.size();
  for (size_t d = 0; d < r; ++d) {
    const bool plain = pads[d] == 0 && (*out)[d] == x[d];
    if (plain && x[d] == 1) continue;
    const int last = g.rank - 1;
    if (plain && g.rank > 0 && g.begin[last] == 0 && g.out[last] == g.in[last]) {
      g.out[last] *= x[d];
      g.in[last] *= x[d];
      g.in_stride[last] = in_strides[d];
      continue;
    }
    if (g.rank == sc::kMaxDims) return refuse(spec, "more than ", sc::kMaxDims, " dims");
    g.out[g.rank] = (*out)[d];
    g.in[g.rank] = x[d];
    g.in_stride[g.rank] = in_strides[d];
    g.begin[g.rank] = pads[d];
    ++g.rank;
  }
  return make_kernel<PadKernel>(g, esize, has_value);
}

// ---------------------------------------------------------------------------------------------
// Trilu keeps element (i, j) of each matrix when j - i >= k (upper) or j - i <= k (lower).

// Whether element i of the [batch, rows, cols] input survives. Host-callable for tests.
template <typename I>
__host__ __device__ __forceinline__ bool trilu_keep(I i, I rows, I cols, int64_t k, bool upper) {
  const I t = i / cols, j = i - t * cols;
  const I row = t % rows;
  const int64_t diag = static_cast<int64_t>(j) - static_cast<int64_t>(row);
  return upper ? diag >= k : diag <= k;
}

template <typename T, typename I>
__global__ void trilu_kernel(const T* __restrict__ x, T* __restrict__ y, I total, I rows, I cols, int64_t k_fixed,
                             const int64_t* __restrict__ k_input, bool upper) {
  const int64_t k = k_input ? *k_input : k_fixed;
  const I step = static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x);
  for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + threadIdx.x; i < total; i += step)
    y[i] = trilu_keep(i, rows, cols, k, upper) ? x[i] : T{};
}

class TriluKernel final : public Kernel {
 public:
  TriluKernel(int64_t total, int64_t rows, int64_t cols, size_t esize, bool upper, int64_t k, bool k_at_run)
      : total_(total), rows_(rows), cols_(cols), esize_(esize), upper_(upper), k_(k), k_at_run_(k_at_run) {}
  Status run(const KernelRun& r) const override {
    switch (esize_) {
      case 1: return launch<Unit<1>::type>(r);
      case 2: return launch<Unit<2>::type>(r);
      case 4: return launch<Unit<4>::type>(r);
      default: return launch<Unit<8>::type>(r);
    }
  }

 private:
  template <typename T>
  Status launch(const KernelRun& r) const {
    const T* x = static_cast<const T*>(r.inputs[0]);
    T* y = static_cast<T*>(r.outputs[0]);
    const int64_t* k = k_at_run_ ? static_cast<const int64_t*>(r.inputs[1]) : nullptr;
    const unsigned blocks = grid_for(total_, kThreads);
    cudaStream_t stream = r.handles.stream;
    if (total_ < kInt32Limit)
      trilu_kernel<T, uint32_t><<<blocks, kThreads, 0, stream>>>(x, y, static_cast<uint32_t>(total_),
                                                                  static_cast<uint32_t>(rows_),
                                                                  static_cast<uint32_t>(cols_), k_, k, upper_);
    else
      trilu_kernel<T, uint64_t><<<blocks, kThreads, 0, stream>>>(x, y, static_cast<uint64_t>(total_),
                                                                  static_cast<uint64_t>(rows_),
                                                                  static_cast<uint64_t>(cols_), k_, k, upper_);
    LW_CUDA_CHECK_LAUNCH("Trilu kernel");
    return Status::ok();
  }

  int64_t total_, rows_, cols_;
  size_t esize_;
  bool upper_;
  int64_t k_;
  bool k_at_run_;
};

Result<std::unique_ptr<Kernel>> make_trilu(const KernelSpec& spec) {
  if (spec.inputs.empty() || spec.outputs.size() != 1) return refuse(spec, "this arity");
  if (!all_static(spec)) return refuse(spec, "dynamic shapes");
  const Dims& x = spec.inputs[0].shape.dims();
  const size_t esize = dtype_size(spec.inputs[0].dtype);
  if (!is_unit_size(esize)) return refuse_dtype(spec, spec.inputs[0].dtype);
  if (x.size() < 2) return refuse(spec, "an input of rank below 2");
  if (spec.outputs[0].shape.dims() != x) return refuse(spec, "output dims that differ from the input");
  int64_t k = 0;
  bool k_at_run = false;
  if (present(spec, 1)) {
    if (spec.inputs[1].dtype != DType::kInt64) return refuse_dtype(spec, spec.inputs[1].dtype);
    if (numel_of(spec.inputs[1].shape.dims()) != 1) return refuse(spec, "a k that is not a scalar");
    if (const ir::TensorData* c = const_input(spec, 1)) {
      LW_ASSIGN_OR_RETURN(Dims v, ir::tensor_to_ints(*c));
      if (v.size() != 1) return refuse(spec, "a k that is not a scalar");
      k = v[0];
    } else {
      k_at_run = true;
    }
  }
  const int64_t total = numel_of(x);
  if (total == 0) return make_kernel<EmptyKernel>();
  return make_kernel<TriluKernel>(total, x[x.size() - 2], x.back(), esize, spec.node.attr_int("upper", 1) != 0, k,
                                  k_at_run);
}

}  // namespace

void register_data_kernels(std::vector<KernelEntry>& registry) {
  for (const char* op : {"Identity", "Dropout", "Reshape", "Flatten", "Squeeze", "Unsqueeze"})
    registry.push_back({op, make_copy});
  registry.push_back({"Transpose", make_transpose});
  registry.push_back({"Concat", make_concat});
  registry.push_back({"Split", make_split});
  registry.push_back({"Slice", make_slice});
  registry.push_back({"Expand", make_expand});
  registry.push_back({"Tile", make_tile});
  registry.push_back({"Gather", make_gather});
  registry.push_back({"Pad", make_pad});
  registry.push_back({"Trilu", make_trilu});
}

}  // namespace lw::cuda
