// Reductions (ReduceMean, Sum, Max, Min, Prod, SumSquare, L1, L2, LogSum, LogSumExp) and
// ArgMax/ArgMin, with the semantics of cpu/kernels/reduce.cc: accumulation in double (as the
// CPU), Max/Min propagate NaN, empty reductions give the identity (Mean: NaN).
//
// The input is seen as kept dims x reduced dims (each list with size-1 dims dropped and
// contiguous neighbours merged, original order kept). Two kernels:
//  - groups: a warp or a block per output, its threads striding over the reduced elements;
//    used when the innermost reduced run is contiguous (reads coalesce along the row);
//  - cols: 32 consecutive outputs per block (the innermost memory dim is kept, so those
//    outputs sit side by side in memory) with 8 threads each striding over the reduced elements.
// When there are few outputs and many reduced elements, the reduced range is split over
// blockIdx.y: each split writes its partial accumulator to scratch and a second kernel combines
// the splits in order and finalizes (LogSumExp, which needs the row max first, never splits).
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "backends/cuda/kernels/elementwise_util.cuh"
#include "backends/cuda/kernels/kernels.h"

namespace lw::cuda {

namespace {

using namespace ew;

enum class Reduce { kMean, kSum, kMax, kMin, kProd, kSumSquare, kL1, kL2, kLogSum, kLogSumExp };

template <Reduce M>
struct Red {
  __device__ __forceinline__ static double init() {
    if constexpr (M == Reduce::kMax) return -static_cast<double>(INFINITY);
    else if constexpr (M == Reduce::kMin) return static_cast<double>(INFINITY);
    else if constexpr (M == Reduce::kProd) return 1.0;
    else return 0.0;
  }
  __device__ __forceinline__ static double transform(double v) {
    if constexpr (M == Reduce::kSumSquare || M == Reduce::kL2) return v * v;
    else if constexpr (M == Reduce::kL1) return fabs(v);
    else return v;
  }
  // Max/Min: once NaN, stays NaN (the CPU's `if (!isnan(acc) && (isnan(v) || v > acc))`).
  __device__ __forceinline__ static double combine(double a, double b) {
    if constexpr (M == Reduce::kMax) return (!isnan(a) && (isnan(b) || b > a)) ? b : a;
    else if constexpr (M == Reduce::kMin) return (!isnan(a) && (isnan(b) || b < a)) ? b : a;
    else if constexpr (M == Reduce::kProd) return a * b;
    else return a + b;
  }
  __device__ __forceinline__ static double finalize(double acc, int64_t count) {
    if constexpr (M == Reduce::kMean) return count > 0 ? acc / static_cast<double>(count) : static_cast<double>(NAN);
    else if constexpr (M == Reduce::kL2) return sqrt(acc);
    else if constexpr (M == Reduce::kLogSum) return log(acc);
    else return acc;
  }
};

template <Reduce M>
struct CombineOp {
  __device__ __forceinline__ double operator()(double a, double b) const { return Red<M>::combine(a, b); }
};

template <typename T>
__device__ __forceinline__ T store_double(double v) {
  return Num<T>::store(static_cast<typename Num<T>::C>(v));
}

struct RedGeom {
  int64_t outputs = 0, count = 0;
  Strided kept, red;
  bool red_flat = false;  // the reduced elements are one contiguous run: offset = q
  bool narrow = true;     // every offset fits in 32 bits
  int64_t splits = 1, chunk = 0;
};

template <typename T>
__device__ __forceinline__ double load_at(const T* x, const RedGeom& g, int64_t base, int64_t q) {
  const int64_t off = g.red_flat ? q : strided_offset(g.red, q, g.narrow);
  return static_cast<double>(Num<T>::load(x[base + off]));
}

// TPR threads per output (32: a warp, 8 outputs per 256-thread block; 256: the whole block).
template <typename T, Reduce M, int TPR>
__global__ void reduce_groups_kernel(const T* x, T* y, double* partial, const __grid_constant__ RedGeom g) {
  __shared__ double smem[32];
  const int lane = static_cast<int>(threadIdx.x) % TPR;
  const int group = static_cast<int>(threadIdx.x) / TPR;
  const int groups = static_cast<int>(blockDim.x) / TPR;
  const int64_t q_begin = static_cast<int64_t>(blockIdx.y) * g.chunk;
  const int64_t q_end = q_begin + g.chunk < g.count ? q_begin + g.chunk : g.count;
  for (int64_t o0 = static_cast<int64_t>(blockIdx.x) * groups; o0 < g.outputs;
       o0 += static_cast<int64_t>(gridDim.x) * groups) {
    const int64_t o = o0 + group;
    const bool active = o < g.outputs;
    const int64_t base = active ? strided_offset(g.kept, o, g.narrow) : 0;
    if constexpr (M == Reduce::kLogSumExp) {
      double mx = -static_cast<double>(INFINITY);
      if (active)
        for (int64_t q = q_begin + lane; q < q_end; q += TPR) mx = std_max(mx, load_at(x, g, base, q));
      mx = group_reduce<TPR>(mx, StdMaxOp{}, smem);
      const bool finite = isfinite(mx);
      double acc = 0.0;
      if (active)
        for (int64_t q = q_begin + lane; q < q_end; q += TPR) {
          const double v = load_at(x, g, base, q);
          acc += finite ? exp(v - mx) : exp(v);
        }
      acc = group_reduce<TPR>(acc, SumOp{}, smem);
      if (active && lane == 0) y[o] = store_double<T>(finite ? mx + log(acc) : log(acc));
    } else {
      double acc = Red<M>::init();
      if (active)
        for (int64_t q = q_begin + lane; q < q_end; q += TPR)
          acc = Red<M>::combine(acc, Red<M>::transform(load_at(x, g, base, q)));
      acc = group_reduce<TPR>(acc, CombineOp<M>{}, smem);
      if (active && lane == 0) {
        if (g.splits > 1) partial[o * g.splits + blockIdx.y] = acc;
        else y[o] = store_double<T>(Red<M>::finalize(acc, g.count));
      }
    }
  }
}

inline constexpr int kColOutputs = 32;  // blockDim.x: consecutive outputs
inline constexpr int kColLanes = 8;     // blockDim.y: threads per output

template <typename T, Reduce M>
__global__ void reduce_cols_kernel(const T* x, T* y, double* partial, const __grid_constant__ RedGeom g) {
  __shared__ double sm[kColLanes][kColOutputs + 1];
  __shared__ double row_max[kColOutputs];
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int64_t q_begin = static_cast<int64_t>(blockIdx.y) * g.chunk;
  const int64_t q_end = q_begin + g.chunk < g.count ? q_begin + g.chunk : g.count;
  for (int64_t o0 = static_cast<int64_t>(blockIdx.x) * kColOutputs; o0 < g.outputs;
       o0 += static_cast<int64_t>(gridDim.x) * kColOutputs) {
    const int64_t o = o0 + tx;
    const bool active = o < g.outputs;
    const int64_t base = active ? strided_offset(g.kept, o, g.narrow) : 0;
    if constexpr (M == Reduce::kLogSumExp) {
      double mx = -static_cast<double>(INFINITY);
      if (active)
        for (int64_t q = q_begin + ty; q < q_end; q += kColLanes) mx = std_max(mx, load_at(x, g, base, q));
      sm[ty][tx] = mx;
      __syncthreads();
      if (ty == 0) {
        double m = sm[0][tx];
        for (int r = 1; r < kColLanes; ++r) m = std_max(m, sm[r][tx]);
        row_max[tx] = m;
      }
      __syncthreads();
      mx = row_max[tx];
      const bool finite = isfinite(mx);
      double acc = 0.0;
      if (active)
        for (int64_t q = q_begin + ty; q < q_end; q += kColLanes) {
          const double v = load_at(x, g, base, q);
          acc += finite ? exp(v - mx) : exp(v);
        }
      sm[ty][tx] = acc;
      __syncthreads();
      if (ty == 0 && active) {
        double s = sm[0][tx];
        for (int r = 1; r < kColLanes; ++r) s += sm[r][tx];
        y[o] = store_double<T>(finite ? mx + log(s) : log(s));
      }
      __syncthreads();
    } else {
      double acc = Red<M>::init();
      if (active)
        for (int64_t q = q_begin + ty; q < q_end; q += kColLanes)
          acc = Red<M>::combine(acc, Red<M>::transform(load_at(x, g, base, q)));
      sm[ty][tx] = acc;
      __syncthreads();
      if (ty == 0 && active) {
        double a = sm[0][tx];
        for (int r = 1; r < kColLanes; ++r) a = Red<M>::combine(a, sm[r][tx]);
        if (g.splits > 1) partial[o * g.splits + blockIdx.y] = a;
        else y[o] = store_double<T>(Red<M>::finalize(a, g.count));
      }
      __syncthreads();
    }
  }
}

template <typename T, Reduce M>
__global__ void reduce_finish_kernel(const double* partial, T* y, int64_t outputs, int64_t splits, int64_t count) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < outputs; o += stride) {
    double acc = Red<M>::init();
    for (int64_t s = 0; s < splits; ++s) acc = Red<M>::combine(acc, partial[o * splits + s]);
    y[o] = store_double<T>(Red<M>::finalize(acc, count));
  }
}

