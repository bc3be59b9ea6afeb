// Elementwise CUDA kernels with the semantics of the CPU ones (cpu/kernels/elementwise.cc and
// Cast from cpu/kernels/data_movement.cc): unary math and activations, broadcasting binary ops,
// variadic Max/Min/Sum/Mean, Where, Clip and Cast. float16 is computed in float.
//
// Broadcasting: a factory builds one plan per node. When every operand is either the full
// output shape or a single element, the kernel indexes operand i as idx * step_i (step 0 or 1);
// otherwise the shapes are collapsed (size-1 dims dropped, jointly contiguous dims merged) and
// each output index is split into per-dim coordinates with 32-bit divisions when the tensor
// allows, 64-bit ones past 2^31 elements.
//
// Integer Div and Mod are refused (the CPU kernels run them): the CPU reports integer division
// by zero as a run-time error, which a kernel that only enqueues work cannot do.
#include <cmath>
#include <limits>
#include <type_traits>

#include "backends/cuda/kernels/elementwise_util.cuh"
#include "backends/cuda/kernels/kernels.h"

namespace lw::cuda {

namespace {

using namespace ew;

// bool tensors are stored one byte per element; `bool` names their semantics in templates.
template <typename T>
using Storage = std::conditional_t<std::is_same_v<T, bool>, uint8_t, T>;

template <typename T>
inline constexpr bool kIsLowFloat = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

// Integer arithmetic wraps (two's complement) as on the CPU.
template <typename T>
using WrapT = std::conditional_t<(sizeof(T) <= 4), uint32_t, uint64_t>;

// ---------------------------------------------------------------------------------------------
// Binary functors on compute types (float for float16).

struct AddF {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(static_cast<WrapT<T>>(a) + static_cast<WrapT<T>>(b));
    else return a + b;
  }
};
struct SubF {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(static_cast<WrapT<T>>(a) - static_cast<WrapT<T>>(b));
    else return a - b;
  }
};
struct MulF {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(static_cast<WrapT<T>>(a) * static_cast<WrapT<T>>(b));
    else return a * b;
  }
};
struct DivF {  // floats only (integer Div is refused)
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a / b; }
};
// C fmod, which the CPU uses for floats whatever `fmod` says (inference requires fmod=1).
struct FmodF {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, float>) return fmodf(a, b);
    else return fmod(a, b);
  }
};
// Pow is computed in double (the CPU's mixed-type rule; for float^float it is at least as
// accurate as powf). Integer results saturate; NaN becomes the lowest value, as on the CPU.
template <typename A>
struct PowF {
  template <typename B>
  __device__ __forceinline__ A operator()(A a, B b) const {
    double v = pow(static_cast<double>(a), static_cast<double>(b));
    if constexpr (std::is_integral_v<A>) {
      constexpr double lo = static_cast<double>(std::numeric_limits<A>::lowest());
      constexpr double hi = static_cast<double>(std::numeric_limits<A>::max());
      if (!(v >= lo)) return std::numeric_limits<A>::lowest();
      if (v >= hi) return std::numeric_limits<A>::max();
      return static_cast<A>(v);
    } else {
      return static_cast<A>(v);
    }
  }
};
struct EqualF {
  template <typename T>
  __device__ __forceinline__ bool operator()(T a, T b) const { return a == b; }
};
struct LessF {
  template <typename T>
  __device__ __forceinline__ bool operator()(T a, T b) const { return a < b; }
};
struct GreaterF {
  template <typename T>
  __device__ __forceinline__ bool operator()(T a, T b) const { return a > b; }
};
struct LessEqualF {
  template <typename T>
  __device__ __forceinline__ bool operator()(T a, T b) const { return a <= b; }
};
struct GreaterEqualF {
  template <typename T>
  __device__ __forceinline__ bool operator()(T a, T b) const { return a >= b; }
};
struct AndF {
  __device__ __forceinline__ bool operator()(uint8_t a, uint8_t b) const { return a && b; }
};
struct OrF {
  __device__ __forceinline__ bool operator()(uint8_t a, uint8_t b) const { return a || b; }
};
struct XorF {
  __device__ __forceinline__ bool operator()(uint8_t a, uint8_t b) const { return (a != 0) != (b != 0); }
};
// NaN propagates through Max/Min (numpy maximum/minimum).
struct MaxF {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>)
      if (isnan(a) || isnan(b)) return isnan(a) ? a : b;
    return a < b ? b : a;
  }
};
struct MinF {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>)
      if (isnan(a) || isnan(b)) return isnan(a) ? a : b;
    return b < a ? b : a;
  }
};
struct PReluF {
  template <typename T>
  __device__ __forceinline__ T operator()(T x, T slope) const { return x < T(0) ? slope * x : x; }
};

// Storage in, storage out: loads to the compute type, applies Op, rounds to the output type.
template <typename Op, typename TA, typename TB, typename O>
struct Lift2 {
  Op op;
  __device__ __forceinline__ O operator()(TA a, TB b) const {
    return Num<O>::store(static_cast<typename Num<O>::C>(op(Num<TA>::load(a), Num<TB>::load(b))));
  }
};

// Variadic step: Max/Min/Sum of the accumulator (the output) and one more input; Mean divides
// the final sum by the input count, in the element type as the CPU does.
template <typename Op, typename T>
struct VarStep {
  using C = typename Num<T>::C;
  Op op;
  bool divide;
  C count;
  __device__ __forceinline__ T operator()(T a, T b) const {
    C r = op(Num<T>::load(a), Num<T>::load(b));
    if (divide) r = static_cast<C>(r / count);
    return Num<T>::store(r);
  }
};

// ---------------------------------------------------------------------------------------------
// Unary functors.

