#include "backends/cpu/dnnl_util.h"

#include <omp.h>

#include <cstdio>
#include <cstring>

#include "backends/cpu/blocked_pack.h"

namespace lw::cpu {

const dnnl::engine& dnnl_cpu_engine() {
  static const dnnl::engine* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);  // never destroyed
  return *engine;
}

DnnlCall reorder_call(const dnnl::memory::desc& from, const dnnl::memory::desc& to) {
  if (auto own = describe_activation_reorder(from, to)) return DnnlCall(*own);
  return DnnlCall(dnnl::reorder(dnnl::reorder::primitive_desc(dnnl_cpu_engine(), from, dnnl_cpu_engine(), to)),
                  {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
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

dnnl::memory::format_tag channels_last_tag(size_t rank) {
  using tag = dnnl::memory::format_tag;
  return rank == 3 ? tag::nwc : rank == 4 ? tag::nhwc : tag::ndhwc;
}

dnnl::memory::desc activation_desc(const Dims& dims, Layout layout) {
  using tag = dnnl::memory::format_tag;
  const dnnl::memory::dims d(dims.begin(), dims.end());
  const auto f32 = dnnl::memory::data_type::f32;
  switch (layout) {
    case Layout::kChannelsLast:
      return dnnl::memory::desc(d, f32, channels_last_tag(dims.size()));
    case Layout::kBlocked8:
      return dnnl::memory::desc(d, f32, dims.size() == 3 ? tag::nCw8c : dims.size() == 4 ? tag::nChw8c : tag::nCdhw8c);
    case Layout::kBlocked16:
      return dnnl::memory::desc(d, f32, dims.size() == 3 ? tag::nCw16c : dims.size() == 4 ? tag::nChw16c : tag::nCdhw16c);
    case Layout::kPlain:
      break;
  }
  return plain_desc(dims);
}

Layout preferred_conv_activation_layout() {
  static const Layout preferred = [] {
    try {
      // A 3 x 3 convolution of ResNet's second stage, every layout left to oneDNN.
      using tag = dnnl::memory::format_tag;
      const auto f32 = dnnl::memory::data_type::f32;
      dnnl::memory::desc src({1, 64, 56, 56}, f32, tag::any), wei({64, 64, 3, 3}, f32, tag::any),
          dst({1, 64, 56, 56}, f32, tag::any);
      dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                           src, wei, dst, {1, 1}, {0, 0}, {1, 1}, {1, 1});
      dnnl::convolution_forward::primitive_desc pd(desc, dnnl_cpu_engine());
      for (Layout l : {Layout::kBlocked8, Layout::kBlocked16, Layout::kChannelsLast})
        if (pd.src_desc() == activation_desc({1, 64, 56, 56}, l)) return l;
    } catch (const dnnl::error&) {
    }
    return Layout::kChannelsLast;
  }();
  return preferred;
}

bool avx512_allowed() {
  static const bool allowed = [] {
    const auto isa = static_cast<unsigned>(dnnl_get_effective_cpu_isa());
    const auto core = static_cast<unsigned>(dnnl_cpu_isa_avx512_core);
    return (isa & core) == core && __builtin_cpu_supports("avx512f");
  }();
  return allowed;
}

bool avx2_fma_supported() {
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported;
}

namespace {
std::string desc_key(const dnnl::memory::desc& md) {
  // The descriptor's bytes, hashed: equal layouts from oneDNN give equal bytes. FNV-1a over
  // 8-byte words (a byte at a time took a microsecond of each conv's setup for its ~700 bytes).
  static_assert(sizeof(md.data) % sizeof(uint64_t) == 0, "the descriptor is a whole number of words");
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < sizeof(md.data); i += sizeof(uint64_t)) {
    uint64_t word;
    std::memcpy(&word, reinterpret_cast<const unsigned char*>(&md.data) + i, sizeof(word));
    h = (h ^ word) * 1099511628211ull;
  }
  char buf[48];
  std::snprintf(buf, sizeof(buf), "dnnl-%016llx-%zu", static_cast<unsigned long long>(h), md.get_size());
  return buf;
}
}  // namespace

std::shared_ptr<PackedLayout> make_weight_packing(const dnnl::memory::desc& plain, const dnnl::memory::desc& packed) {
  auto layout = std::make_shared<PackedLayout>();
  layout->key = desc_key(packed);
  layout->bytes = packed.get_size();
  layout->native = std::make_shared<dnnl::memory::desc>(packed);
  // Whatever writes the packed bytes below, they follow `packed`, so one oneDNN reorder reads
  // them back. Created per call: unpacking is rare (saving weights), and load stays as fast.
  layout->unpack = [plain, packed](const void* src, void* dst) -> Status {
    try {
      const dnnl::engine& eng = dnnl_cpu_engine();
      dnnl::reorder prim(dnnl::reorder::primitive_desc(eng, packed, eng, plain));
      dnnl::memory a(packed, eng, const_cast<void*>(src)), b(plain, eng, dst);
      dnnl::stream& s = dnnl_thread_stream();
      prim.execute(s, a, b);
      s.wait();
    } catch (const dnnl::error& e) {
      return make_error(StatusCode::kInternal, "oneDNN weight reorder back to the plain layout failed: ", e.what());
    }
    return Status::ok();
  };
  auto tiles = describe_blocked_2d(plain, packed);
  if (!tiles) tiles = describe_pointwise_conv_2d(plain, packed);
  if (tiles) {
    layout->pack = [p = *tiles](const void* src, void* dst, StoreMode mode) -> Status {
      pack_blocked_2d(p, static_cast<const float*>(src), static_cast<float*>(dst), omp_get_max_threads(), mode);
      return Status::ok();
    };
    return layout;
  }
  if (auto rows = describe_blocked_rows(plain, packed)) {
    layout->pack = [p = std::make_shared<const BlockedRowsPacking>(std::move(*rows))](const void* src, void* dst, StoreMode mode) -> Status {
      pack_blocked_rows(*p, static_cast<const float*>(src), static_cast<float*>(dst), omp_get_max_threads(), mode);
      return Status::ok();
    };
    return layout;
  }
  auto prim = std::make_shared<dnnl::reorder>(
      dnnl::reorder::primitive_desc(dnnl_cpu_engine(), plain, dnnl_cpu_engine(), packed));
  layout->pack = [plain, packed, prim](const void* src, void* dst, StoreMode) -> Status {
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

DnnlSrcDstKernel::DnnlSrcDstKernel(dnnl::primitive prim, dnnl::memory::desc src, dnnl::memory::desc dst,
                                   dnnl::memory::desc scratch, const ir::Node& node, const char* what)
    : scratch_bytes_(scratch.get_size()), name_(node.name), op_(node.op), what_(what) {
  std::vector<DnnlCall::Arg> args = {{DNNL_ARG_SRC, std::move(src)}, {DNNL_ARG_DST, std::move(dst)}};
  if (scratch_bytes_) args.push_back({DNNL_ARG_SCRATCHPAD, std::move(scratch)});
  call_ = DnnlCall(std::move(prim), std::move(args));
}

Status DnnlSrcDstKernel::run(const KernelRun& r) const {
  try {
    if (scratch_bytes_)
      call_.run({r.inputs[0], r.outputs[0], r.scratch});
    else
      call_.run({r.inputs[0], r.outputs[0]});
  } catch (const dnnl::error& e) {
    return make_error(StatusCode::kInternal, "node '", name_, "' (", op_, "): oneDNN ", what_, " failed: ", e.what());
  }
  return Status::ok();
}

Status dnnl_failure(const ir::Node& node, const char* what, const dnnl::error& e) {
  return make_error(StatusCode::kInternal, "node '", node.name, "' (", node.op, "): oneDNN ", what,
                    " failed: ", e.what(), " (status ", static_cast<int>(e.status), ")");
}

}  // namespace lw::cpu
