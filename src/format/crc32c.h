// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as used for the bundle header and
// segments. Pure functions of their arguments: thread-safe, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lw::format {

// CRC32C of `size` bytes at `data`, continuing from a previous result `crc` (0 to start), so
// crc32c(b, crc32c(a)) == crc32c(a + b). Folds long buffers with carry-less multiplies where
// the CPU has AVX-512 VPCLMULQDQ, uses the SSE4.2 crc32 instruction where it has that, and a
// slicing-by-8 table otherwise.
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

// The table path and the crc32-instruction path alone (the table where the CPU lacks the
// instruction), exposed so tests can check the paths against each other.
uint32_t crc32c_portable(const void* data, size_t size, uint32_t crc = 0);
uint32_t crc32c_instruction(const void* data, size_t size, uint32_t crc = 0);
// True when crc32c() uses the hardware instruction on this machine.
bool crc32c_has_hardware();
// True when crc32c() folds buffers of 1 KB and more with 512-bit carry-less multiplies
// (AVX-512 with VPCLMULQDQ).
bool crc32c_has_clmul512();

}  // namespace lw::format