struct ReluF {
  template <typename T>
  __device__ __forceinline__ T operator()(T x) const { return x > T(0) ? x : T(0); }
};
struct NegF {
  template <typename T>
  __device__ __forceinline__ T operator()(T x) const {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(WrapT<T>(0) - static_cast<WrapT<T>>(x));
    else return -x;
  }
};
struct AbsF {
  template <typename T>
  __device__ __forceinline__ T operator()(T x) const { return x < T(0) ? NegF{}(x) : x; }
};
struct SigmoidF { __device__ __forceinline__ float operator()(float x) const { return 1.0f / (1.0f + expf(-x)); } };
struct TanhF { __device__ __forceinline__ float operator()(float x) const { return tanhf(x); } };
struct ExpF { __device__ __forceinline__ float operator()(float x) const { return expf(x); } };
struct LogF { __device__ __forceinline__ float operator()(float x) const { return logf(x); } };
struct SqrtF { __device__ __forceinline__ float operator()(float x) const { return sqrtf(x); } };
struct ErfF { __device__ __forceinline__ float operator()(float x) const { return erff(x); } };
struct ReciprocalF { __device__ __forceinline__ float operator()(float x) const { return 1.0f / x; } };
struct FloorF { __device__ __forceinline__ float operator()(float x) const { return floorf(x); } };
struct CeilF { __device__ __forceinline__ float operator()(float x) const { return ceilf(x); } };
// rintf rounds half to even, as ONNX Round specifies.
struct RoundF { __device__ __forceinline__ float operator()(float x) const { return rintf(x); } };
struct SoftplusF {
  __device__ __forceinline__ float operator()(float x) const { return x > 20.0f ? x : log1pf(expf(x)); }
};
struct SoftsignF { __device__ __forceinline__ float operator()(float x) const { return x / (1.0f + fabsf(x)); } };
struct SinF { __device__ __forceinline__ float operator()(float x) const { return sinf(x); } };
struct CosF { __device__ __forceinline__ float operator()(float x) const { return cosf(x); } };
struct TanF { __device__ __forceinline__ float operator()(float x) const { return tanf(x); } };
struct AsinF { __device__ __forceinline__ float operator()(float x) const { return asinf(x); } };
struct AcosF { __device__ __forceinline__ float operator()(float x) const { return acosf(x); } };
struct AtanF { __device__ __forceinline__ float operator()(float x) const { return atanf(x); } };
struct SinhF { __device__ __forceinline__ float operator()(float x) const { return sinhf(x); } };
struct CoshF { __device__ __forceinline__ float operator()(float x) const { return coshf(x); } };
struct AsinhF { __device__ __forceinline__ float operator()(float x) const { return asinhf(x); } };
struct AcoshF { __device__ __forceinline__ float operator()(float x) const { return acoshf(x); } };
struct AtanhF { __device__ __forceinline__ float operator()(float x) const { return atanhf(x); } };
// Sign keeps NaN and the sign of zero.
struct SignF {
  __device__ __forceinline__ float operator()(float x) const { return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x; }
};
struct HardSwishF {
  __device__ __forceinline__ float operator()(float x) const {
    return x * std_min(1.0f, std_max(0.0f, x / 6.0f + 0.5f));
  }
};
struct HardSigmoidF {
  float alpha, beta;
  __device__ __forceinline__ float operator()(float x) const { return std_min(1.0f, std_max(0.0f, alpha * x + beta)); }
};
struct EluF {
  float alpha;
  __device__ __forceinline__ float operator()(float x) const { return x < 0.0f ? alpha * (expf(x) - 1.0f) : x; }
};
struct SeluF {
  float alpha, gamma;
  __device__ __forceinline__ float operator()(float x) const {
    return x <= 0.0f ? gamma * (alpha * expf(x) - alpha) : gamma * x;
  }
};
struct CeluF {
  float alpha;
  __device__ __forceinline__ float operator()(float x) const {
    return std_max(0.0f, x) + std_min(0.0f, alpha * (expf(x / alpha) - 1.0f));
  }
};
struct ThresholdedReluF {
  float alpha;
  __device__ __forceinline__ float operator()(float x) const { return x > alpha ? x : 0.0f; }
};
struct ShrinkF {
  float bias, lambd;
  __device__ __forceinline__ float operator()(float x) const {
    return x < -lambd ? x + bias : x > lambd ? x - bias : 0.0f;
  }
};
struct LeakyReluF {
  float alpha;
  __device__ __forceinline__ float operator()(float x) const { return x < 0.0f ? alpha * x : x; }
};
struct NotF {
  __device__ __forceinline__ uint8_t operator()(uint8_t x) const { return x ? 0 : 1; }
};
struct IsNaNF {
  __device__ __forceinline__ bool operator()(float x) const { return isnan(x); }
};
struct IsInfF {
  bool pos, neg;
  __device__ __forceinline__ bool operator()(float x) const {
    return (pos && x == INFINITY) || (neg && x == -INFINITY);
  }
};

template <typename Op, typename T, typename O>
struct Lift1 {
  Op op;
  __device__ __forceinline__ O operator()(T x) const {
    return Num<O>::store(static_cast<typename Num<O>::C>(op(Num<T>::load(x))));
  }
};

// ---- Cast (cpu/kernels/data_movement.cc convert()) ----

template <typename From, typename To>
__device__ __forceinline__ Storage<To> convert(Storage<From> v) {
  if constexpr (std::is_same_v<From, bool>) {
    return convert<uint8_t, To>(static_cast<uint8_t>(v != 0 ? 1 : 0));
  } else if constexpr (kIsLowFloat<From>) {
    return convert<float, To>(Num<From>::load(v));
  } else if constexpr (kIsLowFloat<To>) {
    return Num<To>::store(convert<From, float>(v));
  } else if constexpr (std::is_same_v<To, bool>) {
    return static_cast<uint8_t>(v != From(0) ? 1 : 0);
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    // Saturating, NaN -> 0, as the CPU (C++ leaves out-of-range conversion undefined).
    if (isnan(v)) return To(0);
    if (v <= static_cast<From>(std::numeric_limits<To>::lowest())) return std::numeric_limits<To>::lowest();
    if (v >= static_cast<From>(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
    return static_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

template <typename From, typename To>
struct CastF {
  __device__ __forceinline__ Storage<To> operator()(Storage<From> v) const { return convert<From, To>(v); }
};

// ---------------------------------------------------------------------------------------------
// Kernels.

template <typename TI, typename TO, typename F>
__global__ void unary_kernel(const TI* x, TO* y, int64_t n, F f) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) y[i] = f(x[i]);
}

// Operand i is read at idx * step_i (steps are 0 or 1). `a` may alias `o` (variadic
// accumulation reads and writes the same element in the same thread).
template <typename A, typename B, typename O, typename F>
__global__ void binary_flat_kernel(const A* a, const B* b, O* o, int64_t n, int64_t sa, int64_t sb, F f) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    o[i] = f(a[i * sa], b[i * sb]);
}

template <typename I, typename A, typename B, typename O, typename F>
__global__ void binary_bcast_kernel(const A* a, const B* b, O* o, I n, const __grid_constant__ Bcast<2> p, F f) {
  const I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    I off[2];
    bcast_offsets(p, i, off);
    o[i] = f(a[off[0]], b[off[1]]);
  }
}

