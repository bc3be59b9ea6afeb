#include "backends/cpu/dnnl_util.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>

namespace lw::cpu {

const dnnl::engine& dnnl_cpu_engine() {
  static const dnnl::engine* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);  // never destroyed
  return *engine;
}

dnnl::stream& dnnl_thread_stream() {
  thread_local dnnl::stream stream(dnnl_cpu_engine());
  return stream;
}

dnnl::memory::desc plain_desc(const Dims& dims, dnnl::memory::data_type dt) {
  dnnl::memory::dims d(dims.begin(), dims.end());
  dnnl::memory::dims strides(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) strides[i - 1] = strides[i] * std::max<int64_t>(dims[i], 1);
  return dnnl::memory::desc(d, dt, strides);
}

namespace {
std::string desc_key(const dnnl::memory::desc& md) {
  // The descriptor's bytes, hashed: equal layouts from oneDNN give equal bytes.
  const auto* p = reinterpret_cast<const unsigned char*>(&md.data);
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < sizeof(md.data); ++i) h = (h ^ p[i]) * 1099511628211ull;
  char buf[48];
  std::snprintf(buf, sizeof(buf), "dnnl-%016llx-%zu", static_cast<unsigned long long>(h), md.get_size());
  return buf;
}
}  // namespace

namespace {
// oneDNN's convolution weight layouts with one inner block on dim 0 ("Ohwi32o", depthwise
// "Goihw16g"): the packed tensor is [ceil(d0/B)] blocks, each the other dims in the order of
// their strides with B consecutive values of dim 0 innermost, zero past d0. oneDNN's generic
// reorder does this at a fraction of memory speed; this loop reads B source rows as streams
// and writes B-value runs, so it runs at close to memcpy speed. Null when `packed` is another
// kind of layout or `plain` is not dense row-major.
std::function<void(const float*, float*)> block0_packer(const dnnl::memory::desc& plain, const dnnl::memory::desc& packed) {
  const dnnl_memory_desc_t& p = packed.data;
  const dnnl_memory_desc_t& q = plain.data;
  if (p.format_kind != dnnl_blocked || p.data_type != dnnl_f32 || p.offset0 != 0 || p.extra.flags != 0) return nullptr;
  if (q.format_kind != dnnl_blocked || q.format_desc.blocking.inner_nblks != 0 || q.offset0 != 0) return nullptr;
  const auto& blk = p.format_desc.blocking;
  if (blk.inner_nblks != 1 || blk.inner_idxs[0] != 0) return nullptr;
  const int nd = p.ndims;
  if (nd < 2 || nd > 6) return nullptr;
  std::vector<int64_t> dims(p.dims, p.dims + nd), strides(blk.strides, blk.strides + nd);
  for (int k = 1; k < nd; ++k)
    if (p.padded_dims[k] != dims[static_cast<size_t>(k)]) return nullptr;
  // The plain side must be dense row-major.
  int64_t expect = 1;
  for (int k = nd; k-- > 0;) {
    if (q.dims[k] != dims[static_cast<size_t>(k)] || (dims[static_cast<size_t>(k)] > 1 && q.format_desc.blocking.strides[k] != expect))
      return nullptr;
    expect *= dims[static_cast<size_t>(k)];
  }
  const int64_t block = blk.inner_blks[0];
  const int64_t blocks = p.padded_dims[0] / block;
  int64_t row = 1;
  for (int k = 1; k < nd; ++k) row *= dims[static_cast<size_t>(k)];
  // Every (block, other-dims) run of `block` values must fit the packed size.
  if (blocks * row * block * static_cast<int64_t>(sizeof(float)) != static_cast<int64_t>(packed.get_size())) return nullptr;
  return [dims, strides, block, blocks, row, nd](const float* src, float* dst) {
    const int64_t d0 = dims[0];
#pragma omp parallel for schedule(static)
    for (int64_t ob = 0; ob < blocks; ++ob) {
      int64_t idx[6] = {0, 0, 0, 0, 0, 0};
      int64_t out = ob * strides[0];
      const int64_t valid = std::min<int64_t>(block, d0 - ob * block);
      const float* rows = src + ob * block * row;
      for (int64_t pos = 0; pos < row; ++pos) {
        float* o = dst + out;
        int64_t b = 0;
        for (; b < valid; ++b) o[b] = rows[b * row + pos];
        for (; b < block; ++b) o[b] = 0.0f;
        // Next index over dims 1..nd-1 in row-major order; keep `out` in step.
        for (int k = nd - 1; k >= 1; --k) {
          out += strides[static_cast<size_t>(k)];
          if (++idx[k] < dims[static_cast<size_t>(k)]) break;
          out -= strides[static_cast<size_t>(k)] * dims[static_cast<size_t>(k)];
          idx[k] = 0;
        }
      }
    }
  };
}

}  // namespace

std::shared_ptr<PackedLayout> make_weight_packing(const dnnl::memory::desc& plain, const dnnl::memory::desc& packed) {
  auto layout = std::make_shared<PackedLayout>();
  layout->key = desc_key(packed);
  layout->bytes = packed.get_size();
  layout->native = std::make_shared<dnnl::memory::desc>(packed);
  if (auto packer = block0_packer(plain, packed)) {
    layout->pack = [packer](const void* src, void* dst) -> Status {
      packer(static_cast<const float*>(src), static_cast<float*>(dst));
      return Status::ok();
    };
    return layout;
  }
  auto prim = std::make_shared<dnnl::reorder>(
      dnnl::reorder::primitive_desc(dnnl_cpu_engine(), plain, dnnl_cpu_engine(), packed));
  layout->pack = [plain, packed, prim](const void* src, void* dst) -> Status {
    try {
      const dnnl::engine& eng = dnnl_cpu_engine();
      dnnl::memory a(plain, eng, const_cast<void*>(src)), b(packed, eng, dst);
      dnnl::stream& s = dnnl_thread_stream();
      prim->execute(s, a, b);
      s.wait();
    } catch (const dnnl::error& e) {
      return make_error(StatusCode::kInternal, "oneDNN weight reorder failed: ", e.what());
    }
    return Status::ok();
  };
  return layout;
}

Status dnnl_failure(const ir::Node& node, const char* what, const dnnl::error& e) {
  return make_error(StatusCode::kInternal, "node '", node.name, "' (", node.op, "): oneDNN ", what,
                    " failed: ", e.what(), " (status ", static_cast<int>(e.status), ")");
}

}  // namespace lw::cpu
