// Elementwise CPU kernels: broadcasting binary ops (Add, Sub, Mul, Div, Pow, Equal), Where,
// unary math and activations, Clip. Ops are functors inlined into typed loops; broadcasting
// goes through a collapsed StridedPlan so same-shape, scalar and per-channel cases run as
// contiguous or scalar-operand inner loops.
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>

#include "backends/cpu/kernels/kernels.h"
#include "backends/cpu/kernels/silu.h"
#include "backends/cpu/kernels/strided.h"
#include "backends/cpu/kernels/vector_math.h"
#include "compiler/passes/activation_fusion.h"

namespace lw::cpu {

namespace {

// Integer arithmetic wraps (two's complement) instead of overflowing, which C++ leaves undefined.
template <typename T>
using WrapT = std::conditional_t<(sizeof(T) <= 4), uint32_t, uint64_t>;
struct AddOp {
  template <typename T>
  static T f(T a, T b) {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(static_cast<WrapT<T>>(a) + static_cast<WrapT<T>>(b));
    else return a + b;
  }
};
struct SubOp {
  template <typename T>
  static T f(T a, T b) {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(static_cast<WrapT<T>>(a) - static_cast<WrapT<T>>(b));
    else return a - b;
  }
};
struct MulOp {
  template <typename T>
  static T f(T a, T b) {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(static_cast<WrapT<T>>(a) * static_cast<WrapT<T>>(b));
    else return a * b;
  }
};
struct DivOp {
  template <typename T>
  static T f(T a, T b) {
    if constexpr (std::is_integral_v<T>) {
      // Zero divisors are rejected before the loop; -1 avoids the INT_MIN / -1 trap.
      if constexpr (std::is_signed_v<T>)
        if (b == T(-1)) return SubOp::f<T>(T(0), a);
      return b == 0 ? T(0) : static_cast<T>(a / b);
    } else {
      return a / b;
    }
  }
};
struct PowOp { template <typename T> static T f(T a, T b) { return std::pow(a, b); } };
struct EqualOp { template <typename T> static uint8_t f(T a, T b) { return a == b ? 1 : 0; } };
struct LessOp { template <typename T> static uint8_t f(T a, T b) { return a < b ? 1 : 0; } };
struct GreaterOp { template <typename T> static uint8_t f(T a, T b) { return a > b ? 1 : 0; } };
struct LessEqualOp { template <typename T> static uint8_t f(T a, T b) { return a <= b ? 1 : 0; } };
struct GreaterEqualOp { template <typename T> static uint8_t f(T a, T b) { return a >= b ? 1 : 0; } };
struct AndOp { template <typename T> static uint8_t f(T a, T b) { return (a && b) ? 1 : 0; } };
struct OrOp { template <typename T> static uint8_t f(T a, T b) { return (a || b) ? 1 : 0; } };
struct XorOp { template <typename T> static uint8_t f(T a, T b) { return ((a != 0) != (b != 0)) ? 1 : 0; } };
// NaN propagates through Max/Min as ONNX (numpy maximum/minimum) specifies.
struct MaxOp {
  template <typename T>
  static T f(T a, T b) {
    if constexpr (std::is_floating_point_v<T>)
      if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    return a < b ? b : a;
  }
};
struct MinOp {
  template <typename T>
  static T f(T a, T b) {
    if constexpr (std::is_floating_point_v<T>)
      if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    return b < a ? b : a;
  }
};

template <typename T, typename Out, typename Op>
class BinaryKernel final : public Kernel {
 public:
  BinaryKernel(StridedPlan plan, int threads, int64_t b_count, bool check_zero_divisor, std::string name)
      : plan_(std::move(plan)), threads_(threads), b_count_(b_count), check_zero_(check_zero_divisor),
        name_(std::move(name)) {}

  Status run(const KernelRun& r) const override {
    const T* a = static_cast<const T*>(r.inputs[0]);
    const T* b = static_cast<const T*>(r.inputs[1]);
    Out* o = static_cast<Out*>(r.outputs[0]);
    if (check_zero_) {
      for (int64_t i = 0; i < b_count_; ++i)
        if (b[i] == T(0))
          return make_error(StatusCode::kInvalidArgument, "node '", name_, "' (Div): integer division by zero");
    }
    const int64_t sa = plan_.inner_stride(0), sb = plan_.inner_stride(1);
    run_strided<2>(plan_, threads_, [&](const std::array<int64_t, 2>& off, int64_t out_off, int64_t n) {
      const T* pa = a + off[0];
      const T* pb = b + off[1];
      Out* po = o + out_off;
      if (sa == 1 && sb == 1) {
        for (int64_t i = 0; i < n; ++i) po[i] = Op::f(pa[i], pb[i]);
      } else if (sa == 1 && sb == 0) {
        const T vb = *pb;
        for (int64_t i = 0; i < n; ++i) po[i] = Op::f(pa[i], vb);
      } else if (sa == 0 && sb == 1) {
        const T va = *pa;
        for (int64_t i = 0; i < n; ++i) po[i] = Op::f(va, pb[i]);
      } else {
        for (int64_t i = 0; i < n; ++i) po[i] = Op::f(pa[i * sa], pb[i * sb]);
      }
    });
    return Status::ok();
  }