template <typename T>
__global__ void where_flat_kernel(const uint8_t* c, const T* x, const T* y, T* o, int64_t n, int64_t sc, int64_t sx,
                                  int64_t sy) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    o[i] = c[i * sc] ? x[i * sx] : y[i * sy];
}

template <typename I, typename T>
__global__ void where_bcast_kernel(const uint8_t* c, const T* x, const T* y, T* o, I n,
                                   const __grid_constant__ Bcast<3> p) {
  const I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    I off[3];
    bcast_offsets(p, i, off);
    o[i] = c[off[0]] ? x[off[1]] : y[off[2]];
  }
}

// Clip's bounds: the constant value, or (lo_p / hi_p non-null) read from device memory here.
template <typename T>
__global__ void clip_kernel(const T* x, T* y, int64_t n, typename Num<T>::C lo, typename Num<T>::C hi,
                            const T* lo_p, const T* hi_p) {
  if (lo_p) lo = Num<T>::load(*lo_p);
  if (hi_p) hi = Num<T>::load(*hi_p);
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    y[i] = Num<T>::store(std_min(std_max(Num<T>::load(x[i]), lo), hi));
}

// ---------------------------------------------------------------------------------------------
// Broadcast plans.

template <int N>
struct EwPlan {
  int64_t n = 0;
  bool flat = true;
  int64_t step[N] = {};
  bool narrow = true;  // n < 2^31: 32-bit index math
  Bcast<N> bc;
};

template <int N>
Result<EwPlan<N>> make_plan(const ir::Node& node, const std::vector<Dims>& ins, const Dims& out) {
  EwPlan<N> p;
  p.n = numel_of(out);
  for (size_t i = 0; i < ins.size(); ++i) {
    if (!broadcasts_to(ins[i], out))
      return kernel_error(node, StatusCode::kInvalidArgument, "input ", i, " ", ins[i], " does not broadcast to the output ",
                          out);
    const int64_t m = numel_of(ins[i]);
    if (m == p.n) p.step[i] = 1;
    else if (m == 1) p.step[i] = 0;
    else p.flat = false;
  }
  p.narrow = p.n <= static_cast<int64_t>(std::numeric_limits<int32_t>::max());
  if (!p.flat) {
    std::vector<Dims> strides;
    for (const Dims& d : ins) strides.push_back(broadcast_strides(d, out));
    if (!to_bcast<N>(make_bcast_plan(out, strides), &p.bc))
      return kernel_error(node, StatusCode::kUnsupportedDtype, "broadcast of rank above ", kMaxRank,
                          " after collapsing dims is not supported on CUDA");
  }
  return p;
}

template <typename A, typename B, typename O, typename F>
Status launch_binary(const EwPlan<2>& p, const A* a, const B* b, O* o, const F& f, cudaStream_t s) {
  if (p.n == 0) return Status::ok();
  const unsigned g = grid_for(p.n, kThreads);
  if (p.flat) binary_flat_kernel<A, B, O, F><<<g, kThreads, 0, s>>>(a, b, o, p.n, p.step[0], p.step[1], f);
  else if (p.narrow) binary_bcast_kernel<uint32_t, A, B, O, F><<<g, kThreads, 0, s>>>(a, b, o, static_cast<uint32_t>(p.n), p.bc, f);
  else binary_bcast_kernel<int64_t, A, B, O, F><<<g, kThreads, 0, s>>>(a, b, o, p.n, p.bc, f);
  LW_CUDA_CHECK_LAUNCH("elementwise binary kernel");
  return Status::ok();
}

