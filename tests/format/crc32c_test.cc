#include "format/crc32c.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace lw::format {
namespace {

// Bit-at-a-time reference, straight from the definition.
uint32_t crc32c_bitwise(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1u) ? 0x82F63B78u : 0u);
  }
  return ~c;
}

TEST(Crc32c, StandardCheckValue) {
  const char* check = "123456789";
  EXPECT_EQ(crc32c(check, 9), 0xE3069283u);
  EXPECT_EQ(crc32c_portable(check, 9), 0xE3069283u);
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
}

TEST(Crc32c, Rfc3720Vectors) {
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF), inc(32), dec(32);
  for (int i = 0; i < 32; ++i) {
    inc[i] = static_cast<uint8_t>(i);
    dec[i] = static_cast<uint8_t>(31 - i);
  }
  EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(crc32c(inc.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(crc32c(dec.data(), 32), 0x113FDB5Cu);
}

TEST(Crc32c, PathsAgreeWithBitwiseReferenceAtEveryLengthAndAlignment) {
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(1100);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t offset = 0; offset < 9; ++offset)
    for (size_t n = 0; n + offset <= buf.size(); n += (n < 80 ? 1 : 37)) {
      uint32_t want = crc32c_bitwise(buf.data() + offset, n);
      ASSERT_EQ(crc32c(buf.data() + offset, n), want) << "offset " << offset << " length " << n;
      ASSERT_EQ(crc32c_portable(buf.data() + offset, n), want) << "offset " << offset << " length " << n;
    }
}

TEST(Crc32c, LongBuffersTakeTheInterleavedPathAndAgree) {
  // Long enough for the three-stream hardware path (blocks of 3 x 4096 bytes) plus a tail.
  std::mt19937 rng(11);
  std::vector<uint8_t> buf(3 * 3 * 4096 + 777);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t offset : {size_t{0}, size_t{1}, size_t{5}})
    for (size_t n : {size_t{3 * 4096 - 1}, size_t{3 * 4096}, size_t{3 * 4096 + 1}, size_t{2 * 3 * 4096 + 100},
                     buf.size() - 5}) {
      uint32_t want = crc32c_bitwise(buf.data() + offset, n);
      EXPECT_EQ(crc32c(buf.data() + offset, n), want) << "offset " << offset << " length " << n;
      EXPECT_EQ(crc32c_portable(buf.data() + offset, n), want) << "offset " << offset << " length " << n;
      uint32_t head = crc32c(buf.data() + offset, 13);
      EXPECT_EQ(crc32c(buf.data() + offset + 13, n - 13, head), want) << "continued, offset " << offset;
    }
}

TEST(Crc32c, ContinuesAcrossChunks) {
  std::vector<uint8_t> buf(777);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(i * 31 + 7);
  uint32_t whole = crc32c(buf.data(), buf.size());
  for (size_t split : {size_t{0}, size_t{1}, size_t{8}, size_t{100}, size_t{776}, size_t{777}}) {
    uint32_t c = crc32c(buf.data(), split);
    EXPECT_EQ(crc32c(buf.data() + split, buf.size() - split, c), whole) << split;
    uint32_t p = crc32c_portable(buf.data(), split);
    EXPECT_EQ(crc32c_portable(buf.data() + split, buf.size() - split, p), whole) << split;
  }
}

TEST(Crc32c, HardwarePathIsUsedOnThisMachine) {
  // The build targets x86-64-v2, which includes SSE4.2.
  EXPECT_TRUE(crc32c_has_hardware());
}

}  // namespace
}  // namespace lw::format
