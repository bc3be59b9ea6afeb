// The fused attention node (compiler/passes/attention_fusion.h): o = softmax(scale * q k^T
// [+ mask]) v per batch entry, q [M, D], k [N, D], v [N, Dv], o [M, Dv], each a strided view of
// its tensor (the Transposes, Slices and Reshapes the pass folded): q's, v's and o's rows
// contiguous, k's any way round; the mask broadcast to the scores.
//
// Work items are (batch entry, block of q's rows); a thread packs the entry's k^T and v into
// packed_gemm's panels once and keeps them for its following blocks of the same entry, then per
// block computes the [rows, N] scores with packed_gemm, takes each row's softmax while the block
// is in cache and multiplies it by v straight into o. The scores never leave the thread's
// scratch, which is what the unfused graph pays for: a Transpose of k, the score matrix written
// and read by a separate Softmax, and two batched oneDNN matmuls.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/kernels.h"
#include "backends/cpu/kernels/packed_gemm.h"
#include "backends/cpu/kernels/vector_math.h"
#include "backends/cpu/transpose_8x8.h"
#include "compiler/passes/attention_fusion.h"
#include "graph/ops/tensor_geometry.h"

namespace lw::cpu {

namespace {

constexpr int64_t kPanel = kPackedGemmPanel;
// Scores per thread block: 16K floats (64 KB) stay in L2 between the two products.
constexpr int64_t kScoreFloats = 16384;
// Rows per block at least: packed_gemm's register block is 6 rows.
constexpr int64_t kMinRows = 6;

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

__attribute__((target("avx2,fma"))) inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) inline float horizontal_max(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// s[j] = e^(scale * s[j] + shift) over one row of n values, in place (every exponent <= 0);
// returns their sum. Two vectors a step: the exponential is a chain of about 15 dependent
// operations, so two independent ones keep more of the FMA units busy.
__attribute__((target("avx2,fma"))) float exp_sum_row(float* s, int64_t n, float scale, float shift) {
  const int64_t n8 = n / 8 * 8;
  const __m256 vscale = _mm256_set1_ps(scale), vshift = _mm256_set1_ps(shift);
  __m256 vsum = _mm256_setzero_ps(), vsum2 = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 16 <= n8; j += 16) {
    const __m256 e = exp_nonpositive(_mm256_fmadd_ps(_mm256_loadu_ps(s + j), vscale, vshift));
    const __m256 e2 = exp_nonpositive(_mm256_fmadd_ps(_mm256_loadu_ps(s + j + 8), vscale, vshift));
    _mm256_storeu_ps(s + j, e);
    _mm256_storeu_ps(s + j + 8, e2);
    vsum = _mm256_add_ps(vsum, e);
    vsum2 = _mm256_add_ps(vsum2, e2);
  }
  for (; j < n8; j += 8) {
    const __m256 e = exp_nonpositive(_mm256_fmadd_ps(_mm256_loadu_ps(s + j), vscale, vshift));
    _mm256_storeu_ps(s + j, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  float sum = horizontal_sum(_mm256_add_ps(vsum, vsum2));
  for (; j < n; ++j) {
    s[j] = std::exp(std::fma(s[j], scale, shift));
    sum += s[j];
  }
  return sum;
}

// s[j] = e^(scale * s[j] - max_j(scale * s[j])) over one row of n scores, in place; returns
// their sum, by which the caller divides the row's output (fewer columns than n, and no third
// pass over the scores). A NaN score escapes the maximum but not the exponentials: it makes the
// sum, so the whole row, NaN, as the unfused Softmax does.
__attribute__((target("avx2,fma"))) float exp_row(float* s, int64_t n, float scale) {
  const int64_t n8 = n / 8 * 8;
  __m256 vmax = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  __m256 vmin = _mm256_set1_ps(std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < n8; j += 8) {
    const __m256 x = _mm256_loadu_ps(s + j);
    vmax = _mm256_max_ps(vmax, x);
    vmin = _mm256_min_ps(vmin, x);
  }
  float mx = horizontal_max(vmax), mn = -horizontal_max(_mm256_sub_ps(_mm256_setzero_ps(), vmin));
  for (int64_t j = n8; j < n; ++j) {
    mx = std::max(mx, s[j]);
    mn = std::min(mn, s[j]);
  }
  // The largest of scale * s: scale times the largest s, or times the smallest for scale < 0.
  return exp_sum_row(s, n, scale, -scale * (scale >= 0 ? mx : mn));
}

// k^T [d, n] into packed_gemm's panels (16 keys each, d rows of 16, zeros past n), from k with
// key j, element q at k[j * key_stride + q * elem_stride]: whole 8 x 8 blocks transposed in
// registers where k's rows are contiguous, as in the [S, H, D] layout the heads come from.
LW_TARGET_AVX2 void pack_keys(const float* k, int64_t n, int64_t d, int64_t key_stride, int64_t elem_stride,
                              float* dst) {
  for (int64_t p = 0; p * kPanel < n; ++p) {
    float* out = dst + p * d * kPanel;
    const int64_t j0 = p * kPanel, cols = std::min(kPanel, n - j0);
    if (cols < kPanel) std::memset(out, 0, static_cast<size_t>(d * kPanel) * sizeof(float));
    if (key_stride == 1) {  // k^T's rows are contiguous
      for (int64_t q = 0; q < d; ++q) {
        const float* from = k + j0 + q * elem_stride;
        if (cols == kPanel) {
          _mm256_storeu_ps(out + q * kPanel, _mm256_loadu_ps(from));
          _mm256_storeu_ps(out + q * kPanel + 8, _mm256_loadu_ps(from + 8));
        } else {
          std::memcpy(out + q * kPanel, from, static_cast<size_t>(cols) * sizeof(float));
        }
      }
      continue;
    }
    int64_t j = 0;
    if (elem_stride == 1) {
      for (; j + 8 <= cols; j += 8) {
        int64_t q = 0;
        for (; q + 8 <= d; q += 8)
          transpose_8x8(k + (j0 + j) * key_stride + q, key_stride, [&](int c) { return out + (q + c) * kPanel + j; });
        for (; q < d; ++q)
          for (int64_t c = 0; c < 8; ++c) out[q * kPanel + j + c] = k[(j0 + j + c) * key_stride + q];
      }
    }
    for (; j < cols; ++j) {
      const float* key = k + (j0 + j) * key_stride;
      for (int64_t q = 0; q < d; ++q) out[q * kPanel + j] = key[q * elem_stride];
    }
  }
}

// v [n, dv] (rows `row_stride` apart, contiguous) into packed_gemm's panels (16 columns each,
// n rows of 16, zeros past dv).
LW_TARGET_AVX2 void pack_values(const float* v, int64_t n, int64_t dv, int64_t row_stride, float* dst) {
  for (int64_t p = 0; p * kPanel < dv; ++p) {
    float* out = dst + p * n * kPanel;
    const int64_t c0 = p * kPanel, cols = std::min(kPanel, dv - c0);
    if (cols == kPanel) {
      for (int64_t r = 0; r < n; ++r) {
        _mm256_storeu_ps(out + r * kPanel, _mm256_loadu_ps(v + r * row_stride + c0));
        _mm256_storeu_ps(out + r * kPanel + 8, _mm256_loadu_ps(v + r * row_stride + c0 + 8));
      }
      continue;
    }
    for (int64_t r = 0; r < n; ++r) {
      std::memcpy(out + r * kPanel, v + r * row_stride + c0, static_cast<size_t>(cols) * sizeof(float));
      std::memset(out + r * kPanel + cols, 0, static_cast<size_t>(kPanel - cols) * sizeof(float));
    }
  }
}

// exp_row for scores with an additive mask: s[j] = e^(x_j - max x) with x_j = scale * s[j] +
// mask[j * mask_col] (mask_col 0: one value for the whole row). Two passes, since the mask moves
// the maximum.
__attribute__((target("avx2,fma"))) float exp_row_masked(float* s, int64_t n, float scale, const float* mask,
                                                        int64_t mask_col) {
  const int64_t n8 = n / 8 * 8;
  const __m256 vscale = _mm256_set1_ps(scale);
  __m256 vmax = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < n8; j += 8) {
    const __m256 m = mask_col ? _mm256_loadu_ps(mask + j) : _mm256_set1_ps(mask[0]);
    const __m256 x = _mm256_fmadd_ps(_mm256_loadu_ps(s + j), vscale, m);
    _mm256_storeu_ps(s + j, x);
    vmax = _mm256_max_ps(vmax, x);
  }
  float mx = horizontal_max(vmax);
  for (int64_t j = n8; j < n; ++j) {
    s[j] = std::fma(s[j], scale, mask[j * mask_col]);
    mx = std::max(mx, s[j]);
  }
  return exp_sum_row(s, n, 1.0f, -mx);
}

// Divides each of `rows` output rows (dv floats, `stride` apart) by its row's sum.
LW_TARGET_AVX2 void normalize_rows(float* o, int64_t rows, int64_t dv, int64_t stride, const float* sums) {
  const int64_t dv8 = dv / 8 * 8;
  for (int64_t i = 0; i < rows; ++i) {
    float* row = o + i * stride;
    const float inv = 1.0f / sums[i];
    const __m256 vinv = _mm256_set1_ps(inv);
    for (int64_t c = 0; c < dv8; c += 8) _mm256_storeu_ps(row + c, _mm256_mul_ps(_mm256_loadu_ps(row + c), vinv));
    for (int64_t c = dv8; c < dv; ++c) row[c] *= inv;
  }
}

// Where an operand's elements are: batch entry b's matrix starts at batch[b] (entries in
// row-major order of the batch dims), its element (r, c) at + r * row + c * col.
struct Strided {
  std::vector<int64_t> batch;
  int64_t row = 0, col = 0;
};

// A view of `dims` (logical) with `strides` as Strided.
Strided strided(const Dims& dims, const std::vector<int64_t>& strides) {
  const size_t rank = dims.size();
  Strided s;
  s.row = strides[rank - 2];
  s.col = strides[rank - 1];
  s.batch = {0};
  for (size_t i = 0; i + 2 < rank; ++i) {  // outer dims first: row-major order of the entries
    std::vector<int64_t> next;
    next.reserve(s.batch.size() * static_cast<size_t>(dims[i]));
    for (int64_t base : s.batch)
      for (int64_t x = 0; x < dims[i]; ++x) next.push_back(base + x * strides[i]);
    s.batch = std::move(next);
  }
  return s;
}

std::vector<int64_t> contiguous_strides(const Dims& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

class AttentionKernel final : public Kernel {
 public:
  // `mask`: where the additive mask's values for each score are (its batch offsets, row and
  // column strides, 0 along dims it broadcasts), when `has_mask`.
  AttentionKernel(Strided q, Strided k, Strided v, Strided o, bool has_mask, Strided mask, int64_t m, int64_t n,
                  int64_t d, int64_t dv, float scale, int threads)
      : q_(std::move(q)), k_(std::move(k)), v_(std::move(v)), o_(std::move(o)), mask_(std::move(mask)), m_(m), n_(n),
        d_(d), dv_(dv), scale_(scale), has_mask_(has_mask) {
    const int64_t batch = static_cast<int64_t>(q_.batch.size());
    // Blocks of q's rows: as many rows as keep a block's scores within kScoreFloats, and enough
    // blocks that every thread gets work when the batch alone does not give it.
    const int64_t most_rows = std::max(kMinRows, kScoreFloats / n);
    int64_t blocks = (m + most_rows - 1) / most_rows;
    if (batch * blocks < threads)
      blocks = std::max(blocks, std::min((m + kMinRows - 1) / kMinRows, (threads + batch - 1) / batch));
    rows_ = (m + blocks - 1) / blocks;
    blocks_ = (m + rows_ - 1) / rows_;
    threads_ = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, batch * blocks_)));
    key_floats_ = round_up(d * round_up(n, kPanel), 16);
    value_floats_ = round_up(n * round_up(dv, kPanel), 16);
    score_floats_ = round_up(rows_ * n, 16);
    thread_floats_ = key_floats_ + value_floats_ + score_floats_ + round_up(rows_, 16);
  }

