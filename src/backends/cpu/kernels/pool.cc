// Pooling kernels: MaxPool (dilations, ceil_mode, optional Indices output), AveragePool
// (count_include_pad, ceil_mode) and GlobalAveragePool/GlobalMaxPool.
//
// On AVX2 machines, a 2-D MaxPool or AveragePool without Indices or dilation over a multiple of
// 8 channels runs on GroupedPoolKernel, 8 channels a vector, in any layout of its input and
// output (nChw8c or channels-last directly, a plain one converted): oneDNN's pooling took 0.5 ms
// for ResNet's 3 x 3, stride-2 pool over 64 x 112 x 112 nChw8c at two threads, twice ONNX
// Runtime's, and allocates memory on every call. Other 2-D pools without Indices and without a
// ceil_mode window past the padding run as oneDNN pooling primitives, in whichever layout their
// input and output have. Everything else runs on the loop kernel here: 1-D and 2-D pools as 3-D
// ones with leading unit dims, each (n, c) plane independent and planes in parallel;
// channels-last tensors go through a plain copy in scratch. The global pools read channels-last
// and blocked data directly.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "backends/cpu/activation_reorder.h"
#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/kernels.h"
#include "core/blob.h"
#include "graph/ops/spatial.h"

namespace lw::cpu {

namespace {

struct PoolGeometry {
  int64_t planes = 0;                       // N * C
  std::array<int64_t, 3> in{}, out{}, k{}, s{}, d{}, pb{}, pe{};
  int64_t in_plane() const { return in[0] * in[1] * in[2]; }
  int64_t out_plane() const { return out[0] * out[1] * out[2]; }
};

enum class PoolKind { kMax, kAverage };

// [n][rows][cols] -> [n][cols][rows]: a channels-last tensor ([n][hw][c]) to its plain copy
// ([n][c][hw]), or back with rows and cols swapped.
void transpose_planes(const float* src, float* dst, int64_t n, int64_t rows, int64_t cols, int threads) {
  parallel_ranges(n * cols, threads_for(n * rows * cols, 65536, threads), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const int64_t i = p / cols, col = p % cols;
      const float* s = src + i * rows * cols + col;
      float* d = dst + p * rows;
      for (int64_t r = 0; r < rows; ++r) d[r] = s[r * cols];
    }
  });
}

class PoolKernel final : public Kernel {
 public:
  // A blocked input or output comes with `blocked_in` (blocked -> plain) or `blocked_out`
  // (plain -> blocked), reorders through scratch; channels-last ones are transposed here.
  PoolKernel(PoolGeometry g, PoolKind kind, bool count_include_pad, bool indices, bool column_major, int64_t batch,
             Layout in, Layout out, DnnlCall blocked_in, DnnlCall blocked_out, int threads, const ir::Node& node)
      : g_(g), kind_(kind), include_pad_(count_include_pad), indices_(indices), column_major_(column_major),
        batch_(batch), in_(in), out_(out), blocked_in_(std::move(blocked_in)), blocked_out_(std::move(blocked_out)),
        threads_(threads), name_(node.name) {}

  size_t scratch_bytes() const override {
    size_t n = 0;
    if (in_ != Layout::kPlain) n += align64(static_cast<size_t>(g_.planes * g_.in_plane()) * sizeof(float));
    if (out_ != Layout::kPlain) n += align64(static_cast<size_t>(g_.planes * g_.out_plane()) * sizeof(float));
    return n;
  }

