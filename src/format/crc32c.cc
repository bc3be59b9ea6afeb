#include "format/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#include <nmmintrin.h>
#endif

namespace lw::format {

namespace {

constexpr uint32_t kPolyReflected = 0x82F63B78u;
constexpr size_t kClmulMinBytes = 1024;

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
      // The next three blocks' lines are requested meanwhile, a line of each per line of these:
      // each block is a page of its own, and the hardware prefetchers do not cross pages, so
      // every block started with misses (14 MB, one thread: 8.4-10.9 -> 16-16.5 GB/s; 64 MB
      // from memory 8.1-9.3 -> 11-11.8 GB/s; 1 MB in L2 16 -> 19-20 GB/s).
      const bool ahead = n >= 6 * kBlock;
      for (size_t line = 0; line < kBlock; line += 64) {
        if (ahead) {
          _mm_prefetch(reinterpret_cast<const char*>(p + 3 * kBlock + line), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(p + 4 * kBlock + line), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(p + 5 * kBlock + line), _MM_HINT_T0);
        }
        for (size_t i = line; i < line + 64; i += 8) {
          a = _mm_crc32_u64(a, load_le64(p + i));
          b = _mm_crc32_u64(b, load_le64(p + kBlock + i));
          d = _mm_crc32_u64(d, load_le64(p + 2 * kBlock + i));
        }
      }
      c = shift.apply(shift.apply(static_cast<uint32_t>(a)) ^ static_cast<uint32_t>(b)) ^ static_cast<uint32_t>(d);
      p += 3 * kBlock;
      n -= 3 * kBlock;
    }
  }
  return update_hardware_serial(c, p, n);
}

// Folding with carry-less multiplies (VPCLMULQDQ on 512-bit registers): the crc32 instruction
// retires 8 bytes a cycle at best (14 MB in 0.5 ms on this machine), these folds about four
// times that, so checksumming a bundle's weights runs at memory speed.
//
// Bits in the reflected order of the CRC: bit k of a 128-bit little-endian block stands for
// x^(127 - k) of the block's polynomial A = H x^64 + L (H the low qword, L the high one). Moving
// A forward by d bits of message is A x^d = H x^(d+64) + L x^d, congruent mod P to
// H (x^(d+63) mod P) x + L (x^(d-1) mod P) x: a 64 x 32-bit carry-less product of bit-reversed
// operands comes out bit-reversed in 127 bits, which read as a 128-bit block is the product
// times x. So one fold is two multiplies by constants derived from P at start-up.
constexpr uint64_t kPolyNormal = 0x1EDC6F41u;  // P = x^32 + this

// x^n mod P, bit i for x^i.
uint32_t x_pow_mod(uint32_t n) {
  uint64_t r = 1;
  for (uint32_t i = 0; i < n; ++i) {
    r <<= 1;
    if (r & (uint64_t{1} << 32)) r ^= (uint64_t{1} << 32) | kPolyNormal;
  }
  return static_cast<uint32_t>(r);
}

// The 64-bit operand for a remainder of degree < 32: bit 63 - i for x^i.
uint64_t reflect64(uint32_t r) {
  uint64_t out = 0;
  for (int i = 0; i < 32; ++i)
    if (r & (1u << i)) out |= uint64_t{1} << (63 - i);
  return out;
}

// Low qword multiplies H (moves by d + 64), high qword L (moves by d).
struct FoldConstant {
  uint64_t lo, hi;
};
FoldConstant fold_by(uint32_t bits) { return {reflect64(x_pow_mod(bits + 63)), reflect64(x_pow_mod(bits - 1))}; }

struct FoldConstants {
  FoldConstant by[17];  // by[k]: a move of 128 k bits (k = 1 .. 16)
};
const FoldConstants& fold_constants() {
  static const FoldConstants c = [] {
    FoldConstants f{};
    for (uint32_t k = 1; k <= 16; ++k) f.by[k] = fold_by(128 * k);
    return f;
  }();
  return c;
}