 private:
  StridedPlan plan_;
  int threads_;
  int64_t b_count_;
  bool check_zero_;
  std::string name_;
};

// The plan over the output's memory order. In the convolution layout (conv_layout.h) that is
// [N, H, W, C] (channels-last) or [N, C / B, H, W, B] (blocks of B channels); an input in the
// output's layout and shape walks it contiguously, and a plain one that varies at most per image
// and channel (a [N, C, 1, 1] scale: the same bytes in every layout) by its NCHW strides put in
// that order.
Result<StridedPlan> binary_plan(const KernelSpec& spec, size_t n_inputs) {
  const Dims& out = spec.outputs[0].shape.dims();
  std::vector<Dims> strides;
  for (size_t i = 0; i < n_inputs; ++i) strides.push_back(broadcast_strides(spec.inputs[i].shape.dims(), out));
  const Layout layout = spec.output_layout(0);
  if (layout == Layout::kPlain) return make_strided_plan(out, strides);
  const int64_t block = channel_block(layout);
  if (out.size() != 4 || (block != 0 && out[1] % block != 0))
    return kernel_error(spec, StatusCode::kInternal, "an element-wise op in the convolution layout needs a 4-D output");
  const Dims memory = block != 0 ? Dims{out[0], out[1] / block, out[2], out[3], block}
                                 : Dims{out[0], out[2], out[3], out[1]};
  for (size_t i = 0; i < n_inputs; ++i) {
    Dims& s = strides[i];
    for (size_t d = 0; d < 4; ++d)
      if (out[d] == 1) s[d] = 0;  // a dim of one position: any stride walks it alike
    if (spec.input_layout(i) == layout) {
      if (spec.inputs[i].shape.dims() != out)
        return kernel_error(spec, StatusCode::kInternal, "input ", i, " in the convolution layout has another shape");
      s = Dims(memory.size(), 0);
      for (size_t d = memory.size(), step = 1; d-- > 0; step *= static_cast<size_t>(memory[d]))
        s[d] = static_cast<int64_t>(step);
    } else {
      if (s[2] != 0 || s[3] != 0 || (s[1] != 0 && s[1] != 1))
        return kernel_error(spec, StatusCode::kInternal, "plain input ", i, " ", spec.inputs[i].shape.dims(),
                            " varies over more than the images and channels of an output in the convolution layout");
      s = block != 0 ? Dims{s[0], s[1] * block, 0, 0, s[1]} : Dims{s[0], 0, 0, s[1]};
    }
  }
  return make_strided_plan(memory, strides);
}

// The plan trusts inference; a spec that disagrees with it must not turn into wild reads.
Status check_broadcast(const KernelSpec& spec, size_t n_inputs) {
  for (size_t i = 0; i < n_inputs; ++i)
    if (!broadcasts_to(spec.inputs[i].shape.dims(), spec.outputs[0].shape.dims()))
      return kernel_error(spec, StatusCode::kInvalidArgument, "input ", i, " ", spec.inputs[i].shape.dims(),
                          " does not broadcast to the output ", spec.outputs[0].shape.dims());
  return Status::ok();
}

template <typename T, typename Out, typename Op>
Result<std::unique_ptr<Kernel>> binary_of(const KernelSpec& spec, bool check_zero) {
  LW_RETURN_IF_ERROR(check_broadcast(spec, 2));
  LW_ASSIGN_OR_RETURN(StridedPlan plan, binary_plan(spec, 2));
  return make_kernel<BinaryKernel<T, Out, Op>>(std::move(plan), spec.num_threads,
                                               numel(spec.inputs[1].shape.dims()), check_zero, spec.node.name);
}

template <typename Op>
Result<std::unique_ptr<Kernel>> make_arith(const KernelSpec& spec) {
  DType t = spec.inputs[0].dtype;
  if (spec.inputs[1].dtype != t)
    return kernel_error(spec, StatusCode::kUnsupportedDtype, "inputs differ in type");
  constexpr bool is_div = std::is_same_v<Op, DivOp>;
  switch (t) {
    case DType::kFloat32: return binary_of<float, float, Op>(spec, false);
    case DType::kFloat64: return binary_of<double, double, Op>(spec, false);
    case DType::kInt64: return binary_of<int64_t, int64_t, Op>(spec, is_div);
    case DType::kInt32: return binary_of<int32_t, int32_t, Op>(spec, is_div);
    case DType::kInt16: return binary_of<int16_t, int16_t, Op>(spec, is_div);
    case DType::kInt8: return binary_of<int8_t, int8_t, Op>(spec, is_div);
    case DType::kUint8: return binary_of<uint8_t, uint8_t, Op>(spec, is_div);
    case DType::kUint16: return binary_of<uint16_t, uint16_t, Op>(spec, is_div);
    case DType::kUint32: return binary_of<uint32_t, uint32_t, Op>(spec, is_div);
    case DType::kUint64: return binary_of<uint64_t, uint64_t, Op>(spec, is_div);
    default: return require_dtype(spec, 0, {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kInt32});
  }
}

// Pow with a base and an exponent of different types (ONNX allows any numeric pair); the
// result has the base's type and is computed in double.
template <typename A, typename B>
class PowKernel final : public Kernel {
 public:
  PowKernel(StridedPlan plan, int threads) : plan_(std::move(plan)), threads_(threads) {}
  Status run(const KernelRun& r) const override {
    const A* a = static_cast<const A*>(r.inputs[0]);
    const B* b = static_cast<const B*>(r.inputs[1]);
    A* o = static_cast<A*>(r.outputs[0]);
    const int64_t sa = plan_.inner_stride(0), sb = plan_.inner_stride(1);
    run_strided<2>(plan_, threads_, [&](const std::array<int64_t, 2>& off, int64_t out_off, int64_t n) {
      for (int64_t i = 0; i < n; ++i) {
        double v = std::pow(static_cast<double>(a[off[0] + i * sa]), static_cast<double>(b[off[1] + i * sb]));
        if constexpr (std::is_integral_v<A>) {
          // Saturate: out-of-range doubles are undefined to convert.
          if (!(v >= static_cast<double>(std::numeric_limits<A>::lowest()))) v = static_cast<double>(std::numeric_limits<A>::lowest());
          if (v >= static_cast<double>(std::numeric_limits<A>::max())) v = static_cast<double>(std::numeric_limits<A>::max());
        }
        o[out_off + i] = static_cast<A>(v);
      }
    });
    return Status::ok();
  }