  Status run(const KernelRun& r) const override {
    const float* x = static_cast<const float*>(r.inputs[0]);
    float* y = static_cast<float*>(r.outputs[0]);
    auto* scratch = static_cast<uint8_t*>(r.scratch);
    const int64_t channels = g_.planes / batch_;
    try {
      if (in_ != Layout::kPlain) {
        auto* plain = reinterpret_cast<float*>(scratch);
        if (in_ == Layout::kChannelsLast) {
          transpose_planes(x, plain, batch_, g_.in_plane(), channels, threads_);
        } else {
          blocked_in_.run({x, plain});
        }
        x = plain;
        scratch += align64(static_cast<size_t>(g_.planes * g_.in_plane()) * sizeof(float));
      }
      float* y_user = y;
      if (out_ != Layout::kPlain) y = reinterpret_cast<float*>(scratch);
      pool_all(x, y, r);
      if (out_ == Layout::kChannelsLast) {
        transpose_planes(y, y_user, batch_, channels, g_.out_plane(), threads_);
      } else if (out_ != Layout::kPlain) {
        blocked_out_.run({y, y_user});
      }
    } catch (const dnnl::error& e) {
      return make_error(StatusCode::kInternal, "node '", name_, "': oneDNN reorder of the blocked layout failed: ", e.what());
    }
    return Status::ok();
  }

 private:

  void pool_all(const float* x, float* y, const KernelRun& r) const {
    int64_t* idx = indices_ ? static_cast<int64_t*>(r.outputs[1]) : nullptr;
    const int64_t in_plane = g_.in_plane(), out_plane = g_.out_plane();
    int threads = threads_for(g_.planes * out_plane * g_.k[0] * g_.k[1] * g_.k[2], 65536, threads_);
    parallel_ranges(g_.planes, threads, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const float* xp = x + p * in_plane;
        float* yp = y + p * out_plane;
        int64_t* ip = idx ? idx + p * out_plane : nullptr;
        pool_plane(xp, yp, ip, p * in_plane);
      }
    });
  }

  // The window positions of output index o along dim `a` that fall inside the input,
  // and (for count_include_pad) how many fall inside the padded extent.
  void window(size_t a, int64_t o, int64_t* first, int64_t* count, int64_t* padded) const {
    int64_t start = o * g_.s[a] - g_.pb[a];
    int64_t lo = 0, hi = g_.k[a];  // kernel taps [lo, hi) that land in the input
    while (lo < hi && start + lo * g_.d[a] < 0) ++lo;
    while (hi > lo && start + (hi - 1) * g_.d[a] >= g_.in[a]) --hi;
    *first = lo;
    *count = hi - lo;
    int64_t plo = 0, phi = g_.k[a];
    while (plo < phi && start + plo * g_.d[a] < -g_.pb[a]) ++plo;
    while (phi > plo && start + (phi - 1) * g_.d[a] >= g_.in[a] + g_.pe[a]) --phi;
    *padded = phi - plo;
  }

  void pool_plane(const float* x, float* y, int64_t* idx, int64_t plane_base) const {
    const int64_t h_in = g_.in[1], w_in = g_.in[2];
    for (int64_t o0 = 0; o0 < g_.out[0]; ++o0) {
      int64_t f0, c0, p0;
      window(0, o0, &f0, &c0, &p0);
      int64_t s0 = o0 * g_.s[0] - g_.pb[0];
      for (int64_t o1 = 0; o1 < g_.out[1]; ++o1) {
        int64_t f1, c1, p1;
        window(1, o1, &f1, &c1, &p1);
        int64_t s1 = o1 * g_.s[1] - g_.pb[1];
        for (int64_t o2 = 0; o2 < g_.out[2]; ++o2) {
          int64_t f2, c2, p2;
          window(2, o2, &f2, &c2, &p2);
          int64_t s2 = o2 * g_.s[2] - g_.pb[2];
          int64_t out_i = (o0 * g_.out[1] + o1) * g_.out[2] + o2;
          if (kind_ == PoolKind::kMax) {
            float best = -std::numeric_limits<float>::infinity();
            int64_t best_at = -1;
            for (int64_t k0 = f0; k0 < f0 + c0; ++k0) {
              int64_t i0 = s0 + k0 * g_.d[0];
              for (int64_t k1 = f1; k1 < f1 + c1; ++k1) {
                int64_t i1 = s1 + k1 * g_.d[1];
                const float* row = x + (i0 * h_in + i1) * w_in;
                for (int64_t k2 = f2; k2 < f2 + c2; ++k2) {
                  int64_t i2 = s2 + k2 * g_.d[2];
                  float v = row[i2];
                  if (best_at < 0 || v > best) {
                    best = v;
                    best_at = (i0 * h_in + i1) * w_in + i2;
                  }
                }
              }
            }
            y[out_i] = best;
            if (idx) idx[out_i] = plane_base + storage_index(best_at < 0 ? 0 : best_at);
          } else {
            float sum = 0.0f;
            for (int64_t k0 = f0; k0 < f0 + c0; ++k0) {
              int64_t i0 = s0 + k0 * g_.d[0];
              for (int64_t k1 = f1; k1 < f1 + c1; ++k1) {
                int64_t i1 = s1 + k1 * g_.d[1];
                const float* row = x + (i0 * h_in + i1) * w_in;
                for (int64_t k2 = f2; k2 < f2 + c2; ++k2) sum += row[s2 + k2 * g_.d[2]];
              }
            }
            int64_t count = include_pad_ ? p0 * p1 * p2 : c0 * c1 * c2;
            y[out_i] = count > 0 ? sum / static_cast<float>(count) : 0.0f;
          }
        }
      }
    }
  }

  // Row-major offset within a plane, or the column-major one (storage_order = 1).
  int64_t storage_index(int64_t row_major) const {
    if (!column_major_) return row_major;
    int64_t i2 = row_major % g_.in[2], rest = row_major / g_.in[2];
    int64_t i1 = rest % g_.in[1], i0 = rest / g_.in[1];
    return (i2 * g_.in[1] + i1) * g_.in[0] + i0;
  }

  PoolGeometry g_;
  PoolKind kind_;
  bool include_pad_, indices_, column_major_;
  int64_t batch_;
  Layout in_, out_;
  DnnlCall blocked_in_, blocked_out_;
  int threads_;
  std::string name_;
};

