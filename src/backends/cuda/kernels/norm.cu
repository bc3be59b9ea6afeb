// BatchNormalization (inference), Softmax / LogSoftmax along one axis and LayerNormalization,
// with the arithmetic of cpu/kernels/norm.cc: BatchNorm's per-channel affine form in float with
// the same rounding steps, Softmax's float sum, LogSoftmax's and LayerNorm's statistics in
// double. float16 tensors are computed in float (LayerNorm's Mean/InvStdDev stay float32).
//
// Softmax and LayerNorm work on rows: a warp per row when the row is short, a block per row
// otherwise, each thread striding over the row (any length) and the partial results combined
// with warp shuffles (and shared memory across warps). Softmax over a non-last axis with many
// rows runs one thread per row instead, neighbouring threads reading neighbouring columns.
#include <cmath>
#include <limits>

#include "backends/cuda/kernels/elementwise_util.cuh"
#include "backends/cuda/kernels/kernels.h"

namespace lw::cuda {

namespace {

using namespace ew;

// ---- BatchNormalization ----

// __f*_rn keep each product and sum separately rounded (no FMA contraction), as the CPU's.
template <typename T, typename P>
__global__ void batch_norm_kernel(const T* x, const P* scale, const P* bias, const P* mean, const P* var, T* y,
                                  int64_t n, int64_t c, int64_t spatial, float eps, bool narrow) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t ch;
    if (narrow) ch = static_cast<int64_t>((static_cast<uint32_t>(i) / static_cast<uint32_t>(spatial)) % static_cast<uint32_t>(c));
    else ch = (i / spatial) % c;
    const float a = __fdiv_rn(Num<P>::load(scale[ch]), sqrtf(__fadd_rn(Num<P>::load(var[ch]), eps)));
    const float shift = __fsub_rn(Num<P>::load(bias[ch]), __fmul_rn(Num<P>::load(mean[ch]), a));
    y[i] = Num<T>::store(__fadd_rn(__fmul_rn(Num<T>::load(x[i]), a), shift));
  }
}

template <typename T, typename P>
class BatchNormKernel final : public Kernel {
 public:
  BatchNormKernel(int64_t n, int64_t c, int64_t spatial, float eps)
      : n_(n), c_(c), spatial_(spatial), eps_(eps), narrow_(n <= std::numeric_limits<int32_t>::max()) {}
  Status run(const KernelRun& r) const override {
    if (n_ == 0) return Status::ok();
    batch_norm_kernel<T, P><<<grid_for(n_, kThreads), kThreads, 0, r.handles.stream>>>(
        static_cast<const T*>(r.inputs[0]), static_cast<const P*>(r.inputs[1]), static_cast<const P*>(r.inputs[2]),
        static_cast<const P*>(r.inputs[3]), static_cast<const P*>(r.inputs[4]), static_cast<T*>(r.outputs[0]), n_, c_,
        spatial_, eps_, narrow_);
    LW_CUDA_CHECK_LAUNCH("BatchNormalization kernel");
    return Status::ok();
  }

 private:
  int64_t n_, c_, spatial_;
  float eps_;
  bool narrow_;
};