 private:
  StridedPlan plan_;
  int threads_;
};

template <typename A>
Result<std::unique_ptr<Kernel>> pow_with_base(const KernelSpec& spec) {
  LW_ASSIGN_OR_RETURN(StridedPlan plan, binary_plan(spec, 2));
  switch (spec.inputs[1].dtype) {
    case DType::kFloat32: return make_kernel<PowKernel<A, float>>(std::move(plan), spec.num_threads);
    case DType::kFloat64: return make_kernel<PowKernel<A, double>>(std::move(plan), spec.num_threads);
    case DType::kInt64: return make_kernel<PowKernel<A, int64_t>>(std::move(plan), spec.num_threads);
    case DType::kInt32: return make_kernel<PowKernel<A, int32_t>>(std::move(plan), spec.num_threads);
    case DType::kUint64: return make_kernel<PowKernel<A, uint64_t>>(std::move(plan), spec.num_threads);
    case DType::kUint32: return make_kernel<PowKernel<A, uint32_t>>(std::move(plan), spec.num_threads);
    default: return require_dtype(spec, 1, {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kInt32});
  }
}

Result<std::unique_ptr<Kernel>> make_equal(const KernelSpec& spec) {
  switch (spec.inputs[0].dtype) {
    case DType::kFloat32: return binary_of<float, uint8_t, EqualOp>(spec, false);
    case DType::kInt64: return binary_of<int64_t, uint8_t, EqualOp>(spec, false);
    case DType::kInt32: return binary_of<int32_t, uint8_t, EqualOp>(spec, false);
    case DType::kBool: return binary_of<uint8_t, uint8_t, EqualOp>(spec, false);
    default: return require_dtype(spec, 0, {DType::kFloat32, DType::kInt64, DType::kInt32, DType::kBool});
  }
}

template <typename Op>
Result<std::unique_ptr<Kernel>> make_compare(const KernelSpec& spec) {
  if (spec.inputs[1].dtype != spec.inputs[0].dtype)
    return kernel_error(spec, StatusCode::kUnsupportedDtype, "inputs differ in type");
  switch (spec.inputs[0].dtype) {
    case DType::kFloat32: return binary_of<float, uint8_t, Op>(spec, false);
    case DType::kFloat64: return binary_of<double, uint8_t, Op>(spec, false);
    case DType::kInt64: return binary_of<int64_t, uint8_t, Op>(spec, false);
    case DType::kInt32: return binary_of<int32_t, uint8_t, Op>(spec, false);
    default: return require_dtype(spec, 0, {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kInt32});
  }
}

template <typename Op>
Result<std::unique_ptr<Kernel>> make_logic(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kBool}));
  LW_RETURN_IF_ERROR(require_dtype(spec, 1, {DType::kBool}));
  return binary_of<uint8_t, uint8_t, Op>(spec, false);
}

// Max, Min, Sum, Mean over any number of inputs: a chain of broadcasting passes that each
// fold one more input into the output (the output is read back as the accumulator).
template <typename T>
class VariadicKernel final : public Kernel {
 public:
  using Fn = T (*)(T, T);
  VariadicKernel(std::vector<StridedPlan> plans, StridedPlan first, Fn fn, bool mean, int64_t n, int threads)
      : plans_(std::move(plans)), first_(std::move(first)), fn_(fn), mean_(mean), n_(n), threads_(threads) {}
  Status run(const KernelRun& r) const override {
    T* o = static_cast<T*>(r.outputs[0]);
    const T* x0 = static_cast<const T*>(r.inputs[0]);
    const int64_t s0 = first_.inner_stride(0);
    run_strided<1>(first_, threads_, [&](const std::array<int64_t, 1>& off, int64_t out_off, int64_t n) {
      for (int64_t i = 0; i < n; ++i) o[out_off + i] = x0[off[0] + i * s0];
    });
    for (size_t k = 0; k < plans_.size(); ++k) {
      const T* x = static_cast<const T*>(r.inputs[k + 1]);
      const StridedPlan& p = plans_[k];
      const int64_t sa = p.inner_stride(0), sb = p.inner_stride(1);
      run_strided<2>(p, threads_, [&](const std::array<int64_t, 2>& off, int64_t out_off, int64_t n) {
        for (int64_t i = 0; i < n; ++i) o[out_off + i] = fn_(o[off[0] + i * sa], x[off[1] + i * sb]);
      });
    }
    if (mean_) {
      const T count = static_cast<T>(plans_.size() + 1);
      for (int64_t i = 0; i < n_; ++i) o[i] = o[i] / count;
    }
    return Status::ok();
  }

 private:
  std::vector<StridedPlan> plans_;
  StridedPlan first_;
  Fn fn_;
  bool mean_;
  int64_t n_;
  int threads_;
};