// The taps [lo, hi) of a window starting at `start` (input coordinate of tap 0) that land in
// [from, to): the input itself, or its extent with the declared padding.
inline void taps_within(int64_t start, int64_t k, int64_t from, int64_t to, int64_t* lo, int64_t* hi) {
  *lo = std::max<int64_t>(0, from - start);
  *hi = std::max(*lo, std::min<int64_t>(k, to - start));
}

// Max or average over each window of groups of `group` channels held together (a multiple of
// 8: 8 for nChw8c, all of them for channels-last), 8 at a time: rows [row0, row1) of the
// output, a row being one (image, channel group, output row). Taps outside the input are
// skipped. Max: the first tap inside starts it, and vmaxps with the running max as its second
// operand then keeps it when either is NaN, as the loop kernel's `v > best` does; a window with
// no tap inside gives -inf. Average: the sum over the taps inside, in the loop kernel's order,
// divided by their count, or with count_include_pad by the count of taps inside the input and
// its declared padding (not a ceil_mode window's overhang); 0 for a count of 0.
template <PoolKind kKind>
__attribute__((target("avx2"))) void pool_grouped_rows(const float* x, float* y, const PoolGeometry& g,
                                                       int64_t group, bool include_pad, int64_t row0, int64_t row1) {
  const int64_t ih = g.in[1], iw = g.in[2], oh = g.out[1], ow = g.out[2];
  for (int64_t row = row0; row < row1; ++row) {
    const int64_t plane = row / oh, o1 = row % oh;
    const float* xp = x + plane * ih * iw * group;
    float* yp = y + (plane * oh + o1) * ow * group;
    const int64_t s1 = o1 * g.s[1] - g.pb[1];
    int64_t k1_lo, k1_hi, p1_lo, p1_hi;
    taps_within(s1, g.k[1], 0, ih, &k1_lo, &k1_hi);
    taps_within(s1, g.k[1], -g.pb[1], ih + g.pe[1], &p1_lo, &p1_hi);
    for (int64_t o2 = 0; o2 < ow; ++o2) {
      const int64_t s2 = o2 * g.s[2] - g.pb[2];
      int64_t k2_lo, k2_hi, p2_lo, p2_hi;
      taps_within(s2, g.k[2], 0, iw, &k2_lo, &k2_hi);
      taps_within(s2, g.k[2], -g.pb[2], iw + g.pe[2], &p2_lo, &p2_hi);
      const int64_t count = include_pad ? (p1_hi - p1_lo) * (p2_hi - p2_lo) : (k1_hi - k1_lo) * (k2_hi - k2_lo);
      for (int64_t c0 = 0; c0 < group; c0 += 8) {
        __m256 acc = kKind == PoolKind::kMax ? _mm256_set1_ps(-std::numeric_limits<float>::infinity())
                                             : _mm256_setzero_ps();
        bool first = true;
        for (int64_t k1 = k1_lo; k1 < k1_hi; ++k1) {
          const float* r = xp + ((s1 + k1) * iw + s2) * group + c0;
          for (int64_t k2 = k2_lo; k2 < k2_hi; ++k2) {
            const __m256 v = _mm256_loadu_ps(r + k2 * group);
            if constexpr (kKind == PoolKind::kMax) {
              acc = first ? v : _mm256_max_ps(v, acc);
              first = false;
            } else {
              acc = _mm256_add_ps(acc, v);
            }
          }
        }
        if constexpr (kKind == PoolKind::kAverage)
          acc = count > 0 ? _mm256_div_ps(acc, _mm256_set1_ps(static_cast<float>(count))) : _mm256_setzero_ps();
        _mm256_storeu_ps(yp + o2 * group + c0, acc);
      }
    }
  }
}