Result<std::unique_ptr<Kernel>> make_batch_norm(const KernelSpec& spec) {
  if (spec.inputs.size() != 5 || spec.outputs.empty())
    return kernel_error(spec.node, StatusCode::kInvalidArgument, "expects 5 inputs");
  if (spec.node.attr_int("training_mode", 0) != 0 || spec.outputs.size() > 1)
    return kernel_error(spec.node, StatusCode::kUnsupportedDtype, "training mode runs on the CPU kernel");
  const DType t = spec.inputs[0].dtype, p = spec.inputs[1].dtype;
  if (t != DType::kFloat32 && t != DType::kFloat16) return refuse(spec.node, "X", t);
  if (p != DType::kFloat32 && p != DType::kFloat16) return refuse(spec.node, "scale", p);
  for (size_t i = 2; i < 5; ++i)
    if (spec.inputs[i].dtype != p)
      return kernel_error(spec.node, StatusCode::kUnsupportedDtype, "input ", i, " differs in type from scale");
  if (spec.outputs[0].dtype != t) return refuse(spec.node, "Y", spec.outputs[0].dtype);
  const Dims& x = spec.inputs[0].shape.dims();
  if (x.size() < 2) return kernel_error(spec.node, StatusCode::kInvalidArgument, "X must have rank >= 2");
  for (size_t i = 1; i < 5; ++i)
    if (numel_of(spec.inputs[i].shape.dims()) != x[1])
      return kernel_error(spec.node, StatusCode::kInvalidArgument, "input ", i, " must hold ", x[1], " values");
  const int64_t n = numel_of(x), c = x[1], spatial = numel_of(Dims(x.begin() + 2, x.end()));
  if (n > 0 && (c == 0 || spatial == 0)) return kernel_error(spec.node, StatusCode::kInvalidArgument, "bad X shape");
  const float eps = spec.node.attr_float("epsilon", 1e-5f);
  if (t == DType::kFloat32) {
    if (p == DType::kFloat32) return make_kernel<BatchNormKernel<float, float>>(n, c, spatial, eps);
    return make_kernel<BatchNormKernel<float, __half>>(n, c, spatial, eps);
  }
  if (p == DType::kFloat32) return make_kernel<BatchNormKernel<__half, float>>(n, c, spatial, eps);
  return make_kernel<BatchNormKernel<__half, __half>>(n, c, spatial, eps);
}

// ---- Softmax / LogSoftmax ----

struct SoftmaxGeom {
  int64_t rows = 0;  // outer * inner
  int64_t axis = 0, inner = 1;
  bool log = false;
};

template <typename T>
__device__ __forceinline__ float ld(const T* p) {
  return Num<T>::load(*p);
}

// One thread per row (neighbouring threads: neighbouring columns of the same outer index).
template <typename T>
__global__ void softmax_thread_kernel(const T* x, T* y, const __grid_constant__ SoftmaxGeom g) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; row < g.rows; row += stride) {
    const int64_t o = row / g.inner, i = row - o * g.inner;
    const int64_t base = o * g.axis * g.inner + i, s = g.inner;
    float mx = -INFINITY;
    for (int64_t k = 0; k < g.axis; ++k) mx = std_max(mx, ld(x + base + k * s));
    if (g.log) {
      double sum = 0.0;
      for (int64_t k = 0; k < g.axis; ++k) sum += exp(static_cast<double>(ld(x + base + k * s) - mx));
      const float log_sum = static_cast<float>(log(sum));
      for (int64_t k = 0; k < g.axis; ++k) y[base + k * s] = Num<T>::store((ld(x + base + k * s) - mx) - log_sum);
    } else {
      float sum = 0.0f;
      for (int64_t k = 0; k < g.axis; ++k) sum += expf(ld(x + base + k * s) - mx);
      const float inv = 1.0f / sum;
      for (int64_t k = 0; k < g.axis; ++k) y[base + k * s] = Num<T>::store(expf(ld(x + base + k * s) - mx) * inv);
    }
  }
}

