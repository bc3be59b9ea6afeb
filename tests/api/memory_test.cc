// aclrtMalloc/Free, aclrtMallocHost/FreeHost, aclrtMemcpy, aclrtMemset.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "acl/acl.h"
#include "api/acl_test_util.h"

namespace {

TEST(AclMemory, MallocFreeAndTheirErrors) {
  void* p = nullptr;
  ASSERT_ACL_OK(aclrtMalloc(&p, 100, ACL_MEM_MALLOC_HUGE_FIRST));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  std::memset(p, 0x5a, 100);  // the whole size is usable
  void* q = nullptr;
  EXPECT_ACL_OK(aclrtMalloc(&q, 1, ACL_MEM_MALLOC_HUGE_ONLY));
  EXPECT_ACL_OK(aclrtFree(q));
  EXPECT_ACL_OK(aclrtMalloc(&q, 1, ACL_MEM_MALLOC_NORMAL_ONLY));
  EXPECT_ACL_OK(aclrtFree(q));

  EXPECT_ACL_FAIL(aclrtMalloc(nullptr, 8, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_INVALID_PARAM, "aclrtMalloc");
  q = nullptr;
  EXPECT_ACL_FAIL(aclrtMalloc(&q, 0, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_INVALID_PARAM, "aclrtMalloc");
  EXPECT_ACL_FAIL(aclrtMalloc(&q, 8, static_cast<aclrtMemMallocPolicy>(3)), ACL_ERROR_INVALID_PARAM, "aclrtMalloc");
  EXPECT_ACL_FAIL(aclrtMalloc(&q, 8, static_cast<aclrtMemMallocPolicy>(-1)), ACL_ERROR_INVALID_PARAM, "aclrtMalloc");
  EXPECT_ACL_FAIL(aclrtMalloc(&q, SIZE_MAX, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_BAD_ALLOC, "aclrtMalloc");
  EXPECT_ACL_FAIL(aclrtMalloc(&q, SIZE_MAX / 2, ACL_MEM_MALLOC_HUGE_FIRST), ACL_ERROR_BAD_ALLOC, "aclrtMalloc");
  EXPECT_EQ(q, nullptr);  // untouched on failure

  EXPECT_ACL_FAIL(aclrtFree(nullptr), ACL_ERROR_INVALID_PARAM, "aclrtFree");
  EXPECT_ACL_FAIL(aclrtFree(static_cast<char*>(p) + 8), ACL_ERROR_INVALID_PARAM, "aclrtFree");
  int local = 0;
  EXPECT_ACL_FAIL(aclrtFree(&local), ACL_ERROR_INVALID_PARAM, "aclrtFree");
  EXPECT_ACL_OK(aclrtFree(p));
  EXPECT_ACL_FAIL(aclrtFree(p), ACL_ERROR_INVALID_PARAM, "aclrtFree");  // double free
}

TEST(AclMemory, HostMallocFreeAreSeparateFromDevice) {
  void* h = nullptr;
  void* d = nullptr;
  ASSERT_ACL_OK(aclrtMallocHost(&h, 64));
  ASSERT_ACL_OK(aclrtMalloc(&d, 64, ACL_MEM_MALLOC_HUGE_FIRST));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(h) % 64, 0u);
  EXPECT_ACL_FAIL(aclrtMallocHost(nullptr, 8), ACL_ERROR_INVALID_PARAM, "aclrtMallocHost");
  void* x = nullptr;
  EXPECT_ACL_FAIL(aclrtMallocHost(&x, 0), ACL_ERROR_INVALID_PARAM, "aclrtMallocHost");
  EXPECT_ACL_FAIL(aclrtMallocHost(&x, SIZE_MAX), ACL_ERROR_BAD_ALLOC, "aclrtMallocHost");
  EXPECT_ACL_FAIL(aclrtFree(h), ACL_ERROR_INVALID_PARAM, "aclrtFree");
  EXPECT_ACL_FAIL(aclrtFreeHost(d), ACL_ERROR_INVALID_PARAM, "aclrtFreeHost");
  EXPECT_ACL_FAIL(aclrtFreeHost(nullptr), ACL_ERROR_INVALID_PARAM, "aclrtFreeHost");
  EXPECT_ACL_OK(aclrtFreeHost(h));
  EXPECT_ACL_FAIL(aclrtFreeHost(h), ACL_ERROR_INVALID_PARAM, "aclrtFreeHost");
  EXPECT_ACL_OK(aclrtFree(d));
}

class AclMemcpy : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_ACL_OK(aclrtMalloc(&dev_, kSize, ACL_MEM_MALLOC_HUGE_FIRST));
    ASSERT_ACL_OK(aclrtMalloc(&dev2_, kSize, ACL_MEM_MALLOC_HUGE_FIRST));
    host_.resize(kSize);
    std::iota(host_.begin(), host_.end(), uint8_t{1});
  }
  void TearDown() override {
    EXPECT_ACL_OK(aclrtFree(dev_));
    EXPECT_ACL_OK(aclrtFree(dev2_));
  }
  static constexpr size_t kSize = 256;
  void* dev_ = nullptr;
  void* dev2_ = nullptr;
  std::vector<uint8_t> host_;
};

TEST_F(AclMemcpy, RoundTripThroughDeviceMemory) {
  ASSERT_ACL_OK(aclrtMemcpy(dev_, kSize, host_.data(), kSize, ACL_MEMCPY_HOST_TO_DEVICE));
  ASSERT_ACL_OK(aclrtMemcpy(dev2_, kSize, dev_, kSize, ACL_MEMCPY_DEVICE_TO_DEVICE));
  std::vector<uint8_t> back(kSize, 0);
  ASSERT_ACL_OK(aclrtMemcpy(back.data(), kSize, dev2_, kSize, ACL_MEMCPY_DEVICE_TO_HOST));
  EXPECT_EQ(back, host_);
  std::vector<uint8_t> copy(kSize, 0);
  ASSERT_ACL_OK(aclrtMemcpy(copy.data(), kSize, host_.data(), kSize, ACL_MEMCPY_HOST_TO_HOST));
  EXPECT_EQ(copy, host_);
  // Interior pointers are fine when the range stays inside the block.
  ASSERT_ACL_OK(aclrtMemcpy(static_cast<uint8_t*>(dev_) + 200, 56, host_.data(), 56, ACL_MEMCPY_HOST_TO_DEVICE));
  // count 0 copies nothing but still checks the kind.
  EXPECT_ACL_OK(aclrtMemcpy(dev_, kSize, host_.data(), 0, ACL_MEMCPY_HOST_TO_DEVICE));
  // destMax larger than count is fine.
  EXPECT_ACL_OK(aclrtMemcpy(copy.data(), kSize, host_.data(), 10, ACL_MEMCPY_HOST_TO_HOST));
}

TEST_F(AclMemcpy, DefaultKindInfersEachSide) {
  std::vector<uint8_t> back(kSize, 0);
  ASSERT_ACL_OK(aclrtMemcpy(dev_, kSize, host_.data(), kSize, ACL_MEMCPY_DEFAULT));
  ASSERT_ACL_OK(aclrtMemcpy(dev2_, kSize, dev_, kSize, ACL_MEMCPY_DEFAULT));
  ASSERT_ACL_OK(aclrtMemcpy(back.data(), kSize, dev2_, kSize, ACL_MEMCPY_DEFAULT));
  EXPECT_EQ(back, host_);
  // A device side must still fit its block.
  EXPECT_ACL_FAIL(aclrtMemcpy(static_cast<uint8_t*>(dev_) + 1, kSize, host_.data(), kSize, ACL_MEMCPY_DEFAULT),
                  ACL_ERROR_INVALID_PARAM, "aclrtMemcpy");
}

TEST_F(AclMemcpy, OverlappingRangesMoveCorrectly) {
  ASSERT_ACL_OK(aclrtMemcpy(dev_, kSize, host_.data(), kSize, ACL_MEMCPY_HOST_TO_DEVICE));
  uint8_t* d = static_cast<uint8_t*>(dev_);
  ASSERT_ACL_OK(aclrtMemcpy(d + 1, kSize - 1, d, 100, ACL_MEMCPY_DEVICE_TO_DEVICE));
  std::vector<uint8_t> expect = host_;
  std::memmove(expect.data() + 1, expect.data(), 100);
  EXPECT_EQ(std::vector<uint8_t>(d, d + kSize), expect);
}

TEST_F(AclMemcpy, BadArguments) {
  uint8_t* d = static_cast<uint8_t*>(dev_);
  EXPECT_ACL_FAIL(aclrtMemcpy(nullptr, kSize, host_.data(), 4, ACL_MEMCPY_HOST_TO_HOST), ACL_ERROR_INVALID_PARAM, "aclrtMemcpy");
  EXPECT_ACL_FAIL(aclrtMemcpy(d, kSize, nullptr, 4, ACL_MEMCPY_HOST_TO_DEVICE), ACL_ERROR_INVALID_PARAM, "aclrtMemcpy");
  EXPECT_ACL_FAIL(aclrtMemcpy(d, 8, host_.data(), 9, ACL_MEMCPY_HOST_TO_DEVICE), ACL_ERROR_INVALID_PARAM, "aclrtMemcpy");
  EXPECT_ACL_FAIL(aclrtMemcpy(d, kSize, host_.data(), 4, static_cast<aclrtMemcpyKind>(5)), ACL_ERROR_INVALID_PARAM,
                  "aclrtMemcpy");
  EXPECT_ACL_FAIL(aclrtMemcpy(d, kSize, host_.data(), 4, static_cast<aclrtMemcpyKind>(-1)), ACL_ERROR_INVALID_PARAM,
                  "aclrtMemcpy");
}

TEST_F(AclMemcpy, KindMustMatchWherePointersLive) {
  uint8_t* d = static_cast<uint8_t*>(dev_);
  uint8_t* h = host_.data();
  // Host destination named as device, device source named as host, and so on.
  EXPECT_ACL_FAIL(aclrtMemcpy(h, kSize, h + 128, 16, ACL_MEMCPY_HOST_TO_DEVICE), ACL_ERROR_INVALID_PARAM, "aclrtMemcpy");
  EXPECT_ACL_FAIL(aclrtMemcpy(d, kSize, d + 128, 16, ACL_MEMCPY_HOST_TO_DEVICE), ACL_ERROR_INVALID_PARAM, "aclrtMemcpy");
  EXPECT_ACL_FAIL(aclrtMemcpy(d, kSize, h, 16, ACL_MEMCPY_DEVICE_TO_HOST), ACL_ERROR_INVALID_PARAM, "aclrtMemcpy");
  EXPECT_ACL_FAIL(aclrtMemcpy(h, kSize, h, 16, ACL_MEMCPY_DEVICE_TO_HOST), ACL_ERROR_INVALID_PARAM, "aclrtMemcpy");
  EXPECT_ACL_FAIL(aclrtMemcpy(d, kSize, h, 16, ACL_MEMCPY_DEVICE_TO_DEVICE), ACL_ERROR_INVALID_PARAM, "aclrtMemcpy");
  EXPECT_ACL_FAIL(aclrtMemcpy(h, kSize, d, 16, ACL_MEMCPY_DEVICE_TO_DEVICE), ACL_ERROR_INVALID_PARAM, "aclrtMemcpy");
  EXPECT_ACL_FAIL(aclrtMemcpy(d, kSize, h, 16, ACL_MEMCPY_HOST_TO_HOST), ACL_ERROR_INVALID_PARAM, "aclrtMemcpy");
  EXPECT_ACL_FAIL(aclrtMemcpy(h, kSize, d, 16, ACL_MEMCPY_HOST_TO_HOST), ACL_ERROR_INVALID_PARAM, "aclrtMemcpy");
  // A device range that runs past the end of its block.
  EXPECT_ACL_FAIL(aclrtMemcpy(d + 250, kSize, h, 7, ACL_MEMCPY_HOST_TO_DEVICE), ACL_ERROR_INVALID_PARAM, "aclrtMemcpy");
  EXPECT_ACL_FAIL(aclrtMemcpy(h, kSize, d + 250, 7, ACL_MEMCPY_DEVICE_TO_HOST), ACL_ERROR_INVALID_PARAM, "aclrtMemcpy");
  // Freed device memory is no longer device memory.
  void* gone = nullptr;
  ASSERT_ACL_OK(aclrtMalloc(&gone, 32, ACL_MEM_MALLOC_HUGE_FIRST));
  ASSERT_ACL_OK(aclrtFree(gone));
  EXPECT_ACL_FAIL(aclrtMemcpy(gone, 32, h, 16, ACL_MEMCPY_HOST_TO_DEVICE), ACL_ERROR_INVALID_PARAM, "aclrtMemcpy");
  // aclrtMallocHost memory is host memory.
  void* pinned = nullptr;
  ASSERT_ACL_OK(aclrtMallocHost(&pinned, 32));
  EXPECT_ACL_FAIL(aclrtMemcpy(pinned, 32, h, 16, ACL_MEMCPY_HOST_TO_DEVICE), ACL_ERROR_INVALID_PARAM, "aclrtMemcpy");
  EXPECT_ACL_OK(aclrtMemcpy(d, kSize, pinned, 32, ACL_MEMCPY_HOST_TO_DEVICE));
  EXPECT_ACL_OK(aclrtFreeHost(pinned));
}

TEST_F(AclMemcpy, FailedCopiesWriteNothing) {
  uint8_t* d = static_cast<uint8_t*>(dev_);
  std::memset(d, 0, kSize);
  EXPECT_ACL_FAIL(aclrtMemcpy(d, 8, host_.data(), 9, ACL_MEMCPY_HOST_TO_DEVICE), ACL_ERROR_INVALID_PARAM, "aclrtMemcpy");
  EXPECT_ACL_FAIL(aclrtMemcpy(d + 250, kSize, host_.data(), 7, ACL_MEMCPY_HOST_TO_DEVICE), ACL_ERROR_INVALID_PARAM,
                  "aclrtMemcpy");
  EXPECT_EQ(std::vector<uint8_t>(d, d + kSize), std::vector<uint8_t>(kSize, 0));
}

TEST_F(AclMemcpy, Memset) {
  uint8_t* d = static_cast<uint8_t*>(dev_);
  std::memset(d, 0, kSize);
  ASSERT_ACL_OK(aclrtMemset(d + 10, 100, 0x1ab, 20));  // only the low byte counts
  for (size_t i = 0; i < kSize; ++i) EXPECT_EQ(d[i], (i >= 10 && i < 30) ? 0xab : 0) << i;
  EXPECT_ACL_FAIL(aclrtMemset(nullptr, 10, 0, 1), ACL_ERROR_INVALID_PARAM, "aclrtMemset");
  EXPECT_ACL_FAIL(aclrtMemset(d, 10, 0, 11), ACL_ERROR_INVALID_PARAM, "aclrtMemset");
  EXPECT_ACL_FAIL(aclrtMemset(host_.data(), kSize, 0, 4), ACL_ERROR_INVALID_PARAM, "aclrtMemset");
  EXPECT_ACL_FAIL(aclrtMemset(d + 200, kSize, 0, 57), ACL_ERROR_INVALID_PARAM, "aclrtMemset");
  EXPECT_EQ(d[200], 0);
  EXPECT_ACL_OK(aclrtMemset(d + 200, kSize, 7, 56));
  EXPECT_EQ(d[255], 7);
}

}  // namespace
