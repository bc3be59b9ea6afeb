// pthread_create for the reliability test binary: counts every thread started in the process
// (libgomp's included: the executable's definition comes first in symbol lookup), then starts
// it through the next definition (libc's, or a sanitizer's interceptor). Default visibility:
// the tests build with hidden symbols, and a hidden definition would interpose nothing.
#include <dlfcn.h>
#include <pthread.h>

#include <atomic>
#include <cstdint>

#include "reliability/reliability_util.h"

namespace {
std::atomic<uint64_t> g_started{0};
using CreateFn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
}  // namespace

extern "C" __attribute__((visibility("default"))) int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  static const auto next = reinterpret_cast<CreateFn>(dlsym(RTLD_NEXT, "pthread_create"));
  if (next == nullptr) return EAGAIN;  // no definition after this one: cannot start threads
  g_started.fetch_add(1, std::memory_order_relaxed);
  return next(thread, attr, start, arg);
}

namespace lw::test {
uint64_t threads_started() { return g_started.load(std::memory_order_relaxed); }
}  // namespace lw::test
