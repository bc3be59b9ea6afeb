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

TEST(Crc32c, FoldingPathAgreesAroundEveryBlockBoundary) {
  // 1 KB and up go through the 512-bit folds where the CPU has them (256-byte blocks, then the
  // lanes and registers combined, then a tail under 256 bytes): every tail length, from
  // every alignment, continuing from arbitrary states, against the bit-at-a-time reference and
  // the crc32-instruction path.
  std::mt19937 rng(13);
  std::vector<uint8_t> buf(4 * 1024 + 600);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  int checked = 0;
  for (size_t offset : {size_t{0}, size_t{3}, size_t{16}, size_t{63}})
    for (size_t n = 1000; n + offset <= buf.size(); n += (n < 1300 || n > 4000 ? 1 : 97)) {
      const uint8_t* p = buf.data() + offset;
      const uint32_t want = crc32c_bitwise(p, n);
      ASSERT_EQ(crc32c(p, n), want) << "offset " << offset << " length " << n;
      ASSERT_EQ(crc32c_instruction(p, n), want) << "offset " << offset << " length " << n;
      const uint32_t head = crc32c_bitwise(p, 7);
      ASSERT_EQ(crc32c(p + 7, n - 7, head), want) << "continued, offset " << offset << " length " << n;
      ++checked;
    }
  EXPECT_GT(checked, 1000);
  // Long runs of one value (zeros most of all: a fold of zero must stay zero).
  for (uint8_t v : {uint8_t{0}, uint8_t{0xFF}, uint8_t{0x5A}}) {
    std::vector<uint8_t> same(70000, v);
    EXPECT_EQ(crc32c(same.data(), same.size()), crc32c_bitwise(same.data(), same.size())) << int(v);
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