template <typename T>
Result<std::unique_ptr<Kernel>> variadic_of(const KernelSpec& spec) {
  const std::string& op = spec.node.op;
  typename VariadicKernel<T>::Fn fn = op == "Max"   ? &MaxOp::f<T>
                                      : op == "Min" ? &MinOp::f<T>
                                                    : &AddOp::f<T>;
  const Dims& out = spec.outputs[0].shape.dims();
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    if (spec.inputs[i].dtype != spec.inputs[0].dtype)
      return kernel_error(spec, StatusCode::kUnsupportedDtype, "inputs differ in type");
    if (!broadcasts_to(spec.inputs[i].shape.dims(), out))
      return kernel_error(spec, StatusCode::kInvalidArgument, "input ", i, " does not broadcast to the output");
  }
  Dims same = broadcast_strides(out, out);
  StridedPlan first = make_strided_plan(out, {broadcast_strides(spec.inputs[0].shape.dims(), out)});
  std::vector<StridedPlan> plans;
  for (size_t i = 1; i < spec.inputs.size(); ++i)
    plans.push_back(make_strided_plan(out, {same, broadcast_strides(spec.inputs[i].shape.dims(), out)}));
  return make_kernel<VariadicKernel<T>>(std::move(plans), std::move(first), fn, op == "Mean", numel(out),
                                        spec.num_threads);
}

Result<std::unique_ptr<Kernel>> make_variadic(const KernelSpec& spec) {
  switch (spec.inputs[0].dtype) {
    case DType::kFloat32: return variadic_of<float>(spec);
    case DType::kFloat64: return variadic_of<double>(spec);
    case DType::kInt64: return variadic_of<int64_t>(spec);
    case DType::kInt32: return variadic_of<int32_t>(spec);
    case DType::kInt16: return variadic_of<int16_t>(spec);
    case DType::kInt8: return variadic_of<int8_t>(spec);
    case DType::kUint8: return variadic_of<uint8_t>(spec);
    case DType::kUint16: return variadic_of<uint16_t>(spec);
    case DType::kUint32: return variadic_of<uint32_t>(spec);
    case DType::kUint64: return variadic_of<uint64_t>(spec);
    default: return require_dtype(spec, 0, {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kInt32});
  }
}

// Where over any element type of size sizeof(T): only bytes move.
template <typename T>
class WhereKernel final : public Kernel {
 public:
  WhereKernel(StridedPlan plan, int threads) : plan_(std::move(plan)), threads_(threads) {}
  Status run(const KernelRun& r) const override {
    const uint8_t* c = static_cast<const uint8_t*>(r.inputs[0]);
    const T* x = static_cast<const T*>(r.inputs[1]);
    const T* y = static_cast<const T*>(r.inputs[2]);
    T* o = static_cast<T*>(r.outputs[0]);
    const int64_t sc = plan_.inner_stride(0), sx = plan_.inner_stride(1), sy = plan_.inner_stride(2);
    run_strided<3>(plan_, threads_, [&](const std::array<int64_t, 3>& off, int64_t out_off, int64_t n) {
      const uint8_t* pc = c + off[0];
      const T* px = x + off[1];
      const T* py = y + off[2];
      T* po = o + out_off;
      for (int64_t i = 0; i < n; ++i) po[i] = pc[i * sc] ? px[i * sx] : py[i * sy];
    });
    return Status::ok();
  }

 private:
  StridedPlan plan_;
  int threads_;
};

Result<std::unique_ptr<Kernel>> make_where(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kBool}));
  LW_RETURN_IF_ERROR(check_broadcast(spec, 3));
  LW_ASSIGN_OR_RETURN(StridedPlan plan, binary_plan(spec, 3));
  switch (dtype_size(spec.inputs[1].dtype)) {
    case 1: return make_kernel<WhereKernel<uint8_t>>(std::move(plan), spec.num_threads);
    case 2: return make_kernel<WhereKernel<uint16_t>>(std::move(plan), spec.num_threads);
    case 4: return make_kernel<WhereKernel<uint32_t>>(std::move(plan), spec.num_threads);
    case 8: return make_kernel<WhereKernel<uint64_t>>(std::move(plan), spec.num_threads);
    default:
      return kernel_error(spec, StatusCode::kUnsupportedDtype, "the CPU kernel does not support ",
                          dtype_name(spec.inputs[1].dtype));
  }
}

// ---- unary ----

