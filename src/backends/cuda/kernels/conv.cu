// Conv (1-D to 3-D, groups, dilations, strides, pads incl. auto_pad, optional bias; NCHW
// activations, OIHW weights; float32 and float16) with the fused epilogue of
// compiler/passes/epilogue_fusion.h (bias, then residual, then Relu/Clip).
//
// Paths:
//   * cuDNN (legacy Nd descriptor API) when the library was opened (not LW_DISABLE_CUDNN),
//     the pads are symmetric (cuDNN has one pad per dim), every tensor has fewer than 2^31
//     elements, the reduction is not empty, and at creation cuDNN accepted the descriptors
//     and its heuristics (cudnnGetConvolutionForwardAlgorithm_v7, asked through a temporary
//     handle) offered an algorithm within the workspace cap; the workspace is scratch. 1-D
//     convolutions go in as 2-D with a height of 1. Math: float32 FMA only (no TF32) unless
//     the spec allows TF32, float16 tensor ops. The epilogue then runs as one elementwise pass.
//     At run time a null cuDNN handle or a failing call falls through to the own kernel.
//   * An own implicit-GEMM kernel otherwise: per group, a (Cout/group) x (N * output
//     spatial) product over Cin/group * kernel taps, tiled through shared memory with the
//     input patch gathered on the fly (padding and dilation by bounds checks; 1-D and 2-D as
//     3-D with unit leading dims). The epilogue is fused into its store.
// Weights and bias are read from the inputs on every run (they may be refreshed), never cached.
#include <cuda_fp16.h>

#include <climits>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/epilogue.cuh"
#include "backends/cuda/kernels/kernels.h"
#include "backends/cuda/libraries.h"
#include "core/log.h"
#include "graph/ops/spatial.h"

