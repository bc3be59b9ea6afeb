// A process-wide cache of oneDNN convolution primitive descriptors.
//
// Creating a convolution's primitive descriptor walks oneDNN's implementation list, and each
// jit implementation works out its blocking for the shape before it accepts or declines: 20-60 us
// per attempt, several attempts per convolution (liveweight tries layouts and post-op forms in
// turn). A process that loads the same model again (a reload, a second session, a bundle holding
// a graph twice) asked the same questions each time: MobileNet v2's 53 convolutions took about a
// fifth of a load with init at one thread. oneDNN caches primitives, not descriptors.
//
// The key is everything the answer depends on: the operation descriptor (shapes, layouts,
// strides, pads, data types: a plain struct, compared byte for byte), the attributes (scratchpad
// mode, output scales, every post-op and its parameters) and the thread count oneDNN sees at
// creation (its jit kernels choose their blocking by it). "No implementation" is cached as well.
// A hit returns a clone, so that no two kernels share one descriptor object.
//
// Thread-safe. At most kConvPdCacheCapacity entries; the oldest goes first. Entries live until
// evicted or the process ends (oneDNN's engine is never destroyed either).
#pragma once

#include <cstddef>
#include <cstdint>

#include "oneapi/dnnl/dnnl.hpp"

namespace lw::cpu {

inline constexpr size_t kConvPdCacheCapacity = 1024;

// The first implementation oneDNN has for `desc` with `attr` on dnnl_cpu_engine(), as
// dnnl::convolution_forward::primitive_desc(desc, attr, engine) would return it. Throws
// dnnl::error when there is none (also when that answer came from the cache). Attributes with a
// post-op this cache cannot describe are passed to oneDNN uncached.
dnnl::convolution_forward::primitive_desc cached_conv_primitive_desc(const dnnl::convolution_forward::desc& desc,
                                                                     const dnnl::primitive_attr& attr);

struct ConvPdCacheStats {
  uint64_t hits = 0, misses = 0;
  size_t entries = 0;
};
ConvPdCacheStats conv_pd_cache_stats();

}  // namespace lw::cpu
