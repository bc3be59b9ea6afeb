#include "format/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace lw::format {

namespace {

constexpr uint32_t kPolyReflected = 0x82F63B78u;

// tables[k][b]: the CRC contribution of byte b followed by k zero bytes (slicing-by-8).
using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables make_tables() {
  Tables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t c = b;
    for (int i = 0; i < 8; ++i) c = (c >> 1) ^ ((c & 1u) ? kPolyReflected : 0u);
    t[0][b] = c;
  }
  for (size_t k = 1; k < 8; ++k)
    for (uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFFu];
  return t;
}

constexpr Tables kTables = make_tables();

uint64_t load_le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);  // the build targets little-endian x86-64 only
  return v;
}

uint32_t update_portable(uint32_t c, const uint8_t* p, size_t n) {
  while (n >= 8) {
    uint64_t w = load_le64(p) ^ c;
    c = kTables[7][w & 0xFF] ^ kTables[6][(w >> 8) & 0xFF] ^ kTables[5][(w >> 16) & 0xFF] ^
        kTables[4][(w >> 24) & 0xFF] ^ kTables[3][(w >> 32) & 0xFF] ^ kTables[2][(w >> 40) & 0xFF] ^
        kTables[1][(w >> 48) & 0xFF] ^ kTables[0][w >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xFF];
  return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t update_hardware_serial(uint32_t c, const uint8_t* p, size_t n) {
  uint64_t c64 = c;
  while (n >= 8) {
    c64 = _mm_crc32_u64(c64, load_le64(p));
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c64);
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

// The crc32 instruction has a latency of 3 cycles and a throughput of 1, so three independent
// streams over consecutive blocks run about three times faster than one. The streams are
// joined with the linear map "append kBlock zero bytes" to a raw CRC state, tabulated once.
constexpr size_t kBlock = 4096;

struct ZeroShift {
  std::array<std::array<uint32_t, 256>, 4> t{};
  uint32_t apply(uint32_t c) const {
    return t[0][c & 0xFF] ^ t[1][(c >> 8) & 0xFF] ^ t[2][(c >> 16) & 0xFF] ^ t[3][c >> 24];
  }
};

ZeroShift make_zero_shift() {
  static const uint8_t zeros[kBlock] = {};
  uint32_t basis[32];
  for (int k = 0; k < 32; ++k) basis[k] = update_hardware_serial(1u << k, zeros, kBlock);
  ZeroShift z;
  for (int byte = 0; byte < 4; ++byte)
    for (uint32_t v = 0; v < 256; ++v) {
      uint32_t out = 0;
      for (int bit = 0; bit < 8; ++bit)
        if (v & (1u << bit)) out ^= basis[byte * 8 + bit];
      z.t[static_cast<size_t>(byte)][v] = out;
    }
  return z;
}

__attribute__((target("sse4.2"))) uint32_t update_hardware(uint32_t c, const uint8_t* p, size_t n) {
  if (n >= 3 * kBlock) {
    static const ZeroShift shift = make_zero_shift();
    while (n >= 3 * kBlock) {
      uint64_t a = c, b = 0, d = 0;
      for (size_t i = 0; i < kBlock; i += 8) {
        a = _mm_crc32_u64(a, load_le64(p + i));
        b = _mm_crc32_u64(b, load_le64(p + kBlock + i));
        d = _mm_crc32_u64(d, load_le64(p + 2 * kBlock + i));
      }
      c = shift.apply(shift.apply(static_cast<uint32_t>(a)) ^ static_cast<uint32_t>(b)) ^ static_cast<uint32_t>(d);
      p += 3 * kBlock;
      n -= 3 * kBlock;
    }
  }
  return update_hardware_serial(c, p, n);
}

bool detect_hardware() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}
#endif

}  // namespace

bool crc32c_has_hardware() {
#if defined(__x86_64__)
  static const bool has = detect_hardware();
  return has;
#else
  return false;
#endif
}

uint32_t crc32c_portable(const void* data, size_t size, uint32_t crc) {
  return ~update_portable(~crc, static_cast<const uint8_t*>(data), size);
}

uint32_t crc32c(const void* data, size_t size, uint32_t crc) {
#if defined(__x86_64__)
  if (crc32c_has_hardware()) return ~update_hardware(~crc, static_cast<const uint8_t*>(data), size);
#endif
  return crc32c_portable(data, size, crc);
}

}  // namespace lw::format