// A 2-D MaxPool or AveragePool without dilation or Indices, on the channel groups of nChw8c
// data (an nChw8c input) or of channels-last data (any other input, of a multiple of 8
// channels): a plain or nChw16c input is converted to channels-last first, and an output
// wanted in another layout than the pool's is converted after it, both through scratch by
// activation_reorder.h. oneDNN's pooling allocated memory on every call, and the loop kernel,
// which takes what oneDNN cannot (a ceil_mode window past the padding: SqueezeNet's and
// GoogLeNet's max pools on their concatenations), ran GoogLeNet's 13 at 50 ms a run.
class GroupedPoolKernel final : public Kernel {
 public:
  GroupedPoolKernel(PoolGeometry g, PoolKind kind, bool include_pad, int64_t group,
                    std::optional<ActivationReorder> to_pool, std::optional<ActivationReorder> from_pool, int threads)
      : g_(g), kind_(kind), include_pad_(include_pad), group_(group), to_pool_(to_pool), from_pool_(from_pool),
        threads_(threads) {}

  size_t scratch_bytes() const override {
    return (to_pool_ ? align64(in_bytes()) : 0) + (from_pool_ ? align64(out_bytes()) : 0);
  }

  Status run(const KernelRun& r) const override {
    const auto* x = static_cast<const float*>(r.inputs[0]);
    auto* y = static_cast<float*>(r.outputs[0]);
    auto* scratch = static_cast<uint8_t*>(r.scratch);
    if (to_pool_) {
      auto* converted = reinterpret_cast<float*>(scratch);
      run_activation_reorder(*to_pool_, x, converted, threads_);
      x = converted;
      scratch += align64(in_bytes());
    }
    float* pooled = from_pool_ ? reinterpret_cast<float*>(scratch) : y;
    const int64_t rows = g_.planes / group_ * g_.out[1];
    const int threads = threads_for(g_.planes * g_.out[1] * g_.out[2] * g_.k[1] * g_.k[2] / 8, 16384, threads_);
    parallel_ranges(rows, threads, [&](int64_t b, int64_t e) {
      if (kind_ == PoolKind::kMax) {
        pool_grouped_rows<PoolKind::kMax>(x, pooled, g_, group_, include_pad_, b, e);
      } else {
        pool_grouped_rows<PoolKind::kAverage>(x, pooled, g_, group_, include_pad_, b, e);
      }
    });
    if (from_pool_) run_activation_reorder(*from_pool_, pooled, y, threads_);
    return Status::ok();
  }

