// Allocation-failure injection for the reliability tests: when armed, the k-th allocation
// counted from the arming makes that allocation fail (nullptr from lw::alloc_aligned, a thrown
// std::bad_alloc from a test binary's replacement of global operator new), so a test can sweep k
// over every allocation of an operation and check each failure is reported, not crashed on.
//
// Compiled into the library always; inert until a test calls arm(): the hot path is one relaxed
// atomic load. Production code only calls should_fail_allocation() at allocation points.
//
// Thread-safety: all functions may be called from any thread. The counter is shared by the
// threads the scope admits (kAllThreads: every thread, including OpenMP workers and stream
// workers; kArmingThread: only the thread that called arm()).
#pragma once

#include <cstddef>
#include <cstdint>

namespace lw::fault {

enum class Scope { kArmingThread, kAllThreads };

// Arms the hook: the `k`-th (1-based) counted allocation fails; the others succeed. k == 0 disarms.
void arm_allocation_failure(uint64_t k, Scope scope = Scope::kArmingThread);
// Disarms and returns how many allocations were counted since arm_allocation_failure().
uint64_t disarm_allocation_failure();
// True once the armed failure has been delivered.
bool allocation_failure_fired();

// Called at each allocation point with the bytes asked for: counts it when armed and in scope,
// true when it must fail. Also records the size while a size watch is on.
bool should_fail_allocation(size_t size = 0);

// Size watch: records the largest single allocation made on any thread while on, so a test can
// check that an input claiming huge sizes is refused before anything of that size is asked for.
void watch_allocation_sizes(bool on);
size_t largest_watched_allocation();

// Suspends counting on this thread while alive (for a test's own bookkeeping allocations).
class ScopedUncounted {
 public:
  ScopedUncounted();
  ~ScopedUncounted();
  ScopedUncounted(const ScopedUncounted&) = delete;
  ScopedUncounted& operator=(const ScopedUncounted&) = delete;

 private:
  bool previous_;
};

}  // namespace lw::fault