#define LW_CLMUL512 __attribute__((target("avx512f,vpclmulqdq,pclmul,sse4.2")))
// GCC 12 reports the intrinsics' own _mm512_undefined_*() operands as uninitialized (clang,
// which builds the fuzzers, has no such report).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// Each 128-bit lane of `a` moved forward by the constant's distance.
LW_CLMUL512 inline __m512i fold512(__m512i a, __m512i k) {
  return _mm512_xor_si512(_mm512_clmulepi64_epi128(a, k, 0x00), _mm512_clmulepi64_epi128(a, k, 0x11));
}
LW_CLMUL512 inline __m128i fold128(__m128i a, const FoldConstant& k) {
  const __m128i kk = _mm_set_epi64x(static_cast<long long>(k.hi), static_cast<long long>(k.lo));
  return _mm_xor_si128(_mm_clmulepi64_si128(a, kk, 0x00), _mm_clmulepi64_si128(a, kk, 0x11));
}
LW_CLMUL512 inline __m512i broadcast(const FoldConstant& k) {
  return _mm512_broadcast_i32x4(_mm_set_epi64x(static_cast<long long>(k.hi), static_cast<long long>(k.lo)));
}

// The raw CRC state `c` continued over n >= 256 bytes: whole 256-byte blocks folded in four
// registers, the rest by the crc32 instruction.
LW_CLMUL512 uint32_t update_clmul(uint32_t c, const uint8_t* p, size_t n) {
  const FoldConstants& k = fold_constants();
  // The state enters as the first 32 bits of the message (it is what they would be xored with).
  __m512i z0 = _mm512_xor_si512(_mm512_loadu_si512(p), _mm512_zextsi128_si512(_mm_cvtsi32_si128(static_cast<int>(c))));
  __m512i z1 = _mm512_loadu_si512(p + 64), z2 = _mm512_loadu_si512(p + 128), z3 = _mm512_loadu_si512(p + 192);
  p += 256;
  n -= 256;
  const __m512i by2048 = broadcast(k.by[16]);
  while (n >= 256) {
    z0 = _mm512_xor_si512(fold512(z0, by2048), _mm512_loadu_si512(p));
    z1 = _mm512_xor_si512(fold512(z1, by2048), _mm512_loadu_si512(p + 64));
    z2 = _mm512_xor_si512(fold512(z2, by2048), _mm512_loadu_si512(p + 128));
    z3 = _mm512_xor_si512(fold512(z3, by2048), _mm512_loadu_si512(p + 192));
    p += 256;
    n -= 256;
  }
  // The four registers onto the last one, then its four lanes onto the last lane.
  __m512i z = _mm512_xor_si512(fold512(z0, broadcast(k.by[12])), fold512(z1, broadcast(k.by[8])));
  z = _mm512_xor_si512(z, _mm512_xor_si512(fold512(z2, broadcast(k.by[4])), z3));
  __m128i a = _mm_xor_si128(fold128(_mm512_extracti32x4_epi32(z, 0), k.by[3]),
                            fold128(_mm512_extracti32x4_epi32(z, 1), k.by[2]));
  a = _mm_xor_si128(a, _mm_xor_si128(fold128(_mm512_extracti32x4_epi32(z, 2), k.by[1]), _mm512_extracti32x4_epi32(z, 3)));
  // What is left is a 16-byte message congruent to everything so far: the crc32 instruction
  // reduces it from a zero state, then takes the tail.
  uint64_t crc = _mm_crc32_u64(0, static_cast<uint64_t>(_mm_cvtsi128_si64(a)));
  crc = _mm_crc32_u64(crc, static_cast<uint64_t>(_mm_extract_epi64(a, 1)));
  return update_hardware(static_cast<uint32_t>(crc), p, n);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

bool detect_hardware() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}

bool detect_clmul512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("vpclmulqdq") &&
         __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.2");
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

bool crc32c_has_clmul512() {
#if defined(__x86_64__)
  static const bool has = detect_clmul512();
  return has;
#else
  return false;
#endif
}

uint32_t crc32c_instruction(const void* data, size_t size, uint32_t crc) {
#if defined(__x86_64__)
  if (crc32c_has_hardware()) return ~update_hardware(~crc, static_cast<const uint8_t*>(data), size);
#endif
  return crc32c_portable(data, size, crc);
}

uint32_t crc32c(const void* data, size_t size, uint32_t crc) {
#if defined(__x86_64__)
  // Short buffers go to the instruction: the folds need 256 bytes and pay for their set-up
  // (two reductions and a 16-byte tail) only over longer ones.
  if (size >= kClmulMinBytes && crc32c_has_clmul512()) return ~update_clmul(~crc, static_cast<const uint8_t*>(data), size);
#endif
  return crc32c_instruction(data, size, crc);
}

}  // namespace lw::format