template <typename TI, typename TO, typename F>
Status launch_unary(int64_t n, const TI* x, TO* y, const F& f, cudaStream_t s) {
  if (n == 0) return Status::ok();
  unary_kernel<TI, TO, F><<<grid_for(n, kThreads), kThreads, 0, s>>>(x, y, n, f);
  LW_CUDA_CHECK_LAUNCH("elementwise unary kernel");
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------
// Kernel objects.

template <typename TI, typename TO, typename F>
class UnaryKernel final : public Kernel {
 public:
  UnaryKernel(int64_t n, F f) : n_(n), f_(f) {}
  Status run(const KernelRun& r) const override {
    return launch_unary(n_, static_cast<const TI*>(r.inputs[0]), static_cast<TO*>(r.outputs[0]), f_, r.handles.stream);
  }

 private:
  int64_t n_;
  F f_;
};

template <typename A, typename B, typename O, typename F>
class BinaryKernel final : public Kernel {
 public:
  BinaryKernel(EwPlan<2> plan, F f) : plan_(plan), f_(f) {}
  Status run(const KernelRun& r) const override {
    return launch_binary(plan_, static_cast<const A*>(r.inputs[0]), static_cast<const B*>(r.inputs[1]),
                         static_cast<O*>(r.outputs[0]), f_, r.handles.stream);
  }

 private:
  EwPlan<2> plan_;
  F f_;
};

// ---------------------------------------------------------------------------------------------
// Factories.

Status check_arity(const KernelSpec& spec, size_t inputs) {
  if (spec.inputs.size() < inputs || spec.outputs.empty())
    return kernel_error(spec.node, StatusCode::kInvalidArgument, "expects ", inputs, " inputs and an output");
  for (size_t i = 0; i < inputs; ++i)
    if (spec.inputs[i].dtype == DType::kUndefined)
      return kernel_error(spec.node, StatusCode::kInvalidArgument, "input ", i, " is missing");
  return Status::ok();
}

Status check_output(const KernelSpec& spec, DType want) {
  if (spec.outputs[0].dtype != want)
    return kernel_error(spec.node, StatusCode::kUnsupportedDtype, "output type ", dtype_name(spec.outputs[0].dtype),
                        " is not the expected ", dtype_name(want));
  return Status::ok();
}

// A binary kernel reading storage A and B, writing O, with F = Lift2<Op, A, B, O>.
template <typename A, typename B, typename O, typename Op>
Result<std::unique_ptr<Kernel>> binary_of(const KernelSpec& spec, DType out_dtype, Op op = Op{}) {
  LW_RETURN_IF_ERROR(check_output(spec, out_dtype));
  LW_ASSIGN_OR_RETURN(EwPlan<2> plan, make_plan<2>(spec.node, {spec.inputs[0].shape.dims(), spec.inputs[1].shape.dims()},
                                                   spec.outputs[0].shape.dims()));
  using F = Lift2<Op, A, B, O>;
  return make_kernel<BinaryKernel<A, B, O, F>>(plan, F{op});
}

template <typename T, typename Op>
Result<std::unique_ptr<Kernel>> same_type(const KernelSpec& spec) {
  return binary_of<T, T, T, Op>(spec, spec.inputs[0].dtype);
}

template <typename T, typename Op>
Result<std::unique_ptr<Kernel>> to_bool(const KernelSpec& spec) {
  return binary_of<T, T, uint8_t, Op>(spec, DType::kBool);
}

Status same_input_types(const KernelSpec& spec) {
  if (spec.inputs[1].dtype != spec.inputs[0].dtype)
    return kernel_error(spec.node, StatusCode::kUnsupportedDtype, "inputs differ in type");
  return Status::ok();
}

template <typename Op>
Result<std::unique_ptr<Kernel>> make_arith(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(check_arity(spec, 2));
  LW_RETURN_IF_ERROR(same_input_types(spec));
  constexpr bool kFloatOnly = std::is_same_v<Op, DivF>;
  const DType t = spec.inputs[0].dtype;
  switch (t) {
    case DType::kFloat32: return same_type<float, Op>(spec);
    case DType::kFloat16: return same_type<__half, Op>(spec);
    case DType::kFloat64: return same_type<double, Op>(spec);
    default: break;
  }
  if constexpr (!kFloatOnly) {
    switch (t) {
      case DType::kInt64: return same_type<int64_t, Op>(spec);
      case DType::kInt32: return same_type<int32_t, Op>(spec);
      case DType::kInt16: return same_type<int16_t, Op>(spec);
      case DType::kInt8: return same_type<int8_t, Op>(spec);
      case DType::kUint8: return same_type<uint8_t, Op>(spec);
      case DType::kUint16: return same_type<uint16_t, Op>(spec);
      case DType::kUint32: return same_type<uint32_t, Op>(spec);
      case DType::kUint64: return same_type<uint64_t, Op>(spec);
      default: break;
    }
  }
  return refuse(spec.node, "input 0", t);
}

template <typename A>
Result<std::unique_ptr<Kernel>> pow_with_base(const KernelSpec& spec) {
  using Op = PowF<typename Num<A>::C>;
  const DType out = spec.inputs[0].dtype;
  switch (spec.inputs[1].dtype) {
    case DType::kFloat32: return binary_of<A, float, A, Op>(spec, out);
    case DType::kFloat64: return binary_of<A, double, A, Op>(spec, out);
    case DType::kInt64: return binary_of<A, int64_t, A, Op>(spec, out);
    case DType::kInt32: return binary_of<A, int32_t, A, Op>(spec, out);
    case DType::kUint64: return binary_of<A, uint64_t, A, Op>(spec, out);
    case DType::kUint32: return binary_of<A, uint32_t, A, Op>(spec, out);
    default: return refuse(spec.node, "Pow's exponent", spec.inputs[1].dtype);
  }
}

Result<std::unique_ptr<Kernel>> make_pow(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(check_arity(spec, 2));
  if (spec.inputs[0].dtype == DType::kFloat16 && spec.inputs[1].dtype == DType::kFloat16)
    return binary_of<__half, __half, __half, PowF<float>>(spec, DType::kFloat16);
  switch (spec.inputs[0].dtype) {
    case DType::kFloat32: return pow_with_base<float>(spec);
    case DType::kFloat64: return pow_with_base<double>(spec);
    case DType::kInt64: return pow_with_base<int64_t>(spec);
    case DType::kInt32: return pow_with_base<int32_t>(spec);
    default: return refuse(spec.node, "Pow's base", spec.inputs[0].dtype);
  }
}

Result<std::unique_ptr<Kernel>> make_equal(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(check_arity(spec, 2));
  LW_RETURN_IF_ERROR(same_input_types(spec));
  switch (spec.inputs[0].dtype) {
    case DType::kFloat32: return to_bool<float, EqualF>(spec);
    case DType::kFloat16: return to_bool<__half, EqualF>(spec);
    case DType::kFloat64: return to_bool<double, EqualF>(spec);
    case DType::kInt64: return to_bool<int64_t, EqualF>(spec);
    case DType::kInt32: return to_bool<int32_t, EqualF>(spec);
    case DType::kBool: return to_bool<uint8_t, EqualF>(spec);
    default: return refuse(spec.node, "input 0", spec.inputs[0].dtype);
  }
}

template <typename Op>
Result<std::unique_ptr<Kernel>> make_compare(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(check_arity(spec, 2));
  LW_RETURN_IF_ERROR(same_input_types(spec));
  switch (spec.inputs[0].dtype) {
    case DType::kFloat32: return to_bool<float, Op>(spec);
    case DType::kFloat16: return to_bool<__half, Op>(spec);
    case DType::kFloat64: return to_bool<double, Op>(spec);
    case DType::kInt64: return to_bool<int64_t, Op>(spec);
    case DType::kInt32: return to_bool<int32_t, Op>(spec);
    default: return refuse(spec.node, "input 0", spec.inputs[0].dtype);
  }
}

template <typename Op>
Result<std::unique_ptr<Kernel>> make_logic(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(check_arity(spec, 2));
  for (size_t i = 0; i < 2; ++i)
    if (spec.inputs[i].dtype != DType::kBool) return refuse(spec.node, i == 0 ? "input 0" : "input 1", spec.inputs[i].dtype);
  return to_bool<uint8_t, Op>(spec);
}

Result<std::unique_ptr<Kernel>> make_prelu(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(check_arity(spec, 2));
  LW_RETURN_IF_ERROR(same_input_types(spec));
  switch (spec.inputs[0].dtype) {
    case DType::kFloat32: return same_type<float, PReluF>(spec);
    case DType::kFloat16: return same_type<__half, PReluF>(spec);
    default: return refuse(spec.node, "input 0", spec.inputs[0].dtype);
  }
}

Result<std::unique_ptr<Kernel>> make_mod(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(check_arity(spec, 2));
  LW_RETURN_IF_ERROR(same_input_types(spec));
  // Floats use C fmod whatever the attribute says, as on the CPU.
  switch (spec.inputs[0].dtype) {
    case DType::kFloat32: return same_type<float, FmodF>(spec);
    case DType::kFloat16: return same_type<__half, FmodF>(spec);
    case DType::kFloat64: return same_type<double, FmodF>(spec);
    default: return refuse(spec.node, "Mod (integer Mod runs on the CPU)", spec.inputs[0].dtype);
  }
}

// ---- variadic Max / Min / Sum / Mean ----

// Input 0 and 1 combine into the output, then each further input folds into the output in
// input order (as the CPU's chain of passes). A single input is copied.
template <typename T, typename Op>
class VariadicKernel final : public Kernel {
 public:
  VariadicKernel(std::vector<EwPlan<2>> plans, int64_t n, bool mean, int64_t inputs)
      : plans_(std::move(plans)), n_(n), mean_(mean), inputs_(inputs) {}
  Status run(const KernelRun& r) const override {
    T* o = static_cast<T*>(r.outputs[0]);
    cudaStream_t s = r.handles.stream;
    if (plans_.empty()) {
      if (n_ > 0)
        LW_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(o, r.inputs[0], static_cast<size_t>(n_) * sizeof(T),
                                                cudaMemcpyDeviceToDevice, s));
      return Status::ok();
    }
    using C = typename Num<T>::C;
    for (size_t k = 0; k < plans_.size(); ++k) {
      const bool last = k + 1 == plans_.size();
      VarStep<Op, T> f{Op{}, mean_ && last, static_cast<C>(inputs_)};
      const T* a = k == 0 ? static_cast<const T*>(r.inputs[0]) : o;
      LW_RETURN_IF_ERROR(launch_binary(plans_[k], a, static_cast<const T*>(r.inputs[k + 1]), o, f, s));
    }
    return Status::ok();
  }

 private:
  std::vector<EwPlan<2>> plans_;
  int64_t n_;
  bool mean_;
  int64_t inputs_;
};

