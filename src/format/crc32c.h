// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as used for the bundle header and
// segments. Pure functions of their arguments: thread-safe, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lw::format {

// CRC32C of `size` bytes at `data`, continuing from a previous result `crc` (0 to start), so
// crc32c(b, crc32c(a)) == crc32c(a + b). Uses the SSE4.2 crc32 instruction when the CPU has
// it, otherwise a slicing-by-8 table.
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

// The table path alone, exposed so tests can check both paths against each other.
uint32_t crc32c_portable(const void* data, size_t size, uint32_t crc = 0);
// True when crc32c() uses the hardware instruction on this machine.
bool crc32c_has_hardware();

}  // namespace lw::format
