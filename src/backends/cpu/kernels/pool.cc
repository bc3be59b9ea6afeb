// Pooling kernels: MaxPool (dilations, ceil_mode, optional Indices output), AveragePool
// (count_include_pad, ceil_mode) and GlobalAveragePool. 1-D and 2-D pools run as 3-D ones
// with leading unit dims; each (n, c) plane is independent and planes run in parallel.
#include <cmath>
#include <limits>

#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/kernels.h"
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

class PoolKernel final : public Kernel {
 public:
  PoolKernel(PoolGeometry g, PoolKind kind, bool count_include_pad, bool indices, bool column_major, int threads)
      : g_(g), kind_(kind), include_pad_(count_include_pad), indices_(indices), column_major_(column_major),
        threads_(threads) {}

  Status run(const KernelRun& r) const override {
    const float* x = static_cast<const float*>(r.inputs[0]);
    float* y = static_cast<float*>(r.outputs[0]);
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
    return Status::ok();
  }

 private:
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
  int threads_;
};

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
  return make_kernel<PoolKernel>(g, kind, include_pad, indices, column_major, spec.num_threads);
}

Result<std::unique_ptr<Kernel>> make_max_pool(const KernelSpec& spec) { return make_pool(spec, PoolKind::kMax); }
Result<std::unique_ptr<Kernel>> make_avg_pool(const KernelSpec& spec) { return make_pool(spec, PoolKind::kAverage); }

class GlobalAveragePoolKernel final : public Kernel {
 public:
  GlobalAveragePoolKernel(int64_t planes, int64_t size, bool max, int threads)
      : planes_(planes), size_(size), max_(max), threads_(threads) {}
  Status run(const KernelRun& r) const override {
    const float* x = static_cast<const float*>(r.inputs[0]);
    float* y = static_cast<float*>(r.outputs[0]);
    parallel_ranges(planes_, threads_for(planes_ * size_, 65536, threads_), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const float* xp = x + p * size_;
        if (max_) {
          float m = -INFINITY;
          for (int64_t i = 0; i < size_; ++i) m = (std::isnan(xp[i]) || xp[i] > m) ? xp[i] : m;
          y[p] = m;
          continue;
        }
        double sum = 0.0;
        for (int64_t i = 0; i < size_; ++i) sum += xp[i];
        y[p] = size_ > 0 ? static_cast<float>(sum / static_cast<double>(size_)) : 0.0f;
      }
    });
    return Status::ok();
  }

 private:
  int64_t planes_, size_;
  bool max_;
  int threads_;
};

Result<std::unique_ptr<Kernel>> make_global_avg_pool(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32}));
  const Dims& x = spec.inputs[0].shape.dims();
  if (x.size() < 3) return kernel_error(spec, StatusCode::kInvalidArgument, "X must have rank >= 3");
  return make_kernel<GlobalAveragePoolKernel>(x[0] * x[1], numel(Dims(x.begin() + 2, x.end())),
                                              spec.node.op == "GlobalMaxPool", spec.num_threads);
}

}  // namespace

void register_pool_kernels(std::vector<KernelEntry>& registry) {
  registry.push_back({"MaxPool", make_max_pool});
  registry.push_back({"AveragePool", make_avg_pool});
  registry.push_back({"GlobalAveragePool", make_global_avg_pool});
  registry.push_back({"GlobalMaxPool", make_global_avg_pool});
}

}  // namespace lw::cpu
