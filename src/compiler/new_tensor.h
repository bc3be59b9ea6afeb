// Fresh tensors for the compiler's rewrites (constant folding, BatchNorm folding): heap blocks
// the rewrite fills once, then read-only like every other Const.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/blob.h"
#include "graph/ir.h"

namespace lw::compiler {

// A fresh, 64-byte-aligned block of `size` bytes (at least 1 so it has an address);
// kOutOfMemory when it cannot be allocated.
Result<Blob> new_blob(size_t size);

// A tensor of `dtype` and `dims` over a fresh block (contents unset).
Result<ir::TensorData> new_tensor(DType dtype, const Dims& dims);

// The bytes of a block made by new_blob, to fill before it is shared.
inline uint8_t* writable(const Blob& b) { return const_cast<uint8_t*>(b.data); }

}  // namespace lw::compiler
