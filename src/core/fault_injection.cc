#include "core/fault_injection.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace lw::fault {

namespace {

std::atomic<bool> g_armed{false};
std::atomic<uint64_t> g_target{0};
std::atomic<uint64_t> g_count{0};
std::atomic<bool> g_fired{false};
std::atomic<bool> g_all_threads{false};
std::atomic<std::thread::id> g_owner{};
std::atomic<bool> g_watch{false};
std::atomic<size_t> g_largest{0};
std::atomic<bool> g_trace{false};
// Plain thread_local bool: no constructor, so it is safe to read from operator new.
thread_local bool t_uncounted = false;

}  // namespace

// Sanitizer runtimes provide it; elsewhere the weak reference stays null.
extern "C" void __sanitizer_print_stack_trace() __attribute__((weak));

void arm_allocation_failure(uint64_t k, Scope scope) {
  g_armed.store(false, std::memory_order_seq_cst);
  g_count.store(0);
  g_fired.store(false);
  g_target.store(k);
  g_all_threads.store(scope == Scope::kAllThreads);
  g_owner.store(std::this_thread::get_id());
  // LW_FAULT_TRACE=1 prints where each injected failure lands (sanitizer builds), for debugging.
  const char* trace = std::getenv("LW_FAULT_TRACE");
  g_trace.store(trace != nullptr && trace[0] == '1');
  if (k != 0) g_armed.store(true, std::memory_order_seq_cst);
}

uint64_t disarm_allocation_failure() {
  g_armed.store(false, std::memory_order_seq_cst);
  return g_count.load();
}

bool allocation_failure_fired() { return g_fired.load(); }

void watch_allocation_sizes(bool on) {
  if (on) g_largest.store(0);
  g_watch.store(on);
}

size_t largest_watched_allocation() { return g_largest.load(); }

bool should_fail_allocation(size_t size) {
  if (g_watch.load(std::memory_order_relaxed)) {
    size_t seen = g_largest.load(std::memory_order_relaxed);
    while (size > seen && !g_largest.compare_exchange_weak(seen, size)) {
    }
  }
  if (!g_armed.load(std::memory_order_relaxed)) return false;
  if (t_uncounted) return false;
  if (!g_all_threads.load(std::memory_order_relaxed) && g_owner.load() != std::this_thread::get_id()) return false;
  uint64_t n = g_count.fetch_add(1) + 1;
  if (n != g_target.load(std::memory_order_relaxed)) return false;
  g_fired.store(true);
  if (g_trace.load() && __sanitizer_print_stack_trace != nullptr) {
    std::fprintf(stderr, "[fault] allocation %llu of %zu bytes fails here:\n", static_cast<unsigned long long>(n), size);
    __sanitizer_print_stack_trace();
  }
  return true;
}

ScopedUncounted::ScopedUncounted() : previous_(t_uncounted) { t_uncounted = true; }
ScopedUncounted::~ScopedUncounted() { t_uncounted = previous_; }

}  // namespace lw::fault
