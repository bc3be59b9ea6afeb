#include "format/bundle_header.h"

#include <cstdio>
#include <cstring>

#include "format/bundle_io.h"
#include "format/crc32c.h"

namespace lw::format {

namespace {

template <typename T>
void store_le(uint8_t* out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out[i] = static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i));
}

template <typename T>
T load_le(const uint8_t* in) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<uint64_t>(in[i]) << (8 * i);
  return static_cast<T>(v);
}

// Programs are FlatBuffers whose scalars are read in place; 8 keeps every scalar aligned.
constexpr uint64_t kProgramAlign = 8;

}  // namespace

std::string hex32(uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

uint32_t header_crc(const uint8_t* header_bytes) {
  uint8_t copy[kHeaderSize];
  std::memcpy(copy, header_bytes, kHeaderSize);
  std::memset(copy + kHeaderCrcOffset, 0, 4);
  return crc32c(copy, kHeaderSize);
}

void encode_header(const BundleHeader& h, uint8_t* out) {
  std::memset(out, 0, kHeaderSize);
  std::memcpy(out, kMagic, sizeof kMagic);
  store_le<uint16_t>(out + kHeaderMajorOffset, h.major);
  store_le<uint16_t>(out + kHeaderMinorOffset, h.minor);
  store_le<uint32_t>(out + kHeaderFlagsOffset, h.flags);
  store_le<uint64_t>(out + kHeaderProgramOffset, h.program_offset);
  store_le<uint64_t>(out + kHeaderProgramSizeOffset, h.program_size);
  store_le<uint64_t>(out + kHeaderDataOffset, h.data_offset);
  store_le<uint64_t>(out + kHeaderDataSizeOffset, h.data_size);
  store_le<uint64_t>(out + kHeaderFileSizeOffset, h.file_size);
  store_le<uint32_t>(out + kHeaderCrcOffset, header_crc(out));
}

Result<BundleHeader> decode_header(const uint8_t* file, size_t file_size) {
  if (file_size < sizeof kMagic || std::memcmp(file, kMagic, sizeof kMagic) != 0)
    return make_error(StatusCode::kInvalidFile, "not a liveweight bundle (the file does not start with \"LWBUNDLE\")");
  if (file_size < kHeaderSize)
    return make_error(StatusCode::kParseModel, "bundle is truncated: ", file_size, " bytes, shorter than the ",
                      kHeaderSize, "-byte header");
  BundleHeader h;
  h.major = load_le<uint16_t>(file + kHeaderMajorOffset);
  h.minor = load_le<uint16_t>(file + kHeaderMinorOffset);
  h.flags = load_le<uint32_t>(file + kHeaderFlagsOffset);
  h.program_offset = load_le<uint64_t>(file + kHeaderProgramOffset);
  h.program_size = load_le<uint64_t>(file + kHeaderProgramSizeOffset);
  h.data_offset = load_le<uint64_t>(file + kHeaderDataOffset);
  h.data_size = load_le<uint64_t>(file + kHeaderDataSizeOffset);
  h.file_size = load_le<uint64_t>(file + kHeaderFileSizeOffset);
  h.crc32c = load_le<uint32_t>(file + kHeaderCrcOffset);

  // The version comes before the CRC: a future major version may lay out the rest differently.
  if (h.major > kFormatMajor)
    return make_error(StatusCode::kParseModel, "bundle format version ", h.major, ".", h.minor,
                      " is newer than this reader's ", kFormatMajor, ".", kFormatMinor,
                      " (a newer major version is not readable; upgrade liveweight)");
  if (h.major == 0)
    return make_error(StatusCode::kParseModel, "bundle format major version 0 is not valid");
  uint32_t crc = header_crc(file);
  if (crc != h.crc32c)
    return make_error(StatusCode::kParseModel, "bundle header checksum mismatch (stored ", hex32(h.crc32c),
                      ", computed ", hex32(crc), "): the header is corrupt");

  if (h.file_size != file_size) {
    if (h.file_size > file_size)
      return make_error(StatusCode::kParseModel, "bundle is truncated: the header says ", h.file_size,
                        " bytes but only ", file_size, " are present");
    return make_error(StatusCode::kParseModel, "bundle size mismatch: the header says ", h.file_size,
                      " bytes but the file has ", file_size);
  }
  // Every range is checked against the file with subtraction so nothing can overflow.
  if (h.program_offset < kHeaderSize || h.program_offset > file_size ||
      h.program_size > file_size - h.program_offset)
    return make_error(StatusCode::kParseModel, "bundle program range (offset ", h.program_offset, ", size ",
                      h.program_size, ") lies outside the ", file_size, "-byte file");
  if (h.program_offset % kProgramAlign != 0)
    return make_error(StatusCode::kParseModel, "bundle program offset ", h.program_offset, " is not a multiple of ",
                      kProgramAlign);
  uint64_t program_end = h.program_offset + h.program_size;
  if (h.data_offset < program_end || h.data_offset > file_size || h.data_size > file_size - h.data_offset)
    return make_error(StatusCode::kParseModel, "bundle data area (offset ", h.data_offset, ", size ", h.data_size,
                      ") overlaps the program or lies outside the ", file_size, "-byte file");
  if (h.data_offset % kSegmentAlign != 0)
    return make_error(StatusCode::kParseModel, "bundle data area offset ", h.data_offset, " is not a multiple of ",
                      kSegmentAlign);
  return h;
}

}  // namespace lw::format