struct ReluOp { template <typename T> T operator()(T x) const { return x > T(0) ? x : T(0); } };
struct NegOp { template <typename T> T operator()(T x) const { return -x; } };
struct AbsOp { template <typename T> T operator()(T x) const { return x < T(0) ? -x : x; } };
struct SigmoidOp { float operator()(float x) const { return 1.0f / (1.0f + std::exp(-x)); } };
struct TanhOp { float operator()(float x) const { return std::tanh(x); } };
struct ExpOp { float operator()(float x) const { return std::exp(x); } };
struct LogOp { float operator()(float x) const { return std::log(x); } };
struct SqrtOp { float operator()(float x) const { return std::sqrt(x); } };
struct ErfOp { float operator()(float x) const { return std::erf(x); } };
struct ReciprocalOp { float operator()(float x) const { return 1.0f / x; } };
struct FloorOp { float operator()(float x) const { return std::floor(x); } };
struct CeilOp { float operator()(float x) const { return std::ceil(x); } };
// Round half to even, as ONNX specifies (the default floating-point rounding mode).
struct RoundOp { float operator()(float x) const { return std::nearbyint(x); } };
struct SoftplusOp {
  float operator()(float x) const { return x > 20.0f ? x : std::log1p(std::exp(x)); }
};
struct SoftsignOp { float operator()(float x) const { return x / (1.0f + std::fabs(x)); } };
struct SinOp { float operator()(float x) const { return std::sin(x); } };
struct CosOp { float operator()(float x) const { return std::cos(x); } };
struct SignOp { float operator()(float x) const { return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x; } };
// These two also have apply8 (with kApply8), the same on 8 lanes in AVX2 (UnaryKernel takes it where the CPU
// has AVX2; the library is built for x86-64-v2, where GCC left their clamps scalar, with
// branches: MobileNet v3's 19 HardSwishes took 0.3 ms a run). vmaxps(t, 0) gives 0 for a NaN t
// as std::max(0, t) does, so both forms agree on NaN too.
struct HardSwishOp {
  // ONNX's alpha * x + beta with alpha = 1/6 (a multiply: x / 6 per element, a division, made
  // the HardSwishes fused from HardSigmoid and Mul slower than the pair).
  float operator()(float x) const { return x * std::min(1.0f, std::max(0.0f, x * (1.0f / 6.0f) + 0.5f)); }
  static constexpr bool kApply8 = true;
  LW_TARGET_AVX2_FMA __m256 apply8(__m256 x) const {
    const __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.0f / 6.0f), _mm256_set1_ps(0.5f));
    return _mm256_mul_ps(x, _mm256_min_ps(_mm256_max_ps(t, _mm256_setzero_ps()), _mm256_set1_ps(1.0f)));
  }
};
struct HardSigmoidOp {
  float alpha, beta;
  float operator()(float x) const { return std::min(1.0f, std::max(0.0f, alpha * x + beta)); }
  static constexpr bool kApply8 = true;
  LW_TARGET_AVX2_FMA __m256 apply8(__m256 x) const {
    const __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(alpha), _mm256_set1_ps(beta));
    return _mm256_min_ps(_mm256_max_ps(t, _mm256_setzero_ps()), _mm256_set1_ps(1.0f));
  }
};
struct EluOp {
  float alpha;
  float operator()(float x) const { return x < 0.0f ? alpha * (std::exp(x) - 1.0f) : x; }
};
struct SeluOp {
  float alpha, gamma;
  float operator()(float x) const { return x <= 0.0f ? gamma * (alpha * std::exp(x) - alpha) : gamma * x; }
};
struct NotOp { uint8_t operator()(uint8_t x) const { return x ? 0 : 1; } };
struct TanOp { float operator()(float x) const { return std::tan(x); } };
struct AsinOp { float operator()(float x) const { return std::asin(x); } };
struct AcosOp { float operator()(float x) const { return std::acos(x); } };
struct AtanOp { float operator()(float x) const { return std::atan(x); } };
struct SinhOp { float operator()(float x) const { return std::sinh(x); } };
struct CoshOp { float operator()(float x) const { return std::cosh(x); } };
struct AsinhOp { float operator()(float x) const { return std::asinh(x); } };
struct AcoshOp { float operator()(float x) const { return std::acosh(x); } };
struct AtanhOp { float operator()(float x) const { return std::atanh(x); } };
struct CeluOp {
  float alpha;
  float operator()(float x) const { return std::max(0.0f, x) + std::min(0.0f, alpha * (std::exp(x / alpha) - 1.0f)); }
};
struct ThresholdedReluOp {
  float alpha;
  float operator()(float x) const { return x > alpha ? x : 0.0f; }
};
struct ShrinkOp {
  float bias, lambd;
  float operator()(float x) const { return x < -lambd ? x + bias : x > lambd ? x - bias : 0.0f; }
};
struct PReluOp { template <typename T> static T f(T x, T slope) { return x < T(0) ? slope * x : x; } };
// Mod with fmod=0: integer remainder with the divisor's sign (Python's %); fmod=1: C fmod.
struct ModOp {
  template <typename T>
  static T f(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      return std::fmod(a, b);
    } else {
      if (b == 0) return T(0);
      if constexpr (std::is_signed_v<T>) {
        if (b == T(-1)) return T(0);
        T r = static_cast<T>(a % b);
        return (r != 0 && ((r < 0) != (b < 0))) ? static_cast<T>(r + b) : r;
      } else {
        return static_cast<T>(a % b);
      }
    }
  }
};
struct FmodOp {
  template <typename T>
  static T f(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      return std::fmod(a, b);
    } else {
      if (b == 0) return T(0);
      if constexpr (std::is_signed_v<T>)
        if (b == T(-1)) return T(0);
      return static_cast<T>(a % b);  // C++ truncates toward zero: the dividend's sign
    }
  }
};

// IsNaN / IsInf: float in, bool out.
class FloatClassKernel final : public Kernel {
 public:
  FloatClassKernel(int64_t n, bool nan, bool pos, bool neg) : n_(n), nan_(nan), pos_(pos), neg_(neg) {}
  Status run(const KernelRun& r) const override {
    const float* x = static_cast<const float*>(r.inputs[0]);
    uint8_t* y = static_cast<uint8_t*>(r.outputs[0]);
    for (int64_t i = 0; i < n_; ++i) {
      float v = x[i];
      y[i] = nan_ ? std::isnan(v) : ((pos_ && v == INFINITY) || (neg_ && v == -INFINITY)) ? 1 : 0;
    }
    return Status::ok();
  }

 private:
  int64_t n_;
  bool nan_, pos_, neg_;
};
struct LeakyReluOp {
  float alpha;
  float operator()(float x) const { return x < 0.0f ? alpha * x : x; }
};

// x * sigmoid(x) (passes/activation_fusion.h: SiLU, EfficientNet's activation).
struct SiLUOp {
  float operator()(float x) const { return x * SigmoidOp{}(x); }
};

// Sigmoid (or with kTimesX, SiLU) 8 lanes at a time (vector_math.h), the rest by the scalar op:
// std::exp per element took 14 ms of EfficientNet-B0's 22 (65 Sigmoids of its SiLUs), against
// 4.9 ms for ONNX Runtime's whole inference.
template <bool kTimesX>
LW_TARGET_AVX2_FMA void sigmoid_avx2(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    _mm256_storeu_ps(y + i, kTimesX ? _mm256_mul_ps(v, sigmoid(v)) : sigmoid(v));
  }
  for (; i < n; ++i) y[i] = kTimesX ? SiLUOp{}(x[i]) : SigmoidOp{}(x[i]);
}