// TPR threads per row: a warp (8 rows per 256-thread block) or the whole block.
template <typename T, int TPR>
__global__ void softmax_groups_kernel(const T* x, T* y, const __grid_constant__ SoftmaxGeom g) {
  __shared__ float smf[32];
  __shared__ double smd[32];
  const int lane = static_cast<int>(threadIdx.x) % TPR;
  const int group = static_cast<int>(threadIdx.x) / TPR;
  const int groups = static_cast<int>(blockDim.x) / TPR;
  for (int64_t r0 = static_cast<int64_t>(blockIdx.x) * groups; r0 < g.rows; r0 += static_cast<int64_t>(gridDim.x) * groups) {
    const int64_t row = r0 + group;
    const bool active = row < g.rows;
    const int64_t o = row / g.inner, i = row - o * g.inner;
    const int64_t base = o * g.axis * g.inner + i, s = g.inner;
    const int64_t len = active ? g.axis : 0;
    float mx = -INFINITY;
    for (int64_t k = lane; k < len; k += TPR) mx = std_max(mx, ld(x + base + k * s));
    mx = group_reduce<TPR>(mx, StdMaxOp{}, smf);
    if (g.log) {
      double sum = 0.0;
      for (int64_t k = lane; k < len; k += TPR) sum += exp(static_cast<double>(ld(x + base + k * s) - mx));
      sum = group_reduce<TPR>(sum, SumOp{}, smd);
      const float log_sum = static_cast<float>(log(sum));
      for (int64_t k = lane; k < len; k += TPR) y[base + k * s] = Num<T>::store((ld(x + base + k * s) - mx) - log_sum);
    } else {
      float sum = 0.0f;
      for (int64_t k = lane; k < len; k += TPR) sum += expf(ld(x + base + k * s) - mx);
      sum = group_reduce<TPR>(sum, SumOp{}, smf);
      const float inv = 1.0f / sum;
      for (int64_t k = lane; k < len; k += TPR) y[base + k * s] = Num<T>::store(expf(ld(x + base + k * s) - mx) * inv);
    }
  }
}

enum class RowStrategy { kThread, kWarp, kBlock };

// Many rows that are strided or too short to occupy a warp: a thread per row.
RowStrategy row_strategy(int64_t len, bool contiguous, int64_t rows) {
  if (rows >= 2048 && (!contiguous || len < 32)) return RowStrategy::kThread;
  return len <= 1024 ? RowStrategy::kWarp : RowStrategy::kBlock;
}

template <typename T>
class SoftmaxKernel final : public Kernel {
 public:
  SoftmaxKernel(SoftmaxGeom g, RowStrategy s) : g_(g), s_(s) {}
  Status run(const KernelRun& r) const override {
    if (g_.rows == 0 || g_.axis == 0) return Status::ok();
    const T* x = static_cast<const T*>(r.inputs[0]);
    T* y = static_cast<T*>(r.outputs[0]);
    cudaStream_t st = r.handles.stream;
    switch (s_) {
      case RowStrategy::kThread: softmax_thread_kernel<T><<<grid_for(g_.rows, kThreads), kThreads, 0, st>>>(x, y, g_); break;
      case RowStrategy::kWarp:
        softmax_groups_kernel<T, 32><<<blocks_for(g_.rows, kThreads / 32), kThreads, 0, st>>>(x, y, g_);
        break;
      case RowStrategy::kBlock:
        softmax_groups_kernel<T, kThreads><<<blocks_for(g_.rows, 1), kThreads, 0, st>>>(x, y, g_);
        break;
    }
    LW_CUDA_CHECK_LAUNCH("Softmax kernel");
    return Status::ok();
  }

 private:
  SoftmaxGeom g_;
  RowStrategy s_;
};

Result<std::unique_ptr<Kernel>> make_softmax(const KernelSpec& spec) {
  if (spec.inputs.empty() || spec.outputs.empty() || !present(spec, 0))
    return kernel_error(spec.node, StatusCode::kInvalidArgument, "expects an input and an output");
  const DType t = spec.inputs[0].dtype;
  if (t != DType::kFloat32 && t != DType::kFloat16) return refuse(spec.node, "input 0", t);
  if (spec.outputs[0].dtype != t) return refuse(spec.node, "output 0", spec.outputs[0].dtype);
  const Dims& x = spec.inputs[0].shape.dims();
  const int64_t r = static_cast<int64_t>(x.size());
  int64_t axis = spec.node.attr_int("axis", -1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) return kernel_error(spec.node, StatusCode::kInvalidArgument, "axis out of range");
  SoftmaxGeom g;
  g.axis = x[static_cast<size_t>(axis)];
  g.inner = numel_of(Dims(x.begin() + axis + 1, x.end()));
  g.rows = numel_of(Dims(x.begin(), x.begin() + axis)) * g.inner;
  g.log = spec.node.op == "LogSoftmax";
  const RowStrategy s = row_strategy(g.axis, g.inner == 1, g.rows);
  if (t == DType::kFloat32) return make_kernel<SoftmaxKernel<float>>(g, s);
  return make_kernel<SoftmaxKernel<__half>>(g, s);
}