template <typename T, typename Op>
Result<std::unique_ptr<Kernel>> variadic_of(const KernelSpec& spec, bool mean) {
  const Dims& out = spec.outputs[0].shape.dims();
  std::vector<EwPlan<2>> plans;
  for (size_t i = 1; i < spec.inputs.size(); ++i) {
    const Dims& first = i == 1 ? spec.inputs[0].shape.dims() : out;
    LW_ASSIGN_OR_RETURN(EwPlan<2> p, make_plan<2>(spec.node, {first, spec.inputs[i].shape.dims()}, out));
    plans.push_back(p);
  }
  if (spec.inputs.size() == 1 && numel_of(spec.inputs[0].shape.dims()) != numel_of(out))
    return kernel_error(spec.node, StatusCode::kInvalidArgument, "the single input does not match the output");
  return make_kernel<VariadicKernel<T, Op>>(std::move(plans), numel_of(out), mean,
                                            static_cast<int64_t>(spec.inputs.size()));
}

template <typename T>
Result<std::unique_ptr<Kernel>> variadic_typed(const KernelSpec& spec) {
  const std::string& op = spec.node.op;
  if (op == "Max") return variadic_of<T, MaxF>(spec, false);
  if (op == "Min") return variadic_of<T, MinF>(spec, false);
  return variadic_of<T, AddF>(spec, op == "Mean");
}

Result<std::unique_ptr<Kernel>> make_variadic(const KernelSpec& spec) {
  if (spec.inputs.empty() || spec.inputs.size() > 64 || spec.outputs.empty())
    return kernel_error(spec.node, StatusCode::kInvalidArgument, "expects 1 to 64 inputs");
  const DType t = spec.inputs[0].dtype;
  for (size_t i = 0; i < spec.inputs.size(); ++i)
    if (spec.inputs[i].dtype != t) return kernel_error(spec.node, StatusCode::kUnsupportedDtype, "inputs differ in type");
  LW_RETURN_IF_ERROR(check_output(spec, t));
  switch (t) {
    case DType::kFloat32: return variadic_typed<float>(spec);
    case DType::kFloat16: return variadic_typed<__half>(spec);
    case DType::kFloat64: return variadic_typed<double>(spec);
    case DType::kInt64: return variadic_typed<int64_t>(spec);
    case DType::kInt32: return variadic_typed<int32_t>(spec);
    case DType::kInt16: return variadic_typed<int16_t>(spec);
    case DType::kInt8: return variadic_typed<int8_t>(spec);
    case DType::kUint8: return variadic_typed<uint8_t>(spec);
    case DType::kUint16: return variadic_typed<uint16_t>(spec);
    case DType::kUint32: return variadic_typed<uint32_t>(spec);
    case DType::kUint64: return variadic_typed<uint64_t>(spec);
    default: return refuse(spec.node, "input 0", t);
  }
}

// ---- Where ----