enum class Strategy { kWarp, kBlock, kCols };

template <typename T, Reduce M>
class ReduceKernel final : public Kernel {
 public:
  ReduceKernel(RedGeom g, Strategy s) : g_(g), s_(s) {}
  size_t scratch_bytes() const override {
    return g_.splits > 1 ? static_cast<size_t>(g_.outputs * g_.splits) * sizeof(double) : 0;
  }
  Status run(const KernelRun& r) const override {
    if (g_.outputs == 0) return Status::ok();
    const T* x = static_cast<const T*>(r.inputs[0]);
    T* y = static_cast<T*>(r.outputs[0]);
    double* partial = g_.splits > 1 ? static_cast<double*>(r.scratch) : nullptr;
    cudaStream_t st = r.handles.stream;
    const unsigned splits = static_cast<unsigned>(g_.splits);
    switch (s_) {
      case Strategy::kWarp:
        reduce_groups_kernel<T, M, 32><<<dim3(blocks_for(g_.outputs, kThreads / 32), splits), kThreads, 0, st>>>(
            x, y, partial, g_);
        break;
      case Strategy::kBlock:
        reduce_groups_kernel<T, M, kThreads><<<dim3(blocks_for(g_.outputs, 1), splits), kThreads, 0, st>>>(
            x, y, partial, g_);
        break;
      case Strategy::kCols:
        reduce_cols_kernel<T, M><<<dim3(blocks_for(g_.outputs, kColOutputs), splits), dim3(kColOutputs, kColLanes), 0,
                                   st>>>(x, y, partial, g_);
        break;
    }
    LW_CUDA_CHECK_LAUNCH("reduce kernel");
    if (g_.splits > 1) {
      reduce_finish_kernel<T, M><<<grid_for(g_.outputs, kThreads), kThreads, 0, st>>>(partial, y, g_.outputs, g_.splits,
                                                                                     g_.count);
      LW_CUDA_CHECK_LAUNCH("reduce finish kernel");
    }
    return Status::ok();
  }