// Ops with an 8-lane AVX2 form (apply8, marked by kApply8), for UnaryKernel.
template <typename Op>
constexpr bool kHasApply8 = requires { Op::kApply8; };

template <typename Op>
LW_TARGET_AVX2_FMA void unary_avx2(const Op& op, const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, op.apply8(_mm256_loadu_ps(x + i)));
  for (; i < n; ++i) y[i] = op(x[i]);
}

// The same 16 lanes at a time, where oneDNN may use AVX-512 (avx512_allowed).
template <bool kTimesX>
LW_TARGET_AVX512 void sigmoid_avx512(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    _mm512_storeu_ps(y + i, kTimesX ? _mm512_mul_ps(v, sigmoid(v)) : sigmoid(v));
  }
  for (; i < n; ++i) y[i] = kTimesX ? SiLUOp{}(x[i]) : SigmoidOp{}(x[i]);
}

// Sigmoid (or with kTimesX, SiLU) of n floats on the widest vectors the CPU allows, on up to
// `threads` threads; x may be y.
template <bool kTimesX>
void sigmoid_all(const float* x, float* y, int64_t n, int threads) {
  parallel_ranges(n, threads_for(n, 16384, threads), [&](int64_t b, int64_t e) {
    if (avx512_allowed()) {
      sigmoid_avx512<kTimesX>(x + b, y + b, e - b);
    } else if (avx2_fma_supported()) {
      sigmoid_avx2<kTimesX>(x + b, y + b, e - b);
    } else {
      for (int64_t i = b; i < e; ++i) y[i] = kTimesX ? SiLUOp{}(x[i]) : SigmoidOp{}(x[i]);
    }
  });
}

}  // namespace

void silu_in_place(float* y, int64_t n, int threads) { sigmoid_all<true>(y, y, n, threads); }

namespace {

template <typename T, typename Op>
class UnaryKernel final : public Kernel {
 public:
  UnaryKernel(int64_t n, int threads, Op op) : n_(n), threads_(threads), op_(op) {}
  Status run(const KernelRun& r) const override {
    const T* x = static_cast<const T*>(r.inputs[0]);
    T* y = static_cast<T*>(r.outputs[0]);
    const Op op = op_;
    if constexpr (std::is_same_v<T, float> && kHasApply8<Op>) {
      if (avx2_fma_supported()) {
        parallel_ranges(n_, threads_for(n_, 16384, threads_),
                        [&](int64_t b, int64_t e) { unary_avx2(op, x + b, y + b, e - b); });
        return Status::ok();
      }
    }
    if constexpr (std::is_same_v<Op, SigmoidOp> || std::is_same_v<Op, SiLUOp>) {
      sigmoid_all<std::is_same_v<Op, SiLUOp>>(x, y, n_, threads_);
      return Status::ok();
    }
    parallel_ranges(n_, threads_for(n_, 16384, threads_), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) y[i] = op(x[i]);
    });
    return Status::ok();
  }

 private:
  int64_t n_;
  int threads_;
  Op op_;
};

template <typename T, typename Op>
Result<std::unique_ptr<Kernel>> unary_of(const KernelSpec& spec, Op op = Op{}) {
  return make_kernel<UnaryKernel<T, Op>>(numel(spec.inputs[0].shape.dims()), spec.num_threads, op);
}

struct SquareOp {
  float operator()(float x) const { return x * x; }  // one rounding, as powf(x, 2)
};
struct CubeOp {
  float operator()(float x) const { return static_cast<float>(static_cast<double>(x) * x * x); }
};

// A float exponent that is a one-element constant 2 or 3: x*x or x*x*x instead of powf per
// element (LayerNorm and GELU decompositions square and cube activations).
std::optional<float> small_constant_exponent(const KernelSpec& spec) {
  if (spec.inputs[0].dtype != DType::kFloat32 || spec.inputs[1].dtype != DType::kFloat32) return std::nullopt;
  if (spec.const_inputs.size() < 2 || !spec.const_inputs[1] || spec.const_inputs[1]->numel() != 1) return std::nullopt;
  if (spec.outputs[0].shape != spec.inputs[0].shape) return std::nullopt;  // the exponent must not broadcast x
  float e = 0;
  std::memcpy(&e, spec.const_inputs[1]->bytes.data, sizeof e);
  if (e == 2.0f || e == 3.0f) return e;
  return std::nullopt;
}

Result<std::unique_ptr<Kernel>> make_pow(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(check_broadcast(spec, 2));
  if (auto e = small_constant_exponent(spec))
    return *e == 2.0f ? unary_of<float, SquareOp>(spec) : unary_of<float, CubeOp>(spec);
  if (spec.inputs[0].dtype == DType::kFloat32 && spec.inputs[1].dtype == DType::kFloat32)
    return binary_of<float, float, PowOp>(spec, false);
  switch (spec.inputs[0].dtype) {
    case DType::kFloat32: return pow_with_base<float>(spec);
    case DType::kFloat64: return pow_with_base<double>(spec);
    case DType::kInt64: return pow_with_base<int64_t>(spec);
    case DType::kInt32: return pow_with_base<int32_t>(spec);
    default: return require_dtype(spec, 0, {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kInt32});
  }
}

template <typename Op>
Result<std::unique_ptr<Kernel>> make_float_unary(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32}));
  return unary_of<float, Op>(spec);
}