// ---- LayerNormalization ----

struct LayerNormGeom {
  int64_t rows = 0, cols = 0;
  double eps = 0.0;
  // Scale (0) and B (1) element of column k: k * step when `flat`, else the broadcast plan.
  bool flat = true;
  int64_t step[2] = {1, 1};
  Bcast<2> bc;
};

template <typename T, int TPR>
__global__ void layer_norm_kernel(const T* x, const T* scale, const T* bias, T* y, float* mean_out, float* inv_out,
                                  const __grid_constant__ LayerNormGeom g) {
  __shared__ double smd[32];
  const int lane = static_cast<int>(threadIdx.x) % TPR;
  const int group = static_cast<int>(threadIdx.x) / TPR;
  const int groups = static_cast<int>(blockDim.x) / TPR;
  const double n = static_cast<double>(g.cols);
  for (int64_t r0 = static_cast<int64_t>(blockIdx.x) * groups; r0 < g.rows; r0 += static_cast<int64_t>(gridDim.x) * groups) {
    const int64_t row = r0 + group;
    const bool active = row < g.rows;
    const int64_t len = active ? g.cols : 0;
    const T* xp = x + row * g.cols;
    T* yp = y + row * g.cols;
    double sum = 0.0;
    for (int64_t k = lane; k < len; k += TPR) sum += static_cast<double>(ld(xp + k));
    const double mean = group_reduce<TPR>(sum, SumOp{}, smd) / n;
    double var = 0.0;
    for (int64_t k = lane; k < len; k += TPR) {
      const double d = static_cast<double>(ld(xp + k)) - mean;
      var += d * d;
    }
    var = group_reduce<TPR>(var, SumOp{}, smd) / n;
    const double inv = 1.0 / sqrt(var + g.eps);
    for (int64_t k = lane; k < len; k += TPR) {
      int64_t si = k * g.step[0], bi = k * g.step[1];
      if (!g.flat) {
        int64_t off[2];
        bcast_offsets(g.bc, k, off);
        si = off[0];
        bi = off[1];
      }
      double v = (static_cast<double>(ld(xp + k)) - mean) * inv * static_cast<double>(ld(scale + si));
      if (bias) v += static_cast<double>(ld(bias + bi));
      yp[k] = Num<T>::store(static_cast<float>(v));
    }
    if (active && lane == 0) {
      if (mean_out) mean_out[row] = static_cast<float>(mean);
      if (inv_out) inv_out[row] = static_cast<float>(inv);
    }
  }
}

template <typename T>
class LayerNormKernel final : public Kernel {
 public:
  LayerNormKernel(LayerNormGeom g, bool has_bias, size_t outputs, bool block)
      : g_(g), has_bias_(has_bias), outputs_(outputs), block_(block) {}
  Status run(const KernelRun& r) const override {
    if (g_.rows == 0) return Status::ok();
    const T* x = static_cast<const T*>(r.inputs[0]);
    const T* scale = static_cast<const T*>(r.inputs[1]);
    const T* bias = has_bias_ ? static_cast<const T*>(r.inputs[2]) : nullptr;
    T* y = static_cast<T*>(r.outputs[0]);
    float* mean = outputs_ > 1 ? static_cast<float*>(r.outputs[1]) : nullptr;
    float* inv = outputs_ > 2 ? static_cast<float*>(r.outputs[2]) : nullptr;
    cudaStream_t st = r.handles.stream;
    if (block_)
      layer_norm_kernel<T, kThreads><<<blocks_for(g_.rows, 1), kThreads, 0, st>>>(x, scale, bias, y, mean, inv, g_);
    else
      layer_norm_kernel<T, 32><<<blocks_for(g_.rows, kThreads / 32), kThreads, 0, st>>>(x, scale, bias, y, mean, inv, g_);
    LW_CUDA_CHECK_LAUNCH("LayerNormalization kernel");
    return Status::ok();
  }