 private:
  RedGeom g_;
  Strategy s_;
};

struct DimStride {
  int64_t dim, stride;
};

// Appends a dim, merging it into the previous one when together they are one strided run.
void push_merged(std::vector<DimStride>& v, int64_t dim, int64_t stride) {
  if (!v.empty() && v.back().stride == dim * stride) {
    v.back().dim *= dim;
    v.back().stride = stride;
  } else {
    v.push_back({dim, stride});
  }
}

bool to_strided(const std::vector<DimStride>& v, Strided* s) {
  if (v.size() > static_cast<size_t>(kMaxRank)) return false;
  s->rank = static_cast<int>(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    s->dims[i] = v[i].dim;
    s->strides[i] = v[i].stride;
  }
  return true;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Splits of the reduced range for `blocks` blocks of output work; 1 when there is enough
// parallelism already or too little to split.
int64_t choose_splits(int64_t blocks, int64_t count, int64_t min_count, int64_t per_split) {
  if (count < min_count || blocks >= 256) return 1;
  int64_t s = std::min<int64_t>({ceil_div(count, per_split), ceil_div(1024, blocks), 256});
  return std::max<int64_t>(s, 1);
}

template <typename T, Reduce M>
Result<std::unique_ptr<Kernel>> reduce_typed(RedGeom g, bool inner_contiguous) {
  Strategy s;
  int64_t blocks;
  if (inner_contiguous && g.count >= 32) {
    s = g.count <= 1024 ? Strategy::kWarp : Strategy::kBlock;
    blocks = s == Strategy::kWarp ? ceil_div(g.outputs, kThreads / 32) : g.outputs;
    g.splits = M == Reduce::kLogSumExp ? 1 : choose_splits(blocks, g.count, 8192, 4096);
  } else {
    s = Strategy::kCols;
    blocks = ceil_div(g.outputs, kColOutputs);
    g.splits = M == Reduce::kLogSumExp ? 1 : choose_splits(blocks, g.count, 1024, 256);
  }
  g.chunk = std::max<int64_t>(ceil_div(g.count, g.splits), 1);
  g.splits = std::max<int64_t>(ceil_div(g.count, g.chunk), 1);
  return make_kernel<ReduceKernel<T, M>>(g, s);
}

template <Reduce M>
Result<std::unique_ptr<Kernel>> make_reduce(const KernelSpec& spec) {
  if (spec.inputs.empty() || spec.outputs.empty() || !present(spec, 0))
    return kernel_error(spec.node, StatusCode::kInvalidArgument, "expects an input and an output");
  const DType t = spec.inputs[0].dtype;
  if (t != DType::kFloat32 && t != DType::kFloat64 && t != DType::kFloat16) return refuse(spec.node, "input 0", t);
  if (spec.outputs[0].dtype != t) return refuse(spec.node, "output 0", spec.outputs[0].dtype);
  const Dims& x = spec.inputs[0].shape.dims();
  const int64_t r = static_cast<int64_t>(x.size());
  Dims axes_list = spec.node.attr_ints("axes");
  if (present(spec, 1)) {
    const ir::TensorData* c = spec.const_inputs.size() > 1 ? spec.const_inputs[1] : nullptr;
    if (!c)
      return kernel_error(spec.node, StatusCode::kUnsupportedDtype,
                          "input 'axes' is not a constant (the CUDA kernel needs it at creation)");
    LW_ASSIGN_OR_RETURN(axes_list, ir::tensor_to_ints(*c));
  }
  std::set<int64_t> axes;
  for (int64_t a : axes_list) {
    if (a < -r || a >= r) return kernel_error(spec.node, StatusCode::kInvalidArgument, "axis ", a, " is out of range");
    axes.insert(a < 0 ? a + r : a);
  }
  // No axes: everything is reduced, unless noop_with_empty_axes (then nothing is).
  if (axes_list.empty() && spec.node.attr_int("noop_with_empty_axes", 0) == 0)
    for (int64_t k = 0; k < r; ++k) axes.insert(k);

  Dims strides(x.size(), 1);
  for (size_t k = x.size(); k-- > 1;) strides[k - 1] = strides[k] * x[k];
  std::vector<DimStride> kept, red;
  for (int64_t k = 0; k < r; ++k) {
    const size_t i = static_cast<size_t>(k);
    if (x[i] == 1) continue;
    push_merged(axes.count(k) ? red : kept, x[i], strides[i]);
  }
  RedGeom g;
  if (!to_strided(kept, &g.kept) || !to_strided(red, &g.red))
    return kernel_error(spec.node, StatusCode::kUnsupportedDtype, "more than ", kMaxRank,
                        " separate kept or reduced dims are not supported on CUDA");
  g.outputs = 1;
  for (const DimStride& d : kept) g.outputs *= d.dim;
  g.count = 1;
  for (const DimStride& d : red) g.count *= d.dim;
  if (numel_of(spec.outputs[0].shape.dims()) != g.outputs)
    return kernel_error(spec.node, StatusCode::kInvalidArgument, "output ", spec.outputs[0].shape.dims(),
                        " does not hold one element per kept index of ", x);
  g.red_flat = red.empty() || (red.size() == 1 && red[0].stride == 1);
  g.narrow = numel_of(x) <= static_cast<int64_t>(std::numeric_limits<int32_t>::max());
  const bool inner_contiguous = !red.empty() && red.back().stride == 1;
  switch (t) {
    case DType::kFloat32: return reduce_typed<float, M>(g, inner_contiguous);
    case DType::kFloat64: return reduce_typed<double, M>(g, inner_contiguous);
    default: return reduce_typed<__half, M>(g, inner_contiguous);
  }
}

// ---- ArgMax / ArgMin ----

struct ArgGeom {
  int64_t rows = 0;  // outer * inner
  int64_t axis = 0, inner = 1;
  bool max = true, last = false;
};

template <typename C>
__device__ __forceinline__ bool arg_better(C v, C b, const ArgGeom& g) {
  return g.max ? (v > b || (g.last && v == b)) : (v < b || (g.last && v == b));
}

// One thread per output, scanning as the CPU does (first element first, `better` replaces).
template <typename T>
__global__ void arg_thread_kernel(const T* x, int64_t* y, const __grid_constant__ ArgGeom g) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; row < g.rows; row += stride) {
    const int64_t o = row / g.inner, i = row - o * g.inner;
    const T* p = x + o * g.axis * g.inner + i;
    int64_t best = 0;
    auto bv = Num<T>::load(p[0]);
    for (int64_t k = 1; k < g.axis; ++k) {
      const auto v = Num<T>::load(p[k * g.inner]);
      if (arg_better(v, bv, g)) {
        best = k;
        bv = v;
      }
    }
    y[row] = best;
  }
}