template <typename T>
class WhereKernel final : public Kernel {
 public:
  explicit WhereKernel(EwPlan<3> plan) : plan_(plan) {}
  Status run(const KernelRun& r) const override {
    const EwPlan<3>& p = plan_;
    if (p.n == 0) return Status::ok();
    const uint8_t* c = static_cast<const uint8_t*>(r.inputs[0]);
    const T* x = static_cast<const T*>(r.inputs[1]);
    const T* y = static_cast<const T*>(r.inputs[2]);
    T* o = static_cast<T*>(r.outputs[0]);
    cudaStream_t s = r.handles.stream;
    const unsigned g = grid_for(p.n, kThreads);
    if (p.flat) where_flat_kernel<T><<<g, kThreads, 0, s>>>(c, x, y, o, p.n, p.step[0], p.step[1], p.step[2]);
    else if (p.narrow) where_bcast_kernel<uint32_t, T><<<g, kThreads, 0, s>>>(c, x, y, o, static_cast<uint32_t>(p.n), p.bc);
    else where_bcast_kernel<int64_t, T><<<g, kThreads, 0, s>>>(c, x, y, o, p.n, p.bc);
    LW_CUDA_CHECK_LAUNCH("Where kernel");
    return Status::ok();
  }

 private:
  EwPlan<3> plan_;
};

Result<std::unique_ptr<Kernel>> make_where(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(check_arity(spec, 3));
  if (spec.inputs[0].dtype != DType::kBool) return refuse(spec.node, "Where's condition", spec.inputs[0].dtype);
  if (spec.inputs[1].dtype != spec.inputs[2].dtype)
    return kernel_error(spec.node, StatusCode::kUnsupportedDtype, "X and Y differ in type");
  LW_RETURN_IF_ERROR(check_output(spec, spec.inputs[1].dtype));
  LW_ASSIGN_OR_RETURN(EwPlan<3> plan,
                      make_plan<3>(spec.node,
                                   {spec.inputs[0].shape.dims(), spec.inputs[1].shape.dims(), spec.inputs[2].shape.dims()},
                                   spec.outputs[0].shape.dims()));
  switch (dtype_size(spec.inputs[1].dtype)) {
    case 1: return make_kernel<WhereKernel<uint8_t>>(plan);
    case 2: return make_kernel<WhereKernel<uint16_t>>(plan);
    case 4: return make_kernel<WhereKernel<uint32_t>>(plan);
    case 8: return make_kernel<WhereKernel<uint64_t>>(plan);
    default: return refuse(spec.node, "Where's X", spec.inputs[1].dtype);
  }
}

// ---- unary factories ----

template <typename Op>
Result<std::unique_ptr<Kernel>> float_unary_with(const KernelSpec& spec, Op op) {
  LW_RETURN_IF_ERROR(check_arity(spec, 1));
  const DType t = spec.inputs[0].dtype;
  LW_RETURN_IF_ERROR(check_output(spec, t));
  const int64_t n = numel_of(spec.inputs[0].shape.dims());
  switch (t) {
    case DType::kFloat32: return make_kernel<UnaryKernel<float, float, Lift1<Op, float, float>>>(n, Lift1<Op, float, float>{op});
    case DType::kFloat16:
      return make_kernel<UnaryKernel<__half, __half, Lift1<Op, __half, __half>>>(n, Lift1<Op, __half, __half>{op});
    default: return refuse(spec.node, "input 0", t);
  }
}

template <typename Op>
Result<std::unique_ptr<Kernel>> make_float_unary(const KernelSpec& spec) {
  return float_unary_with<Op>(spec, Op{});
}

template <typename T, typename Op>
Result<std::unique_ptr<Kernel>> same_unary(int64_t n) {
  return make_kernel<UnaryKernel<T, T, Lift1<Op, T, T>>>(n, Lift1<Op, T, T>{Op{}});
}

template <typename Op>
Result<std::unique_ptr<Kernel>> make_signed_unary(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(check_arity(spec, 1));
  const DType t = spec.inputs[0].dtype;
  LW_RETURN_IF_ERROR(check_output(spec, t));
  const int64_t n = numel_of(spec.inputs[0].shape.dims());
  switch (t) {
    case DType::kFloat32: return same_unary<float, Op>(n);
    case DType::kFloat16: return same_unary<__half, Op>(n);
    case DType::kInt64: return same_unary<int64_t, Op>(n);
    case DType::kInt32: return same_unary<int32_t, Op>(n);
    default: return refuse(spec.node, "input 0", t);
  }
}

Result<std::unique_ptr<Kernel>> make_leaky_relu(const KernelSpec& spec) {
  return float_unary_with(spec, LeakyReluF{spec.node.attr_float("alpha", 0.01f)});
}
Result<std::unique_ptr<Kernel>> make_hard_sigmoid(const KernelSpec& spec) {
  return float_unary_with(spec, HardSigmoidF{spec.node.attr_float("alpha", 0.2f), spec.node.attr_float("beta", 0.5f)});
}
Result<std::unique_ptr<Kernel>> make_elu(const KernelSpec& spec) {
  return float_unary_with(spec, EluF{spec.node.attr_float("alpha", 1.0f)});
}
Result<std::unique_ptr<Kernel>> make_selu(const KernelSpec& spec) {
  return float_unary_with(spec, SeluF{spec.node.attr_float("alpha", 1.67326319217681884765625f),
                                      spec.node.attr_float("gamma", 1.05070102214813232421875f)});
}
Result<std::unique_ptr<Kernel>> make_celu(const KernelSpec& spec) {
  const float alpha = spec.node.attr_float("alpha", 1.0f);
  if (alpha == 0.0f) return kernel_error(spec.node, StatusCode::kInvalidArgument, "alpha must not be 0");
  return float_unary_with(spec, CeluF{alpha});
}
Result<std::unique_ptr<Kernel>> make_thresholded_relu(const KernelSpec& spec) {
  return float_unary_with(spec, ThresholdedReluF{spec.node.attr_float("alpha", 1.0f)});
}
Result<std::unique_ptr<Kernel>> make_shrink(const KernelSpec& spec) {
  return float_unary_with(spec, ShrinkF{spec.node.attr_float("bias", 0.0f), spec.node.attr_float("lambd", 0.5f)});
}