  size_t scratch_bytes() const override {
    return static_cast<size_t>(threads_) * static_cast<size_t>(thread_floats_) * sizeof(float);
  }

  Status run(const KernelRun& r) const override {
    const float* q = static_cast<const float*>(r.inputs[0]);
    const float* k = static_cast<const float*>(r.inputs[1]);
    const float* v = static_cast<const float*>(r.inputs[2]);
    float* o = static_cast<float*>(r.outputs[0]);
    const float* mask = has_mask_ ? static_cast<const float*>(r.inputs[3]) : nullptr;
    const float inf = std::numeric_limits<float>::infinity();
    const int64_t items = static_cast<int64_t>(q_.batch.size()) * blocks_;
    // One slice of the items per scratch slot, the slot by index (not omp_get_thread_num(),
    // which names the caller's own team when the range runs inline inside its parallel region).
    auto run_slot = [&](int64_t slot) {
      float* keys = static_cast<float*>(r.scratch) + slot * thread_floats_;
      float* values = keys + key_floats_;
      float* scores = values + value_floats_;
      float* sums = scores + score_floats_;
      size_t packed = SIZE_MAX;  // the batch entry whose k and v are in this slot's panels
      for (int64_t item = items * slot / threads_; item < items * (slot + 1) / threads_; ++item) {
        const size_t b = static_cast<size_t>(item / blocks_);
        const int64_t i0 = item % blocks_ * rows_, rows = std::min(rows_, m_ - i0);
        if (b != packed) {
          pack_keys(k + k_.batch[b], n_, d_, k_.row, k_.col, keys);
          pack_values(v + v_.batch[b], n_, dv_, v_.row, values);
          packed = b;
        }
        packed_gemm(q + q_.batch[b] + i0 * q_.row, q_.row, keys, nullptr, scores, n_, rows, d_, n_, -inf, inf, 1);
        if (mask) {
          const float* mask_rows = mask + mask_.batch[b] + i0 * mask_.row;
          for (int64_t i = 0; i < rows; ++i)
            sums[i] = exp_row_masked(scores + i * n_, n_, scale_, mask_rows + i * mask_.row, mask_.col);
        } else {
          for (int64_t i = 0; i < rows; ++i) sums[i] = exp_row(scores + i * n_, n_, scale_);
        }
        float* out = o + o_.batch[b] + i0 * o_.row;
        packed_gemm(scores, n_, values, nullptr, out, o_.row, rows, n_, dv_, -inf, inf, 1);
        normalize_rows(out, rows, dv_, o_.row, sums);
      }
    };
    parallel_ranges(threads_, threads_, [&](int64_t s0, int64_t s1) {
      for (int64_t slot = s0; slot < s1; ++slot) run_slot(slot);
    });
    return Status::ok();
  }