 private:
  LayerNormGeom g_;
  bool has_bias_;
  size_t outputs_;
  bool block_;
};

Result<std::unique_ptr<Kernel>> make_layer_norm(const KernelSpec& spec) {
  if (spec.inputs.size() < 2 || spec.outputs.empty() || !present(spec, 0) || !present(spec, 1))
    return kernel_error(spec.node, StatusCode::kInvalidArgument, "expects X and Scale");
  const DType t = spec.inputs[0].dtype;
  if (t != DType::kFloat32 && t != DType::kFloat16) return refuse(spec.node, "X", t);
  for (size_t i = 1; i < spec.inputs.size(); ++i)
    if (present(spec, i) && spec.inputs[i].dtype != t)
      return kernel_error(spec.node, StatusCode::kUnsupportedDtype, "input ", i, " differs in type from X");
  if (spec.outputs[0].dtype != t) return refuse(spec.node, "Y", spec.outputs[0].dtype);
  for (size_t i = 1; i < spec.outputs.size(); ++i)
    if (spec.outputs[i].dtype != DType::kFloat32 && spec.outputs[i].dtype != DType::kUndefined)
      return refuse(spec.node, i == 1 ? "Mean" : "InvStdDev", spec.outputs[i].dtype);
  if (spec.node.attr_int("stash_type", 1) != 1)
    return kernel_error(spec.node, StatusCode::kUnsupportedDtype, "stash_type other than 1 runs on the CPU kernel");
  const Dims& x = spec.inputs[0].shape.dims();
  const int64_t r = static_cast<int64_t>(x.size());
  int64_t axis = spec.node.attr_int("axis", -1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) return kernel_error(spec.node, StatusCode::kInvalidArgument, "axis out of range");
  const Dims tail(x.begin() + axis, x.end());
  const bool has_bias = present(spec, 2);
  LayerNormGeom g;
  g.cols = numel_of(tail);
  g.rows = numel_of(Dims(x.begin(), x.begin() + axis));
  g.eps = static_cast<double>(spec.node.attr_float("epsilon", 1e-5f));
  if (g.cols == 0) return kernel_error(spec.node, StatusCode::kInvalidArgument, "the normalized dims are empty");
  std::vector<Dims> strides;
  for (size_t i = 1; i < 3; ++i) {
    // An absent B reads nothing; it walks as a broadcast scalar.
    const Dims p = i == 1 || has_bias ? spec.inputs[i].shape.dims() : Dims{};
    if (!broadcasts_to(p, tail))
      return kernel_error(spec.node, StatusCode::kInvalidArgument, "input ", i, " ", p, " does not broadcast to ", tail);
    const int64_t m = numel_of(p);
    if (m == g.cols) g.step[i - 1] = 1;
    else if (m == 1) g.step[i - 1] = 0;
    else g.flat = false;
    strides.push_back(broadcast_strides(p, tail));
  }
  if (!g.flat && !to_bcast<2>(make_bcast_plan(tail, strides), &g.bc))
    return kernel_error(spec.node, StatusCode::kUnsupportedDtype, "Scale/B broadcast of rank above ", kMaxRank,
                        " after collapsing dims is not supported on CUDA");
  const bool block = g.cols > 1024;
  if (t == DType::kFloat32) return make_kernel<LayerNormKernel<float>>(g, has_bias, spec.outputs.size(), block);
  return make_kernel<LayerNormKernel<__half>>(g, has_bias, spec.outputs.size(), block);
}

}  // namespace

void register_norm_kernels(std::vector<KernelEntry>& registry) {
  registry.push_back({"BatchNormalization", make_batch_norm});
  registry.push_back({"Softmax", make_softmax});
  registry.push_back({"LogSoftmax", make_softmax});
  registry.push_back({"LayerNormalization", make_layer_norm});
}

}  // namespace lw::cuda