 private:
  size_t in_bytes() const { return static_cast<size_t>(g_.planes * g_.in_plane()) * sizeof(float); }
  size_t out_bytes() const { return static_cast<size_t>(g_.planes * g_.out_plane()) * sizeof(float); }

  PoolGeometry g_;
  PoolKind kind_;
  bool include_pad_;
  int64_t group_;
  std::optional<ActivationReorder> to_pool_, from_pool_;
  int threads_;
};

// The oneDNN primitive for a 2-D pool, or null when oneDNN cannot reproduce ONNX here: an
// Indices output, or a ceil_mode window that reaches past the declared end padding (ONNX
// and oneDNN count such windows differently for averages).
std::unique_ptr<Kernel> try_dnnl_pool(const KernelSpec& spec, const PoolGeometry& g, PoolKind kind, bool include_pad,
                                      const Dims& x, const Dims& y) {
  if (x.size() != 4 || spec.outputs.size() > 1) return nullptr;
  dnnl::memory::dims strides, kernel, dilation, pad_l, pad_r;
  for (size_t a = 1; a < 3; ++a) {
    const int64_t extent = (g.k[a] - 1) * g.d[a] + 1;
    if (g.in[a] + g.pb[a] + g.pe[a] < extent) return nullptr;
    if ((g.in[a] + g.pb[a] + g.pe[a] - extent) / g.s[a] + 1 != g.out[a]) return nullptr;
    strides.push_back(g.s[a]);
    kernel.push_back(g.k[a]);
    dilation.push_back(g.d[a] - 1);  // oneDNN counts the gaps
    pad_l.push_back(g.pb[a]);
    pad_r.push_back(g.pe[a]);
  }
  try {
    auto alg = kind == PoolKind::kMax ? dnnl::algorithm::pooling_max
               : include_pad          ? dnnl::algorithm::pooling_avg_include_padding
                                      : dnnl::algorithm::pooling_avg_exclude_padding;
    dnnl::memory::desc src = activation_desc(x, spec.input_layout(0)), dst = activation_desc(y, spec.output_layout(0));
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, alg, src, dst, strides, kernel, dilation,
                                        pad_l, pad_r);
    dnnl::pooling_v2_forward::primitive_desc pd(desc, attr, dnnl_cpu_engine());
    return std::make_unique<DnnlSrcDstKernel>(dnnl::pooling_v2_forward(pd), src, dst, pd.scratchpad_desc(), spec.node,
                                              "pooling");
  } catch (const dnnl::error&) {
    return nullptr;  // a geometry oneDNN refuses: the loop kernel does it
  }
}