// IsNaN / IsInf: float in, bool out.
template <typename Op>
Result<std::unique_ptr<Kernel>> float_class_of(const KernelSpec& spec, Op op) {
  const int64_t n = numel_of(spec.inputs[0].shape.dims());
  switch (spec.inputs[0].dtype) {
    case DType::kFloat32:
      return make_kernel<UnaryKernel<float, uint8_t, Lift1<Op, float, uint8_t>>>(n, Lift1<Op, float, uint8_t>{op});
    case DType::kFloat16:
      return make_kernel<UnaryKernel<__half, uint8_t, Lift1<Op, __half, uint8_t>>>(n, Lift1<Op, __half, uint8_t>{op});
    default: return refuse(spec.node, "input 0", spec.inputs[0].dtype);
  }
}

Result<std::unique_ptr<Kernel>> make_float_class(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(check_arity(spec, 1));
  LW_RETURN_IF_ERROR(check_output(spec, DType::kBool));
  if (spec.node.op == "IsNaN") return float_class_of(spec, IsNaNF{});
  return float_class_of(spec, IsInfF{spec.node.attr_int("detect_positive", 1) != 0,
                                     spec.node.attr_int("detect_negative", 1) != 0});
}

Result<std::unique_ptr<Kernel>> make_not(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(check_arity(spec, 1));
  if (spec.inputs[0].dtype != DType::kBool) return refuse(spec.node, "input 0", spec.inputs[0].dtype);
  LW_RETURN_IF_ERROR(check_output(spec, DType::kBool));
  return make_kernel<UnaryKernel<uint8_t, uint8_t, NotF>>(numel_of(spec.inputs[0].shape.dims()), NotF{});
}

// ---- Clip ----

template <typename T>
class ClipKernel final : public Kernel {
 public:
  using C = typename Num<T>::C;
  ClipKernel(int64_t n, C lo, C hi, bool lo_dev, bool hi_dev) : n_(n), lo_(lo), hi_(hi), lo_dev_(lo_dev), hi_dev_(hi_dev) {}
  Status run(const KernelRun& r) const override {
    if (n_ == 0) return Status::ok();
    const T* lo_p = lo_dev_ ? static_cast<const T*>(r.inputs[1]) : nullptr;
    const T* hi_p = hi_dev_ ? static_cast<const T*>(r.inputs[2]) : nullptr;
    clip_kernel<T><<<grid_for(n_, kThreads), kThreads, 0, r.handles.stream>>>(
        static_cast<const T*>(r.inputs[0]), static_cast<T*>(r.outputs[0]), n_, lo_, hi_, lo_p, hi_p);
    LW_CUDA_CHECK_LAUNCH("Clip kernel");
    return Status::ok();
  }

 private:
  int64_t n_;
  C lo_, hi_;
  bool lo_dev_, hi_dev_;
};

template <typename T>
T host_scalar(const ir::TensorData& t) {
  T v;
  std::memcpy(&v, t.bytes.data, sizeof(T));
  return v;
}

template <typename T>
Result<std::unique_ptr<Kernel>> clip_of(const KernelSpec& spec) {
  using C = typename Num<T>::C;
  C lo, hi;
  if constexpr (std::is_floating_point_v<C>) {
    lo = -std::numeric_limits<C>::infinity();
    hi = std::numeric_limits<C>::infinity();
  } else {
    lo = std::numeric_limits<C>::lowest();
    hi = std::numeric_limits<C>::max();
  }
  bool dev[3] = {false, false, false};
  C* bound[3] = {nullptr, &lo, &hi};
  for (size_t i = 1; i < 3; ++i) {
    if (!present(spec, i)) continue;
    const ir::TensorData* c = i < spec.const_inputs.size() ? spec.const_inputs[i] : nullptr;
    if (c && c->dtype == spec.inputs[0].dtype && c->bytes.data && c->bytes.size >= sizeof(T)) {
      if constexpr (std::is_same_v<T, __half>) *bound[i] = __half2float(host_scalar<__half>(*c));
      else *bound[i] = host_scalar<T>(*c);
    } else {
      dev[i] = true;
    }
  }
  return make_kernel<ClipKernel<T>>(numel_of(spec.inputs[0].shape.dims()), lo, hi, dev[1], dev[2]);
}

Result<std::unique_ptr<Kernel>> make_clip(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(check_arity(spec, 1));
  const DType t = spec.inputs[0].dtype;
  for (size_t i = 1; i < spec.inputs.size(); ++i) {
    if (!present(spec, i)) continue;
    if (spec.inputs[i].dtype != t)
      return kernel_error(spec.node, StatusCode::kUnsupportedDtype, "input ", i, " differs in type from input 0");
    if (numel_of(spec.inputs[i].shape.dims()) != 1)
      return kernel_error(spec.node, StatusCode::kInvalidArgument, "input ", i, " must be a scalar");
  }
  LW_RETURN_IF_ERROR(check_output(spec, t));
  switch (t) {
    case DType::kFloat32: return clip_of<float>(spec);
    case DType::kFloat16: return clip_of<__half>(spec);
    case DType::kFloat64: return clip_of<double>(spec);
    case DType::kInt64: return clip_of<int64_t>(spec);
    case DType::kInt32: return clip_of<int32_t>(spec);
    case DType::kInt8: return clip_of<int8_t>(spec);
    case DType::kUint8: return clip_of<uint8_t>(spec);
    default: return refuse(spec.node, "input 0", t);
  }
}

// ---- Cast ----

template <typename From, typename To>
Result<std::unique_ptr<Kernel>> cast_kernel(int64_t n) {
  return make_kernel<UnaryKernel<Storage<From>, Storage<To>, CastF<From, To>>>(n, CastF<From, To>{});
}