// Candidate of the parallel scan: NaN elements never become the best (the CPU's comparisons
// with NaN are false), ties go to the lower index, or the higher with select_last_index. The
// CPU's one exception, a NaN first element (it then never leaves index 0), is applied at the end.
template <typename K>
__device__ __forceinline__ bool arg_takes(K v, int64_t k, K bv, int64_t bk, const ArgGeom& g) {
  if (k < 0) return false;
  if (bk < 0) return true;
  if (v == bv) return g.last ? k > bk : k < bk;
  return g.max ? v > bv : v < bv;
}

template <typename T, int TPR>
__global__ void arg_groups_kernel(const T* x, int64_t* y, const __grid_constant__ ArgGeom g) {
  using C = typename Num<T>::C;
  // Shuffles need 32- or 64-bit values; small integers widen to int without changing order.
  using K = std::conditional_t<(std::is_integral_v<C> && sizeof(C) < 4), int, C>;
  __shared__ K sv[32];
  __shared__ int64_t sk[32];
  const int lane = static_cast<int>(threadIdx.x) % TPR;
  const int group = static_cast<int>(threadIdx.x) / TPR;
  const int groups = static_cast<int>(blockDim.x) / TPR;
  for (int64_t r0 = static_cast<int64_t>(blockIdx.x) * groups; r0 < g.rows; r0 += static_cast<int64_t>(gridDim.x) * groups) {
    const int64_t row = r0 + group;
    const bool active = row < g.rows;
    const int64_t o = row / g.inner, i = row - o * g.inner;
    const T* p = x + o * g.axis * g.inner + i;
    K bv = K(0);
    int64_t bk = -1;
    if (active)
      for (int64_t k = lane; k < g.axis; k += TPR) {
        const K v = static_cast<K>(Num<T>::load(p[k * g.inner]));
        if (is_nan_value(v)) continue;
        if (arg_takes(v, k, bv, bk, g)) {
          bv = v;
          bk = k;
        }
      }
#pragma unroll
    for (int m = 16; m > 0; m >>= 1) {
      const K ov = shfl_xor(bv, m);
      const int64_t ok = shfl_xor(static_cast<long long>(bk), m);
      if (arg_takes(ov, ok, bv, bk, g)) {
        bv = ov;
        bk = ok;
      }
    }
    if constexpr (TPR > 32) {
      const int w = static_cast<int>(threadIdx.x) >> 5, warps = static_cast<int>(blockDim.x) >> 5;
      __syncthreads();
      if ((threadIdx.x & 31u) == 0) {
        sv[w] = bv;
        sk[w] = bk;
      }
      __syncthreads();
      bv = sv[0];
      bk = sk[0];
      for (int j = 1; j < warps; ++j)
        if (arg_takes(sv[j], sk[j], bv, bk, g)) {
          bv = sv[j];
          bk = sk[j];
        }
    }
    if (active && lane == 0) y[row] = is_nan_value(Num<T>::load(p[0])) || bk < 0 ? 0 : bk;
  }
}

