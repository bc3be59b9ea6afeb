// The fixed 64-byte header at the start of a bundle file (layout in docs/format.md).
// Plain value types and pure functions: thread-safe, no allocation beyond error messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "liveweight/status.h"

namespace lw::format {

inline constexpr uint32_t kFlagIsBundle = 1u << 0;

// Byte offsets of the header fields.
inline constexpr size_t kHeaderMajorOffset = 8;
inline constexpr size_t kHeaderMinorOffset = 10;
inline constexpr size_t kHeaderFlagsOffset = 12;
inline constexpr size_t kHeaderProgramOffset = 16;
inline constexpr size_t kHeaderProgramSizeOffset = 24;
inline constexpr size_t kHeaderDataOffset = 32;
inline constexpr size_t kHeaderDataSizeOffset = 40;
inline constexpr size_t kHeaderFileSizeOffset = 48;
inline constexpr size_t kHeaderCrcOffset = 56;

struct BundleHeader {
  uint16_t major = 0;
  uint16_t minor = 0;
  uint32_t flags = 0;
  uint64_t program_offset = 0;
  uint64_t program_size = 0;
  uint64_t data_offset = 0;
  uint64_t data_size = 0;
  uint64_t file_size = 0;
  uint32_t crc32c = 0;
};

// "0x1234abcd", for checksum messages.
std::string hex32(uint32_t v);

// Writes the magic, the fields and the header CRC (computed here) into out[0..64).
void encode_header(const BundleHeader& header, uint8_t* out);

// CRC32C over the 64 header bytes with the CRC field itself taken as zero.
uint32_t header_crc(const uint8_t* header_bytes);

// Decodes and validates the header of a `file_size`-byte file: size, magic (kInvalidFile when
// absent), major version, CRC, and that the program and data area lie inside the file, in
// order, aligned, without overflow. Everything else is kParseModel.
Result<BundleHeader> decode_header(const uint8_t* file, size_t file_size);

}  // namespace lw::format