Result<std::unique_ptr<Kernel>> make_pool(const KernelSpec& spec, PoolKind kind) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32}));
  const Dims& x = spec.inputs[0].shape.dims();
  if (x.size() < 3 || x.size() > 5)
    return kernel_error(spec, StatusCode::kFeatureUnsupported, "only 1-D to 3-D pooling is supported, got X ", x);
  size_t rank = x.size() - 2;
  LW_ASSIGN_OR_RETURN(ir::SpatialParams p, ir::read_spatial_params(spec.node, rank, nullptr, true, true));
  LW_ASSIGN_OR_RETURN(Dims out, ir::spatial_output_dims(spec.node, p, Dims(x.begin() + 2, x.end())));
  PoolGeometry g;
  g.planes = x[0] * x[1];
  size_t shift = 3 - rank;
  for (size_t a = 0; a < 3; ++a) {
    bool real = a >= shift;
    size_t i = a - shift;
    g.in[a] = real ? x[2 + i] : 1;
    g.out[a] = real ? out[i] : 1;
    g.k[a] = real ? p.kernel[i] : 1;
    g.s[a] = real ? p.strides[i] : 1;
    g.d[a] = real ? p.dilations[i] : 1;
    g.pb[a] = real ? p.pads_begin[i] : 0;
    g.pe[a] = real ? p.pads_end[i] : 0;
  }
  bool include_pad = spec.node.attr_int("count_include_pad", 0) != 0;
  bool indices = kind == PoolKind::kMax && spec.outputs.size() > 1;
  bool column_major = spec.node.attr_int("storage_order", 0) != 0;
  const Layout in = spec.input_layout(0), out_layout = spec.output_layout(0);
  const Dims& y = spec.outputs[0].shape.dims();
  if ((in != Layout::kPlain || out_layout != Layout::kPlain) && (x.size() != 4 || indices))
    return kernel_error(spec, StatusCode::kInternal, "pooling in the convolution layout needs a 4-D input and no Indices output");
  if (!indices && x.size() == 4 && x[1] % 8 == 0 && g.d[1] == 1 && g.d[2] == 1 && avx2_fma_supported()) {
    const Layout pool_layout = in == Layout::kBlocked8 ? Layout::kBlocked8 : Layout::kChannelsLast;
    std::optional<ActivationReorder> to_pool, from_pool;
    if (in != pool_layout) to_pool = describe_activation_reorder(activation_desc(x, in), activation_desc(x, pool_layout));
    if (out_layout != pool_layout)
      from_pool = describe_activation_reorder(activation_desc(y, pool_layout), activation_desc(y, out_layout));
    if ((in == pool_layout || to_pool) && (out_layout == pool_layout || from_pool))
      return make_kernel<GroupedPoolKernel>(g, kind, include_pad, pool_layout == Layout::kBlocked8 ? 8 : x[1], to_pool,
                                            from_pool, spec.num_threads);
  }
  if (auto fast = try_dnnl_pool(spec, g, kind, include_pad, x, y)) return std::unique_ptr<Kernel>(std::move(fast));
  // The loop kernel pools plain planes: blocked data goes through oneDNN reorders.
  DnnlCall blocked_in, blocked_out;
  try {
    if (channel_block(in) != 0) blocked_in = reorder_call(activation_desc(x, in), plain_desc(x));
    if (channel_block(out_layout) != 0) blocked_out = reorder_call(plain_desc(y), activation_desc(y, out_layout));
  } catch (const dnnl::error& e) {
    return dnnl_failure(spec.node, "reorder creation", e);
  }
  return make_kernel<PoolKernel>(g, kind, include_pad, indices, column_major, x[0], in, out_layout,
                                 std::move(blocked_in), std::move(blocked_out), spec.num_threads, spec.node);
}

Result<std::unique_ptr<Kernel>> make_max_pool(const KernelSpec& spec) { return make_pool(spec, PoolKind::kMax); }
Result<std::unique_ptr<Kernel>> make_avg_pool(const KernelSpec& spec) { return make_pool(spec, PoolKind::kAverage); }