enum class ArgStrategy { kThread, kWarp, kBlock };

template <typename T>
class ArgKernel final : public Kernel {
 public:
  ArgKernel(ArgGeom g, ArgStrategy s) : g_(g), s_(s) {}
  Status run(const KernelRun& r) const override {
    if (g_.rows == 0) return Status::ok();
    const T* x = static_cast<const T*>(r.inputs[0]);
    int64_t* y = static_cast<int64_t*>(r.outputs[0]);
    cudaStream_t st = r.handles.stream;
    switch (s_) {
      case ArgStrategy::kThread: arg_thread_kernel<T><<<grid_for(g_.rows, kThreads), kThreads, 0, st>>>(x, y, g_); break;
      case ArgStrategy::kWarp:
        arg_groups_kernel<T, 32><<<blocks_for(g_.rows, kThreads / 32), kThreads, 0, st>>>(x, y, g_);
        break;
      case ArgStrategy::kBlock: arg_groups_kernel<T, kThreads><<<blocks_for(g_.rows, 1), kThreads, 0, st>>>(x, y, g_); break;
    }
    LW_CUDA_CHECK_LAUNCH("ArgMax/ArgMin kernel");
    return Status::ok();
  }

 private:
  ArgGeom g_;
  ArgStrategy s_;
};