namespace lw::cuda {

namespace {

// Geometry with spatial dims padded to 3 (leading unit dims).
struct ConvGeom {
  int64_t n = 0, c = 0, cout = 0, group = 1, cg = 0, mg = 0;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1}, dil[3] = {1, 1, 1}, pad[3] = {0, 0, 0};
  int64_t isp = 1, osp = 1, ksp = 1;  // products of in, out, k
  int64_t kdim = 0;                   // cg * ksp: reduction length
  int64_t cols = 0;                   // n * osp
};

struct OwnArgs {
  ConvGeom g;
  const void* bias = nullptr;
  const void* residual = nullptr;
  epi::Activation act;
};

constexpr int kTileM = 64, kTileN = 64, kTileK = 16, kConvThreads = 256;

// Y[n, grp*mg + m, sp] = sum_kk W[grp*mg + m, kk] * X[n, grp*cg + ci, window(sp, taps(kk))].
// Each thread owns output channels ty + 16 i and columns tx + 16 j of a 64 x 64 tile, and
// loads one column of the input tile (so its column's coordinates are computed once per tile).
template <typename T>
__global__ void __launch_bounds__(kConvThreads) implicit_gemm_conv_kernel(const T* __restrict__ X,
                                                                          const T* __restrict__ Wt,
                                                                          T* __restrict__ Y, OwnArgs args) {
  const ConvGeom& g = args.g;
  __shared__ float As[kTileK][kTileM + 4];
  __shared__ float Bs[kTileK][kTileN + 4];
  // Per tap of the current k-step: the input offset relative to the window origin of a
  // column, and the tap's displacement in each dim (for the padding checks).
  __shared__ int64_t tap_off[kTileK];
  __shared__ int tap_d[kTileK][3];
  __shared__ bool tap_valid[kTileK];

  const T* bias = static_cast<const T*>(args.bias);
  const T* res = static_cast<const T*>(args.residual);
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int64_t tiles_m = (g.mg + kTileM - 1) / kTileM, tiles_n = (g.cols + kTileN - 1) / kTileN;
  const int64_t in_hw = g.in[1] * g.in[2];
  const int64_t out_hw = g.out[1] * g.out[2];
  const int my_col = tid % kTileN;     // the input-tile column this thread loads
  const int my_k0 = tid / kTileN;      // its first row in the input tile (then + 4 per step)

  for (int64_t grp = blockIdx.z; grp < g.group; grp += gridDim.z) {
    const T* w_grp = Wt + grp * g.mg * g.kdim;
    for (int64_t tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
      for (int64_t tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {
        const int64_t m0 = tm * kTileM, c0 = tn * kTileN;
        // This thread's load column: origin of its window in the input, as an offset and
        // as coordinates.
        const int64_t col = c0 + my_col;
        const bool col_ok = col < g.cols;
        int64_t x_pos = 0;
        int64_t o0 = 0, o1 = 0, o2 = 0;
        if (col_ok) {
          const int64_t nb = col / g.osp;
          const int64_t sp = col - nb * g.osp;
          const int64_t od = sp / out_hw;
          const int64_t rem = sp - od * out_hw;
          const int64_t oh = rem / g.out[2];
          const int64_t ow = rem - oh * g.out[2];
          o0 = od * g.stride[0] - g.pad[0];
          o1 = oh * g.stride[1] - g.pad[1];
          o2 = ow * g.stride[2] - g.pad[2];
          x_pos = (nb * g.c + grp * g.cg) * g.isp + o0 * in_hw + o1 * g.in[2] + o2;
        }

        float acc[4][4];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;

        for (int64_t k0 = 0; k0 < g.kdim; k0 += kTileK) {
          if (tid < kTileK) {
            const int64_t kk = k0 + tid;
            tap_valid[tid] = kk < g.kdim;
            if (kk < g.kdim) {
              const int64_t ci = kk / g.ksp;
              int64_t t = kk - ci * g.ksp;
              const int64_t kd = t / (g.k[1] * g.k[2]);
              t -= kd * g.k[1] * g.k[2];
              const int64_t kh = t / g.k[2];
              const int64_t kw = t - kh * g.k[2];
              const int64_t dd = kd * g.dil[0], dh = kh * g.dil[1], dw = kw * g.dil[2];
              tap_d[tid][0] = static_cast<int>(dd);
              tap_d[tid][1] = static_cast<int>(dh);
              tap_d[tid][2] = static_cast<int>(dw);
              tap_off[tid] = ci * g.isp + dd * in_hw + dh * g.in[2] + dw;
            }
          }
          // Weight tile: rows are output channels, k contiguous in memory.
#pragma unroll
          for (int i = 0; i < (kTileM * kTileK) / kConvThreads; ++i) {
            const int e = tid + i * kConvThreads;
            const int kl = e % kTileK, ml = e / kTileK;
            const int64_t m = m0 + ml, kk = k0 + kl;
            As[kl][ml] = (m < g.mg && kk < g.kdim) ? epi::to_float(w_grp[m * g.kdim + kk]) : 0.0f;
          }
          __syncthreads();  // taps ready
#pragma unroll
          for (int i = 0; i < (kTileN * kTileK) / kConvThreads; ++i) {
            const int kl = my_k0 + i * (kConvThreads / kTileN);
            float v = 0.0f;
            if (col_ok && tap_valid[kl]) {
              const int64_t id = o0 + tap_d[kl][0], ih = o1 + tap_d[kl][1], iw = o2 + tap_d[kl][2];
              if (id >= 0 && id < g.in[0] && ih >= 0 && ih < g.in[1] && iw >= 0 && iw < g.in[2])
                v = epi::to_float(X[x_pos + tap_off[kl]]);
            }
            Bs[kl][my_col] = v;
          }
          __syncthreads();  // tiles ready
          epi::accumulate_tile(As, Bs, ty, tx, acc);
          __syncthreads();  // done reading tiles and taps before the next step overwrites them
        }

        // Store with the fused epilogue: + bias, + residual, activation.
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const int64_t cc = c0 + tx + 16 * j;
          if (cc >= g.cols) continue;
          const int64_t nb = cc / g.osp;
          const int64_t sp = cc - nb * g.osp;
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            const int64_t m = m0 + ty + 16 * i;
            if (m >= g.mg) continue;
            const int64_t co = grp * g.mg + m;
            const int64_t idx = (nb * g.cout + co) * g.osp + sp;
            float v = acc[i][j];
            if (bias != nullptr) v += epi::to_float(bias[co]);
            if (res != nullptr) v += epi::to_float(res[idx]);
            Y[idx] = epi::from_float<T>(args.act.apply(v));
          }
        }
      }
    }
  }
}