template <typename From>
Result<std::unique_ptr<Kernel>> cast_from(const KernelSpec& spec, int64_t n) {
  switch (spec.outputs[0].dtype) {
    case DType::kFloat32: return cast_kernel<From, float>(n);
    case DType::kFloat64: return cast_kernel<From, double>(n);
    case DType::kFloat16: return cast_kernel<From, __half>(n);
    case DType::kBFloat16: return cast_kernel<From, __nv_bfloat16>(n);
    case DType::kInt64: return cast_kernel<From, int64_t>(n);
    case DType::kInt32: return cast_kernel<From, int32_t>(n);
    case DType::kInt16: return cast_kernel<From, int16_t>(n);
    case DType::kInt8: return cast_kernel<From, int8_t>(n);
    case DType::kUint8: return cast_kernel<From, uint8_t>(n);
    case DType::kUint16: return cast_kernel<From, uint16_t>(n);
    case DType::kUint32: return cast_kernel<From, uint32_t>(n);
    case DType::kUint64: return cast_kernel<From, uint64_t>(n);
    case DType::kBool: return cast_kernel<From, bool>(n);
    default: return refuse(spec.node, "Cast's output", spec.outputs[0].dtype);
  }
}

Result<std::unique_ptr<Kernel>> make_cast(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(check_arity(spec, 1));
  const int64_t n = numel_of(spec.inputs[0].shape.dims());
  switch (spec.inputs[0].dtype) {
    case DType::kFloat32: return cast_from<float>(spec, n);
    case DType::kFloat64: return cast_from<double>(spec, n);
    case DType::kFloat16: return cast_from<__half>(spec, n);
    case DType::kBFloat16: return cast_from<__nv_bfloat16>(spec, n);
    case DType::kInt64: return cast_from<int64_t>(spec, n);
    case DType::kInt32: return cast_from<int32_t>(spec, n);
    case DType::kInt16: return cast_from<int16_t>(spec, n);
    case DType::kInt8: return cast_from<int8_t>(spec, n);
    case DType::kUint8: return cast_from<uint8_t>(spec, n);
    case DType::kUint16: return cast_from<uint16_t>(spec, n);
    case DType::kUint32: return cast_from<uint32_t>(spec, n);
    case DType::kUint64: return cast_from<uint64_t>(spec, n);
    case DType::kBool: return cast_from<bool>(spec, n);
    default: return refuse(spec.node, "Cast's input", spec.inputs[0].dtype);
  }
}

}  // namespace

void register_elementwise_kernels(std::vector<KernelEntry>& registry) {
  registry.push_back({"Add", make_arith<AddF>});
  registry.push_back({"Sub", make_arith<SubF>});
  registry.push_back({"Mul", make_arith<MulF>});
  registry.push_back({"Div", make_arith<DivF>});
  registry.push_back({"Pow", make_pow});
  registry.push_back({"Mod", make_mod});
  registry.push_back({"Equal", make_equal});
  registry.push_back({"Less", make_compare<LessF>});
  registry.push_back({"Greater", make_compare<GreaterF>});
  registry.push_back({"LessOrEqual", make_compare<LessEqualF>});
  registry.push_back({"GreaterOrEqual", make_compare<GreaterEqualF>});
  registry.push_back({"And", make_logic<AndF>});
  registry.push_back({"Or", make_logic<OrF>});
  registry.push_back({"Xor", make_logic<XorF>});
  registry.push_back({"PRelu", make_prelu});
  for (const char* op : {"Max", "Min", "Sum", "Mean"}) registry.push_back({op, make_variadic});
  registry.push_back({"Where", make_where});
  registry.push_back({"Clip", make_clip});
  registry.push_back({"Cast", make_cast});
  registry.push_back({"Not", make_not});
  registry.push_back({"IsNaN", make_float_class});
  registry.push_back({"IsInf", make_float_class});
  registry.push_back({"Relu", make_signed_unary<ReluF>});
  registry.push_back({"Neg", make_signed_unary<NegF>});
  registry.push_back({"Abs", make_signed_unary<AbsF>});
  registry.push_back({"Sigmoid", make_float_unary<SigmoidF>});
  registry.push_back({"Tanh", make_float_unary<TanhF>});
  registry.push_back({"Exp", make_float_unary<ExpF>});
  registry.push_back({"Log", make_float_unary<LogF>});
  registry.push_back({"Sqrt", make_float_unary<SqrtF>});
  registry.push_back({"Erf", make_float_unary<ErfF>});
  registry.push_back({"Reciprocal", make_float_unary<ReciprocalF>});
  registry.push_back({"Floor", make_float_unary<FloorF>});
  registry.push_back({"Ceil", make_float_unary<CeilF>});
  registry.push_back({"Round", make_float_unary<RoundF>});
  registry.push_back({"Softplus", make_float_unary<SoftplusF>});
  registry.push_back({"Softsign", make_float_unary<SoftsignF>});
  registry.push_back({"Sin", make_float_unary<SinF>});
  registry.push_back({"Cos", make_float_unary<CosF>});
  registry.push_back({"Tan", make_float_unary<TanF>});
  registry.push_back({"Asin", make_float_unary<AsinF>});
  registry.push_back({"Acos", make_float_unary<AcosF>});
  registry.push_back({"Atan", make_float_unary<AtanF>});
  registry.push_back({"Sinh", make_float_unary<SinhF>});
  registry.push_back({"Cosh", make_float_unary<CoshF>});
  registry.push_back({"Asinh", make_float_unary<AsinhF>});
  registry.push_back({"Acosh", make_float_unary<AcoshF>});
  registry.push_back({"Atanh", make_float_unary<AtanhF>});
  registry.push_back({"Sign", make_float_unary<SignF>});
  registry.push_back({"HardSwish", make_float_unary<HardSwishF>});
  registry.push_back({"HardSigmoid", make_hard_sigmoid});
  registry.push_back({"Celu", make_celu});
  registry.push_back({"ThresholdedRelu", make_thresholded_relu});
  registry.push_back({"Shrink", make_shrink});
  registry.push_back({"Elu", make_elu});
  registry.push_back({"Selu", make_selu});
  registry.push_back({"LeakyRelu", make_leaky_relu});
}

}  // namespace lw::cuda