template <typename T>
Result<std::unique_ptr<Kernel>> arg_typed(const ArgGeom& g) {
  ArgStrategy s = ArgStrategy::kThread;
  if (g.axis >= 32 && (g.inner == 1 || g.rows < 2048)) s = g.axis <= 1024 ? ArgStrategy::kWarp : ArgStrategy::kBlock;
  return make_kernel<ArgKernel<T>>(g, s);
}

Result<std::unique_ptr<Kernel>> make_arg(const KernelSpec& spec) {
  if (spec.inputs.empty() || spec.outputs.empty() || !present(spec, 0))
    return kernel_error(spec.node, StatusCode::kInvalidArgument, "expects an input and an output");
  if (spec.outputs[0].dtype != DType::kInt64) return refuse(spec.node, "output 0", spec.outputs[0].dtype);
  const Dims& x = spec.inputs[0].shape.dims();
  const int64_t r = static_cast<int64_t>(x.size());
  int64_t axis = spec.node.attr_int("axis", 0);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) return kernel_error(spec.node, StatusCode::kInvalidArgument, "axis out of range");
  if (x[static_cast<size_t>(axis)] == 0) return kernel_error(spec.node, StatusCode::kInvalidArgument, "the axis is empty");
  ArgGeom g;
  g.axis = x[static_cast<size_t>(axis)];
  g.inner = numel_of(Dims(x.begin() + axis + 1, x.end()));
  g.rows = numel_of(Dims(x.begin(), x.begin() + axis)) * g.inner;
  g.max = spec.node.op == "ArgMax";
  g.last = spec.node.attr_int("select_last_index", 0) != 0;
  if (numel_of(spec.outputs[0].shape.dims()) != g.rows)
    return kernel_error(spec.node, StatusCode::kInvalidArgument, "output ", spec.outputs[0].shape.dims(),
                        " does not match the input ", x);
  switch (spec.inputs[0].dtype) {
    case DType::kFloat32: return arg_typed<float>(g);
    case DType::kFloat16: return arg_typed<__half>(g);
    case DType::kFloat64: return arg_typed<double>(g);
    case DType::kInt64: return arg_typed<int64_t>(g);
    case DType::kInt32: return arg_typed<int32_t>(g);
    case DType::kUint8: return arg_typed<uint8_t>(g);
    default: return refuse(spec.node, "input 0", spec.inputs[0].dtype);
  }
}

}  // namespace

void register_reduce_kernels(std::vector<KernelEntry>& registry) {
  registry.push_back({"ReduceMean", make_reduce<Reduce::kMean>});
  registry.push_back({"ReduceSum", make_reduce<Reduce::kSum>});
  registry.push_back({"ReduceMax", make_reduce<Reduce::kMax>});
  registry.push_back({"ReduceMin", make_reduce<Reduce::kMin>});
  registry.push_back({"ReduceProd", make_reduce<Reduce::kProd>});
  registry.push_back({"ReduceSumSquare", make_reduce<Reduce::kSumSquare>});
  registry.push_back({"ReduceL1", make_reduce<Reduce::kL1>});
  registry.push_back({"ReduceL2", make_reduce<Reduce::kL2>});
  registry.push_back({"ReduceLogSum", make_reduce<Reduce::kLogSum>});
  registry.push_back({"ReduceLogSumExp", make_reduce<Reduce::kLogSumExp>});
  registry.push_back({"ArgMax", make_arg});
  registry.push_back({"ArgMin", make_arg});
}

}  // namespace lw::cuda