#if defined(LW_HAVE_CUDNN_HEADERS)
// Largest cuDNN workspace we take as scratch; algorithms that want more are skipped.
constexpr size_t kMaxCudnnWorkspace = size_t{256} << 20;

// Descriptors and the algorithm chosen at creation; read-only afterwards, so concurrent runs
// on different handles may share them.
struct CudnnConv {
  const Libraries* libs = nullptr;
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  size_t workspace = 0;

  explicit CudnnConv(const Libraries* l) : libs(l) {}
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;
  ~CudnnConv() {
    if (conv) libs->cudnnDestroyConvolutionDescriptor_fn(conv);
    if (w) libs->cudnnDestroyFilterDescriptor_fn(w);
    if (y) libs->cudnnDestroyTensorDescriptor_fn(y);
    if (x) libs->cudnnDestroyTensorDescriptor_fn(x);
  }
};

// Handle for the algorithm query at creation only.
struct TempHandle {
  const Libraries* libs;
  cudnnHandle_t h = nullptr;
  explicit TempHandle(const Libraries* l) : libs(l) {
    if (libs->cudnnCreate_fn(&h) != CUDNN_STATUS_SUCCESS) h = nullptr;
  }
  TempHandle(const TempHandle&) = delete;
  TempHandle& operator=(const TempHandle&) = delete;
  ~TempHandle() {
    if (h) libs->cudnnDestroy_fn(h);
  }
};

void packed_strides(const int* dims, int nb, int* strides) {
  strides[nb - 1] = 1;
  for (int i = nb - 2; i >= 0; --i) strides[i] = strides[i + 1] * dims[i + 1];
}