class GlobalAveragePoolKernel final : public Kernel {
 public:
  GlobalAveragePoolKernel(int64_t planes, int64_t size, bool max, int64_t channels, Layout layout, int threads)
      : planes_(planes), size_(size), max_(max), channels_(channels), layout_(layout), threads_(threads) {}
  Status run(const KernelRun& r) const override {
    const float* x = static_cast<const float*>(r.inputs[0]);
    float* y = static_cast<float*>(r.outputs[0]);
    if (layout_ != Layout::kPlain) {
      run_channels_inner(x, y);
      return Status::ok();
    }
    parallel_ranges(planes_, threads_for(planes_ * size_, 65536, threads_), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const float* xp = x + p * size_;
        if (max_) {
          float m = -INFINITY;
          for (int64_t i = 0; i < size_; ++i) m = (std::isnan(xp[i]) || xp[i] > m) ? xp[i] : m;
          y[p] = m;
          continue;
        }
        // Eight partial sums: one chain of dependent double adds ran a 112 x 112 plane at a
        // latency per element (EfficientNet-B0's squeeze-and-excitation pools: 1.8 ms a run).
        double part[8] = {};
        int64_t i = 0;
        for (; i + 8 <= size_; i += 8)
          for (int k = 0; k < 8; ++k) part[k] += xp[i + k];
        for (; i < size_; ++i) part[0] += xp[i];
        const double sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
        y[p] = size_ > 0 ? static_cast<float>(sum / static_cast<double>(size_)) : 0.0f;
      }
    });
    return Status::ok();
  }

 private:
  // Channels-last [n][hw][c] or blocked [n][c / B][hw][B]: each work item is a run of channels
  // of one image that lie together at every position (64 channels-last, one block of B
  // blocked), walked over hw, so the inner loop runs along contiguous channels. Sums in double
  // like the plain path.
  void run_channels_inner(const float* x, float* y) const {
    constexpr int64_t kMaxChunk = 64;
    const int64_t block = channel_block(layout_);
    const int64_t chunk = block != 0 ? block : kMaxChunk;  // channels per work item
    const int64_t pitch = block != 0 ? block : channels_;  // floats from one position to the next
    const int64_t batch = planes_ / channels_, chunks = (channels_ + chunk - 1) / chunk;
    parallel_ranges(batch * chunks, threads_for(planes_ * size_, 65536, threads_), [&](int64_t b, int64_t e) {
      double acc[kMaxChunk];
      for (int64_t item = b; item < e; ++item) {
        const int64_t n = item / chunks, c0 = item % chunks * chunk, nc = std::min(chunk, channels_ - c0);
        const float* xp = x + n * size_ * channels_ + (block != 0 ? c0 * size_ : c0);
        for (int64_t c = 0; c < nc; ++c) acc[c] = max_ ? -INFINITY : 0.0;
        for (int64_t i = 0; i < size_; ++i) {
          const float* row = xp + i * pitch;
          if (max_) {
            for (int64_t c = 0; c < nc; ++c) acc[c] = (std::isnan(row[c]) || row[c] > acc[c]) ? row[c] : acc[c];
          } else {
            for (int64_t c = 0; c < nc; ++c) acc[c] += row[c];
          }
        }
        float* yp = y + n * channels_ + c0;
        for (int64_t c = 0; c < nc; ++c)
          yp[c] = max_ ? static_cast<float>(acc[c])
                       : (size_ > 0 ? static_cast<float>(acc[c] / static_cast<double>(size_)) : 0.0f);
      }
    });
  }

  int64_t planes_, size_;
  bool max_;
  int64_t channels_;
  Layout layout_;
  int threads_;
};

Result<std::unique_ptr<Kernel>> make_global_avg_pool(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32}));
  const Dims& x = spec.inputs[0].shape.dims();
  if (x.size() < 3) return kernel_error(spec, StatusCode::kInvalidArgument, "X must have rank >= 3");
  const Layout layout = spec.input_layout(0);
  if (layout != Layout::kPlain && x.size() != 4)
    return kernel_error(spec, StatusCode::kInternal, "global pooling in the convolution layout needs a 4-D input");
  if (channel_block(layout) != 0 && x[1] % channel_block(layout) != 0)
    return kernel_error(spec, StatusCode::kInternal, "blocked input with ", x[1], " channels, not a multiple of the block");
  return make_kernel<GlobalAveragePoolKernel>(x[0] * x[1], numel(Dims(x.begin() + 2, x.end())),
                                              spec.node.op == "GlobalMaxPool", x[1], layout, spec.num_threads);
}

}  // namespace

void register_pool_kernels(std::vector<KernelEntry>& registry) {
  registry.push_back({"MaxPool", make_max_pool});
  registry.push_back({"AveragePool", make_avg_pool});
  registry.push_back({"GlobalAveragePool", make_global_avg_pool});
  registry.push_back({"GlobalMaxPool", make_global_avg_pool});
}

}  // namespace lw::cpu