 private:
  Strided q_, k_, v_, o_, mask_;
  int64_t m_, n_, d_, dv_;
  float scale_;
  bool has_mask_;
  int64_t rows_ = 1, blocks_ = 1;
  int threads_ = 1;
  int64_t key_floats_ = 0, value_floats_ = 0, score_floats_ = 0, thread_floats_ = 0;
};

Result<std::unique_ptr<Kernel>> make_attention(const KernelSpec& spec) {
  if (!packed_gemm_supported())
    return kernel_error(spec, StatusCode::kFeatureUnsupported, "the fused attention kernel needs AVX2 and FMA");
  if (spec.inputs.size() < 3 || spec.inputs.size() > 4 || spec.outputs.size() != 1)
    return kernel_error(spec, StatusCode::kInvalidArgument, "expects inputs q, k, v, an optional mask and one output");
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    if (spec.inputs[i].dtype != DType::kFloat32 || spec.input_layout(i) != Layout::kPlain)
      return kernel_error(spec, StatusCode::kUnsupportedDtype, "input ", i, " must be plain float32");
  }
  if (spec.outputs[0].dtype != DType::kFloat32 || spec.output_layout(0) != Layout::kPlain)
    return kernel_error(spec, StatusCode::kUnsupportedDtype, "the output must be plain float32");
  const size_t rank = spec.outputs[0].shape.rank();
  if (rank < 2) return kernel_error(spec, StatusCode::kInvalidArgument, "rank ", rank, " is below 2");
  // Logical dims and strides of each operand: inputs are Transpose(base, perm), where base is
  // the input itself or the view of it in the operand's view attribute; the output value is
  // Transpose(o, perm).
  Dims dims[4];
  std::vector<int64_t> strides[4];
  int64_t offsets[4] = {0, 0, 0, 0};
  const char* perm_names[4] = {passes::kAttrQPerm, passes::kAttrKPerm, passes::kAttrVPerm, passes::kAttrOutPerm};
  const char* view_names[3] = {passes::kAttrQView, passes::kAttrKView, passes::kAttrVView};
  for (size_t x = 0; x < 4; ++x) {
    Dims base = x < 3 ? spec.inputs[x].shape.dims() : spec.outputs[0].shape.dims();
    std::vector<int64_t> base_strides = contiguous_strides(base);
    if (x < 3 && spec.node.has_attr(view_names[x])) {
      const std::vector<int64_t>& view = spec.node.attr_ints(view_names[x]);
      if (view.size() != 1 + 2 * rank)
        return kernel_error(spec, StatusCode::kInvalidArgument, view_names[x], " has ", view.size(),
                            " values, not 1 + 2 x rank ", rank);
      // Every element of the view must lie inside the input.
      int64_t extent = view[0], numel = 1;
      bool valid = view[0] >= 0;
      for (size_t i = 0; i < rank; ++i) {
        const int64_t d = view[1 + i], st = view[1 + rank + i];
        valid = valid && d >= 1 && st >= 0 && (d == 1 || st <= (int64_t{1} << 40) / (d - 1));
        if (valid) extent += (d - 1) * st;
      }
      for (int64_t d : base) numel *= d;
      if (!valid || extent >= numel)
        return kernel_error(spec, StatusCode::kInvalidArgument, view_names[x], " reaches outside input ", x, " (",
                            numel, " elements)");
      offsets[x] = view[0];
      base.assign(view.begin() + 1, view.begin() + 1 + static_cast<int64_t>(rank));
      base_strides.assign(view.begin() + 1 + static_cast<int64_t>(rank), view.end());
    }
    const std::vector<int64_t> perm = ir::perm_attribute(spec.node, perm_names[x], rank, false);
    if (base.size() != rank || perm.empty())
      return kernel_error(spec, StatusCode::kInvalidArgument, "operand ", x, " of rank ", base.size(),
                          " with no valid ", perm_names[x], " for rank ", rank);
    dims[x].resize(rank);
    strides[x].resize(rank);
    for (size_t i = 0; i < rank; ++i) {
      const size_t p = static_cast<size_t>(perm[i]);
      if (x < 3) {
        dims[x][i] = base[p];
        strides[x][i] = base_strides[p];
      } else {
        dims[x][p] = base[i];
        strides[x][p] = base_strides[i];
      }
    }
  }
  const Dims batch_dims(dims[0].begin(), dims[0].end() - 2);
  for (size_t x = 1; x < 4; ++x)
    if (Dims(dims[x].begin(), dims[x].end() - 2) != batch_dims)
      return kernel_error(spec, StatusCode::kInvalidArgument, "q, k, v and the output must share their batch dims");
  const int64_t m = dims[0][rank - 2], d = dims[0][rank - 1], n = dims[1][rank - 2], dv = dims[2][rank - 1];
  if (dims[1][rank - 1] != d || dims[2][rank - 2] != n || dims[3][rank - 2] != m || dims[3][rank - 1] != dv)
    return kernel_error(spec, StatusCode::kInvalidArgument, "shapes of q, k, v and the output do not agree");
  if (m <= 0 || n <= 0 || d <= 0 || dv <= 0) return kernel_error(spec, StatusCode::kInvalidArgument, "empty attention dims");
  if (strides[0][rank - 1] != 1 || strides[2][rank - 1] != 1 || strides[3][rank - 1] != 1)
    return kernel_error(spec, StatusCode::kInvalidArgument, "the rows of q, v and the output must be contiguous");
  Strided views[4];
  for (size_t x = 0; x < 4; ++x) {
    views[x] = strided(dims[x], strides[x]);
    for (int64_t& b : views[x].batch) b += offsets[x];
  }
  // The mask broadcasts to the scores [batch.., m, n] as ONNX's Add does (dims aligned at the
  // end, each 1 or the scores' own).
  const bool has_mask = spec.inputs.size() == 4;
  Strided mask_view;
  if (has_mask) {
    const Dims& md = spec.inputs[3].shape.dims();
    Dims score_dims = batch_dims;
    score_dims.push_back(m);
    score_dims.push_back(n);
    if (md.size() > rank)
      return kernel_error(spec, StatusCode::kInvalidArgument, "the mask's rank ", md.size(), " exceeds the scores' ",
                          rank);
    const std::vector<int64_t> contiguous = contiguous_strides(md);
    std::vector<int64_t> mask_strides(rank, 0);
    for (size_t i = 0; i < md.size(); ++i) {
      const size_t at = rank - md.size() + i;
      if (md[i] != 1 && md[i] != score_dims[at])
        return kernel_error(spec, StatusCode::kInvalidArgument, "the mask ", Shape(md).to_string(),
                            " does not broadcast to the scores ", Shape(score_dims).to_string());
      mask_strides[at] = md[i] == 1 ? 0 : contiguous[i];
    }
    mask_view = strided(score_dims, mask_strides);
  }
  return make_kernel<AttentionKernel>(std::move(views[0]), std::move(views[1]), std::move(views[2]),
                                      std::move(views[3]), has_mask, std::move(mask_view), m, n, d, dv,
                                      spec.node.attr_float(passes::kAttrScale, 1.0f), spec.num_threads);
}

}  // namespace

void register_attention_kernels(std::vector<KernelEntry>& registry) {
  registry.push_back({passes::kOpAttention, make_attention});
}

}  // namespace lw::cpu