template <typename Op>
Result<std::unique_ptr<Kernel>> make_signed_unary(const KernelSpec& spec) {
  switch (spec.inputs[0].dtype) {
    case DType::kFloat32: return unary_of<float, Op>(spec);
    case DType::kInt64: return unary_of<int64_t, Op>(spec);
    case DType::kInt32: return unary_of<int32_t, Op>(spec);
    default: return require_dtype(spec, 0, {DType::kFloat32, DType::kInt64, DType::kInt32});
  }
}

Result<std::unique_ptr<Kernel>> make_leaky_relu(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32}));
  return unary_of<float, LeakyReluOp>(spec, LeakyReluOp{spec.node.attr_float("alpha", 0.01f)});
}

Result<std::unique_ptr<Kernel>> make_hard_sigmoid(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32}));
  return unary_of<float, HardSigmoidOp>(
      spec, HardSigmoidOp{spec.node.attr_float("alpha", 0.2f), spec.node.attr_float("beta", 0.5f)});
}

Result<std::unique_ptr<Kernel>> make_elu(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32}));
  return unary_of<float, EluOp>(spec, EluOp{spec.node.attr_float("alpha", 1.0f)});
}

Result<std::unique_ptr<Kernel>> make_selu(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32}));
  return unary_of<float, SeluOp>(
      spec, SeluOp{spec.node.attr_float("alpha", 1.67326319217681884765625f),
                   spec.node.attr_float("gamma", 1.05070102214813232421875f)});
}

Result<std::unique_ptr<Kernel>> make_float_class(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32}));
  return make_kernel<FloatClassKernel>(numel(spec.inputs[0].shape.dims()), spec.node.op == "IsNaN",
                                       spec.node.attr_int("detect_positive", 1) != 0,
                                       spec.node.attr_int("detect_negative", 1) != 0);
}

Result<std::unique_ptr<Kernel>> make_celu(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32}));
  float alpha = spec.node.attr_float("alpha", 1.0f);
  if (alpha == 0.0f) return kernel_error(spec, StatusCode::kInvalidArgument, "alpha must not be 0");
  return unary_of<float, CeluOp>(spec, CeluOp{alpha});
}

Result<std::unique_ptr<Kernel>> make_thresholded_relu(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32}));
  return unary_of<float, ThresholdedReluOp>(spec, ThresholdedReluOp{spec.node.attr_float("alpha", 1.0f)});
}

Result<std::unique_ptr<Kernel>> make_shrink(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32}));
  return unary_of<float, ShrinkOp>(spec, ShrinkOp{spec.node.attr_float("bias", 0.0f), spec.node.attr_float("lambd", 0.5f)});
}

Result<std::unique_ptr<Kernel>> make_prelu(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32}));
  LW_RETURN_IF_ERROR(require_dtype(spec, 1, {DType::kFloat32}));
  return binary_of<float, float, PReluOp>(spec, false);
}

template <typename Op>
Result<std::unique_ptr<Kernel>> mod_of(const KernelSpec& spec) {
  switch (spec.inputs[0].dtype) {
    case DType::kFloat32: return binary_of<float, float, Op>(spec, false);
    case DType::kFloat64: return binary_of<double, double, Op>(spec, false);
    case DType::kInt64: return binary_of<int64_t, int64_t, Op>(spec, false);
    case DType::kInt32: return binary_of<int32_t, int32_t, Op>(spec, false);
    case DType::kInt16: return binary_of<int16_t, int16_t, Op>(spec, false);
    case DType::kInt8: return binary_of<int8_t, int8_t, Op>(spec, false);
    case DType::kUint8: return binary_of<uint8_t, uint8_t, Op>(spec, false);
    case DType::kUint16: return binary_of<uint16_t, uint16_t, Op>(spec, false);
    case DType::kUint32: return binary_of<uint32_t, uint32_t, Op>(spec, false);
    case DType::kUint64: return binary_of<uint64_t, uint64_t, Op>(spec, false);
    default: return require_dtype(spec, 0, {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kInt32});
  }
}

// Integer division by zero is undefined: Mod checks the divisor before the loop.
Result<std::unique_ptr<Kernel>> make_mod(const KernelSpec& spec) {
  if (spec.inputs[1].dtype != spec.inputs[0].dtype)
    return kernel_error(spec, StatusCode::kUnsupportedDtype, "inputs differ in type");
  return spec.node.attr_int("fmod", 0) != 0 ? mod_of<FmodOp>(spec) : mod_of<ModOp>(spec);
}

Result<std::unique_ptr<Kernel>> make_not(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kBool}));
  return unary_of<uint8_t, NotOp>(spec);
}

// Clip reads its optional min/max scalars at run time: they are data, not attributes.
template <typename T>
class ClipKernel final : public Kernel {
 public:
  ClipKernel(int64_t n, bool has_min, bool has_max, int threads)
      : n_(n), has_min_(has_min), has_max_(has_max), threads_(threads) {}
  Status run(const KernelRun& r) const override {
    const T* x = static_cast<const T*>(r.inputs[0]);
    T* y = static_cast<T*>(r.outputs[0]);
    constexpr T kLow = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                            : std::numeric_limits<T>::lowest();
    constexpr T kHigh = std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity()
                                                             : std::numeric_limits<T>::max();
    const T lo = has_min_ ? *static_cast<const T*>(r.inputs[1]) : kLow;
    const T hi = has_max_ ? *static_cast<const T*>(r.inputs[2]) : kHigh;
    parallel_ranges(n_, threads_for(n_, 16384, threads_), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) y[i] = std::min(std::max(x[i], lo), hi);
    });
    return Status::ok();
  }

 private:
  int64_t n_;
  bool has_min_, has_max_;
  int threads_;
};

