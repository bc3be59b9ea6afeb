// libFuzzer entry point; the body lives in fuzz_targets.cc so the tests replay the same code.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lw::fuzz::run_bundle_reader(data, size);
  return 0;
}