// Timed algorithm search (cudnnFindConvolutionForwardAlgorithmEx) on scratch buffers, cached by
// the convolution's shape. False when unavailable (LW_CUDNN_FIND=0, no entry point, no memory):
// the caller then uses the heuristics.
bool find_algorithms(const Libraries* libs, cudnnHandle_t h, const CudnnConv& c, const ConvGeom& g, bool half,
                     const int* xd, const int* yd, const int* wd, int nb, const int* pads, const int* strides,
                     const int* dils, int ns, cudnnMathType_t math, cudnnConvolutionFwdAlgoPerf_t* perf,
                     int* returned) {
  if (!libs->cudnnFindConvolutionForwardAlgorithmEx_fn) return false;
  if (const char* v = std::getenv("LW_CUDNN_FIND"); v && std::string(v) == "0") return false;
  std::string key = str_cat(half ? "h" : "f", static_cast<int>(math), ":g", g.group);
  for (int i = 0; i < nb; ++i) key += str_cat(",", xd[i], "/", yd[i], "/", wd[i]);
  for (int i = 0; i < ns; ++i) key += str_cat(";", pads[i], "/", strides[i], "/", dils[i]);
  static std::mutex mu;
  static std::map<std::string, std::vector<cudnnConvolutionFwdAlgoPerf_t>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(key);
  if (it == cache.end()) {
    const size_t elem = half ? 2 : 4;
    auto count = [&](const int* d) {
      size_t n = 1;
      for (int i = 0; i < nb; ++i) n *= static_cast<size_t>(d[i]);
      return n * elem;
    };
    // Search with a workspace of at most 64 MiB; algorithms wanting more are skipped.
    constexpr size_t kSearchWorkspace = size_t{64} << 20;
    void *x = nullptr, *y = nullptr, *w = nullptr, *ws = nullptr;
    bool have = cudaMalloc(&x, count(xd)) == cudaSuccess && cudaMalloc(&y, count(yd)) == cudaSuccess &&
                cudaMalloc(&w, count(wd)) == cudaSuccess && cudaMalloc(&ws, kSearchWorkspace) == cudaSuccess;
    std::vector<cudnnConvolutionFwdAlgoPerf_t> found(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
    int n = 0;
    if (have) {
      have = cudaMemset(x, 0, count(xd)) == cudaSuccess && cudaMemset(w, 0, count(wd)) == cudaSuccess &&
             libs->cudnnFindConvolutionForwardAlgorithmEx_fn(h, c.x, x, c.w, w, c.conv, c.y, y,
                                                            CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, found.data(), ws,
                                                            kSearchWorkspace) == CUDNN_STATUS_SUCCESS;
    }
    for (void* p : {x, y, w, ws})
      if (p) (void)cudaFree(p);
    (void)cudaGetLastError();  // an out-of-memory above is not the caller's error
    if (!have) return false;
    found.resize(static_cast<size_t>(n));
    it = cache.emplace(key, std::move(found)).first;
  }
  *returned = static_cast<int>(it->second.size());
  std::copy(it->second.begin(), it->second.end(), perf);
  return true;
}

// The cuDNN setup for this convolution, or null where cuDNN cannot or will not run it (the
// own kernel then does).
std::unique_ptr<CudnnConv> make_cudnn_conv(const KernelSpec& spec, const ConvGeom& g, size_t rank,
                                           const ir::SpatialParams& sp, bool half) {
  const Libraries* libs = spec.libs;
  if (!libs->has_cudnn()) return nullptr;
  for (size_t i = 0; i < rank; ++i)
    if (sp.pads_begin[i] != sp.pads_end[i]) return nullptr;
  const int64_t lim = INT_MAX;
  if (g.kdim == 0 || g.n * g.c * g.isp > lim || g.n * g.cout * g.osp > lim || g.cout * g.kdim > lim ||
      g.n * g.c * g.isp == 0)
    return nullptr;
  // cuDNN wants at least two spatial dims: 1-D becomes [N, C, 1, W].
  const int ns = rank == 1 ? 2 : static_cast<int>(rank);
  const int nb = ns + 2;
  const int first = 3 - ns;  // index into the geometry's padded-to-3 dims
  int xd[5], yd[5], wd[5], xs[5], ys[5];
  int pads[3], strides[3], dils[3];
  xd[0] = yd[0] = static_cast<int>(g.n);
  xd[1] = static_cast<int>(g.c);
  yd[1] = wd[0] = static_cast<int>(g.cout);
  wd[1] = static_cast<int>(g.cg);
  for (int i = 0; i < ns; ++i) {
    xd[2 + i] = static_cast<int>(g.in[first + i]);
    yd[2 + i] = static_cast<int>(g.out[first + i]);
    wd[2 + i] = static_cast<int>(g.k[first + i]);
    pads[i] = static_cast<int>(g.pad[first + i]);
    strides[i] = static_cast<int>(g.stride[first + i]);
    dils[i] = static_cast<int>(g.dil[first + i]);
  }
  packed_strides(xd, nb, xs);
  packed_strides(yd, nb, ys);
  const cudnnDataType_t dt = half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;

  auto c = std::make_unique<CudnnConv>(libs);
  auto ok = [](cudnnStatus_t s) { return s == CUDNN_STATUS_SUCCESS; };
  if (!ok(libs->cudnnCreateTensorDescriptor_fn(&c->x)) || !ok(libs->cudnnCreateTensorDescriptor_fn(&c->y)) ||
      !ok(libs->cudnnCreateFilterDescriptor_fn(&c->w)) || !ok(libs->cudnnCreateConvolutionDescriptor_fn(&c->conv)))
    return nullptr;
  if (!ok(libs->cudnnSetTensorNdDescriptor_fn(c->x, dt, nb, xd, xs)) ||
      !ok(libs->cudnnSetTensorNdDescriptor_fn(c->y, dt, nb, yd, ys)) ||
      !ok(libs->cudnnSetFilterNdDescriptor_fn(c->w, dt, CUDNN_TENSOR_NCHW, nb, wd)) ||
      !ok(libs->cudnnSetConvolutionNdDescriptor_fn(c->conv, ns, pads, strides, dils, CUDNN_CROSS_CORRELATION,
                                                   CUDNN_DATA_FLOAT)) ||
      !ok(libs->cudnnSetConvolutionGroupCount_fn(c->conv, static_cast<int>(g.group))))
    return nullptr;
  // CUDNN_DEFAULT_MATH lets float32 run on TF32 tensor cores; FMA keeps it exact.
  const bool exact_float = !half && !spec.allow_tf32;
  const cudnnMathType_t math = half ? CUDNN_TENSOR_OP_MATH : exact_float ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
  if (!ok(libs->cudnnSetConvolutionMathType_fn(c->conv, math))) return nullptr;

  TempHandle th(libs);
  if (th.h == nullptr) return nullptr;
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int returned = 0;
  // Timed search first: the legacy heuristics pick the slow implicit-precomp GEMM for float32
  // without tensor cores (measured on an H200: ResNet-50 at batch 1 ran 1.7x PyTorch's time).
  // Results are cached per shape, as ResNet-like nets repeat their convolutions.
  // TF32 and half keep the heuristics: for TF32 the search picked slower algorithms on an H200
  // (ResNet-50 at batch 32: 6.7 ms against 5.5 ms); half was not measured.
  if (!(exact_float &&
        find_algorithms(libs, th.h, *c, g, half, xd, yd, wd, nb, pads, strides, dils, ns, math, perf, &returned)) &&
      !ok(libs->cudnnGetConvolutionForwardAlgorithm_v7_fn(th.h, c->x, c->w, c->conv, c->y,
                                                          CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf)))
    return nullptr;
  for (int i = 0; i < returned; ++i) {
    const cudnnConvolutionFwdAlgoPerf_t& p = perf[i];
    if (p.status != CUDNN_STATUS_SUCCESS) continue;
    // Float32 without TF32 must not take a tensor-op algorithm; ALLOW_CONVERSION could
    // round float32 data below TF32.
    if (!half && (p.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION ||
                  (exact_float && p.mathType == CUDNN_TENSOR_OP_MATH)))
      continue;
    if (!exact_float && p.mathType != math && !ok(libs->cudnnSetConvolutionMathType_fn(c->conv, p.mathType)))
      continue;
    size_t ws = 0;
    if (!ok(libs->cudnnGetConvolutionForwardWorkspaceSize_fn(th.h, c->x, c->w, c->conv, c->y, p.algo, &ws)) ||
        ws > kMaxCudnnWorkspace) {
      if (!exact_float) libs->cudnnSetConvolutionMathType_fn(c->conv, math);
      continue;
    }
    c->algo = p.algo;
    c->workspace = ws;
    return c;
  }
  return nullptr;
}
#endif

template <typename T>
class ConvKernel final : public Kernel {
 public:
  ConvKernel(ConvGeom g, bool empty, int bias_input, int residual_input, epi::Activation act, const Libraries* libs,
             const ir::Node& node)
      : g_(g), empty_(empty), bias_input_(bias_input), residual_input_(residual_input), act_(act), libs_(libs),
        name_(node.name) {}

#if defined(LW_HAVE_CUDNN_HEADERS)
  void set_cudnn(std::unique_ptr<CudnnConv> c) { cudnn_ = std::move(c); }
#endif

  std::string variant() const override {
#if defined(LW_HAVE_CUDNN_HEADERS)
    if (cudnn_) return str_cat("cudnn algo ", static_cast<int>(cudnn_->algo));
#endif
    return "own implicit GEMM";
  }

  size_t scratch_bytes() const override {
#if defined(LW_HAVE_CUDNN_HEADERS)
    if (cudnn_) return cudnn_->workspace;
#endif
    return 0;
  }

  Status run(const KernelRun& r) const override {
    Status st = run_impl(r);
    return st.is_ok() ? st : st.with_context("node '" + name_ + "' (Conv): ");
  }

 private:
  Status run_impl(const KernelRun& r) const {
    if (empty_) return Status::ok();
    const T* x = static_cast<const T*>(r.inputs[0]);
    const T* w = static_cast<const T*>(r.inputs[1]);
    T* y = static_cast<T*>(r.outputs[0]);
    const void* bias = bias_input_ >= 0 ? r.inputs[bias_input_] : nullptr;
    const void* residual = residual_input_ >= 0 ? r.inputs[residual_input_] : nullptr;
    cudaStream_t stream = r.handles.stream;
#if defined(LW_HAVE_CUDNN_HEADERS)
    if (cudnn_ && r.handles.cudnn != nullptr) {
      const float one = 1.0f, zero = 0.0f;
      cudnnStatus_t st = libs_->cudnnConvolutionForward_fn(static_cast<cudnnHandle_t>(r.handles.cudnn), &one,
                                                           cudnn_->x, x, cudnn_->w, w, cudnn_->conv, cudnn_->algo,
                                                           r.scratch, cudnn_->workspace, &zero, cudnn_->y, y);
      if (st != CUDNN_STATUS_SUCCESS) {
        // Correct either way (the own kernel runs), but a silent slowdown: say so once.
        static std::once_flag said;
        std::call_once(said, [&] {
          log(LogLevel::kWarning, "node '", name_, "' (Conv): cudnnConvolutionForward failed (",
              libs_->cudnnGetErrorString_fn(st), "); running the own kernel instead");
        });
      }
      if (st == CUDNN_STATUS_SUCCESS) {
        epi::EpilogueParams ep;
        ep.n = g_.n * g_.cout * g_.osp;
        ep.bias = bias;
        ep.inner = g_.osp;
        ep.channels = g_.cout;
        ep.stride_c = 1;
        ep.stride_r = 0;
        ep.residual = residual;
        ep.act = act_;
        return epi::launch_epilogue<T>(y, ep, stream);
      }
    }
#endif
    OwnArgs args;
    args.g = g_;
    args.bias = bias;
    args.residual = residual;
    args.act = act_;
    const int64_t tiles_m = (g_.mg + kTileM - 1) / kTileM, tiles_n = (g_.cols + kTileN - 1) / kTileN;
    dim3 grid(static_cast<unsigned>(std::min<int64_t>(tiles_n, INT_MAX)),
              static_cast<unsigned>(std::min<int64_t>(tiles_m, 65535)),
              static_cast<unsigned>(std::min<int64_t>(g_.group, 65535)));
    implicit_gemm_conv_kernel<T><<<grid, kConvThreads, 0, stream>>>(x, w, y, args);
    LW_CUDA_CHECK_LAUNCH("implicit_gemm_conv_kernel");
    return Status::ok();
  }

  ConvGeom g_;
  bool empty_;
  int bias_input_, residual_input_;
  epi::Activation act_;
  const Libraries* libs_;
  std::string name_;
#if defined(LW_HAVE_CUDNN_HEADERS)
  std::unique_ptr<CudnnConv> cudnn_;
#endif
};

template <typename T>
Result<std::unique_ptr<Kernel>> build(const KernelSpec& spec, const ConvGeom& g, bool empty, int bias_input,
                                      int residual_input, const epi::Activation& act, size_t rank,
                                      const ir::SpatialParams& sp) {
  auto k = std::make_unique<ConvKernel<T>>(g, empty, bias_input, residual_input, act, spec.libs, spec.node);
#if defined(LW_HAVE_CUDNN_HEADERS)
  if (!empty) k->set_cudnn(make_cudnn_conv(spec, g, rank, sp, sizeof(T) == 2));
#endif
  return std::unique_ptr<Kernel>(std::move(k));
}

Result<std::unique_ptr<Kernel>> make_conv(const KernelSpec& spec) {
  const ir::Node& node = spec.node;
  if (spec.inputs.size() < 2 || spec.outputs.size() != 1)
    return kernel_error(node, StatusCode::kOpNotFound, "needs X and W and one output");
  const bool has_residual = node.attr_int(passes::kAttrResidual, 0) != 0;
  const int residual_input = has_residual ? 3 : -1;
  const Dims& x = spec.inputs[0].shape.dims();
  const Dims& w = spec.inputs[1].shape.dims();
  const Dims& y = spec.outputs[0].shape.dims();
  const bool has_bias = spec.inputs.size() > 2 && spec.inputs[2].dtype != DType::kUndefined;
  const DType dt = spec.inputs[0].dtype;
  if (dt != DType::kFloat32 && dt != DType::kFloat16)
    return kernel_error(node, StatusCode::kUnsupportedDtype, "only float32 and float16 are supported");
  if (spec.inputs[1].dtype != dt || spec.outputs[0].dtype != dt || (has_bias && spec.inputs[2].dtype != dt))
    return kernel_error(node, StatusCode::kUnsupportedDtype, "inputs and output must share one dtype");
  if (has_residual && (spec.inputs.size() != 4 || spec.inputs[3].dtype != dt || spec.inputs[3].shape.dims() != y))
    return kernel_error(node, StatusCode::kOpNotFound, "fused residual input must be input 3 with dims ", y);
  if (!has_residual && spec.inputs.size() > 3)
    return kernel_error(node, StatusCode::kOpNotFound, "unexpected input 3 without a fused residual");
  if (x.size() < 3 || x.size() > 5 || w.size() != x.size())
    return kernel_error(node, StatusCode::kOpNotFound, "only 1-D to 3-D convolutions are supported, got X ", x,
                        " and W ", w);
  const size_t rank = x.size() - 2;
  const int64_t group = node.attr_int("group", 1);
  if (group <= 0 || x[1] != w[1] * group || w[0] % group != 0)
    return kernel_error(node, StatusCode::kOpNotFound, "X ", x, ", W ", w, " and group ", group, " disagree");
  Dims wk(w.begin() + 2, w.end());
  Result<ir::SpatialParams> params = ir::read_spatial_params(node, rank, &wk, false, true);
  if (!params.is_ok()) return kernel_error(node, StatusCode::kOpNotFound, params.status().message());
  ir::SpatialParams p = std::move(params.value());
  Result<Dims> out_sp = ir::spatial_output_dims(node, p, Dims(x.begin() + 2, x.end()));
  if (!out_sp.is_ok()) return kernel_error(node, StatusCode::kOpNotFound, out_sp.status().message());
  Dims expect = {x[0], w[0]};
  expect.insert(expect.end(), out_sp->begin(), out_sp->end());
  if (expect != y) return kernel_error(node, StatusCode::kOpNotFound, "output shape ", y, " expected ", expect);
  if (has_bias && spec.inputs[2].shape.dims() != Dims{w[0]})
    return kernel_error(node, StatusCode::kOpNotFound, "B ", spec.inputs[2].shape.dims(), " must be [", w[0], "]");
  epi::Activation act;
  LW_RETURN_IF_ERROR(epi::read_activation(spec, &act));

  ConvGeom g;
  g.n = x[0];
  g.c = x[1];
  g.cout = w[0];
  g.group = group;
  g.cg = w[1];
  g.mg = w[0] / group;
  const size_t first = 3 - rank;
  for (size_t i = 0; i < rank; ++i) {
    g.in[first + i] = x[2 + i];
    g.out[first + i] = y[2 + i];
    g.k[first + i] = w[2 + i];
    g.stride[first + i] = p.strides[i];
    g.dil[first + i] = p.dilations[i];
    g.pad[first + i] = p.pads_begin[i];
  }
  g.isp = g.in[0] * g.in[1] * g.in[2];
  g.osp = g.out[0] * g.out[1] * g.out[2];
  g.ksp = g.k[0] * g.k[1] * g.k[2];
  g.kdim = g.cg * g.ksp;
  g.cols = g.n * g.osp;
  // The own kernel keeps tap displacements in int.
  for (int i = 0; i < 3; ++i)
    if ((g.k[i] - 1) * g.dil[i] > INT_MAX)
      return kernel_error(node, StatusCode::kOpNotFound, "dilated kernel too large");
  const bool empty = numel_of(y) == 0;
  const int bias_input = has_bias ? 2 : -1;
  if (dt == DType::kFloat16) return build<__half>(spec, g, empty, bias_input, residual_input, act, rank, p);
  return build<float>(spec, g, empty, bias_input, residual_input, act, rank, p);
}

}  // namespace

void register_conv_kernels(std::vector<KernelEntry>& registry) { registry.push_back({"Conv", make_conv}); }

}  // namespace lw::cuda