Result<std::unique_ptr<Kernel>> make_clip(const KernelSpec& spec) {
  const DType t = spec.inputs[0].dtype;
  for (size_t i = 1; i < spec.inputs.size(); ++i)
    if (spec.inputs[i].dtype != DType::kUndefined && spec.inputs[i].dtype != t)
      return kernel_error(spec, StatusCode::kUnsupportedDtype, "input ", i, " differs in type from input 0");
  for (size_t i = 1; i < spec.inputs.size(); ++i)
    if (spec.inputs[i].dtype != DType::kUndefined && numel(spec.inputs[i].shape.dims()) != 1)
      return kernel_error(spec, StatusCode::kInvalidArgument, "input ", i, " must be a scalar");
  auto present = [&](size_t i) { return spec.inputs.size() > i && spec.inputs[i].dtype != DType::kUndefined; };
  const int64_t n = numel(spec.inputs[0].shape.dims());
  switch (t) {
    case DType::kFloat32: return make_kernel<ClipKernel<float>>(n, present(1), present(2), spec.num_threads);
    case DType::kFloat64: return make_kernel<ClipKernel<double>>(n, present(1), present(2), spec.num_threads);
    case DType::kInt64: return make_kernel<ClipKernel<int64_t>>(n, present(1), present(2), spec.num_threads);
    case DType::kInt32: return make_kernel<ClipKernel<int32_t>>(n, present(1), present(2), spec.num_threads);
    case DType::kInt8: return make_kernel<ClipKernel<int8_t>>(n, present(1), present(2), spec.num_threads);
    case DType::kUint8: return make_kernel<ClipKernel<uint8_t>>(n, present(1), present(2), spec.num_threads);
    default: return require_dtype(spec, 0, {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kInt32});
  }
}

}  // namespace

void register_elementwise_kernels(std::vector<KernelEntry>& registry) {
  registry.push_back({"Add", make_arith<AddOp>});
  registry.push_back({"Sub", make_arith<SubOp>});
  registry.push_back({"Mul", make_arith<MulOp>});
  registry.push_back({"Div", make_arith<DivOp>});
  registry.push_back({"Pow", make_pow});
  registry.push_back({"Equal", make_equal});
  registry.push_back({"Where", make_where});
  registry.push_back({"Relu", make_signed_unary<ReluOp>});
  registry.push_back({"Neg", make_signed_unary<NegOp>});
  registry.push_back({"Abs", make_signed_unary<AbsOp>});
  registry.push_back({"Sigmoid", make_float_unary<SigmoidOp>});
  registry.push_back({passes::kOpSiLU, make_float_unary<SiLUOp>});
  registry.push_back({"Tanh", make_float_unary<TanhOp>});
  registry.push_back({"Exp", make_float_unary<ExpOp>});
  registry.push_back({"Log", make_float_unary<LogOp>});
  registry.push_back({"Sqrt", make_float_unary<SqrtOp>});
  registry.push_back({"Erf", make_float_unary<ErfOp>});
  registry.push_back({"LeakyRelu", make_leaky_relu});
  registry.push_back({"Clip", make_clip});
  registry.push_back({"Less", make_compare<LessOp>});
  registry.push_back({"Greater", make_compare<GreaterOp>});
  registry.push_back({"LessOrEqual", make_compare<LessEqualOp>});
  registry.push_back({"GreaterOrEqual", make_compare<GreaterEqualOp>});
  registry.push_back({"And", make_logic<AndOp>});
  registry.push_back({"Or", make_logic<OrOp>});
  registry.push_back({"Xor", make_logic<XorOp>});
  registry.push_back({"Not", make_not});
  for (const char* op : {"Max", "Min", "Sum", "Mean"}) registry.push_back({op, make_variadic});
  registry.push_back({"Reciprocal", make_float_unary<ReciprocalOp>});
  registry.push_back({"Floor", make_float_unary<FloorOp>});
  registry.push_back({"Ceil", make_float_unary<CeilOp>});
  registry.push_back({"Round", make_float_unary<RoundOp>});
  registry.push_back({"Softplus", make_float_unary<SoftplusOp>});
  registry.push_back({"Softsign", make_float_unary<SoftsignOp>});
  registry.push_back({"Sin", make_float_unary<SinOp>});
  registry.push_back({"Cos", make_float_unary<CosOp>});
  registry.push_back({"Sign", make_float_unary<SignOp>});
  registry.push_back({"HardSwish", make_float_unary<HardSwishOp>});
  registry.push_back({"HardSigmoid", make_hard_sigmoid});
  registry.push_back({"Elu", make_elu});
  registry.push_back({"Selu", make_selu});
  registry.push_back({"Tan", make_float_unary<TanOp>});
  registry.push_back({"Asin", make_float_unary<AsinOp>});
  registry.push_back({"Acos", make_float_unary<AcosOp>});
  registry.push_back({"Atan", make_float_unary<AtanOp>});
  registry.push_back({"Sinh", make_float_unary<SinhOp>});
  registry.push_back({"Cosh", make_float_unary<CoshOp>});
  registry.push_back({"Asinh", make_float_unary<AsinhOp>});
  registry.push_back({"Acosh", make_float_unary<AcoshOp>});
  registry.push_back({"Atanh", make_float_unary<AtanhOp>});
  registry.push_back({"Celu", make_celu});
  registry.push_back({"ThresholdedRelu", make_thresholded_relu});
  registry.push_back({"Shrink", make_shrink});
  registry.push_back({"IsNaN", make_float_class});
  registry.push_back({"IsInf", make_float_class});
  registry.push_back({"PRelu", make_prelu});
  registry.push_back({"Mod", make_mod});
}

}  // namespace lw::cpu
