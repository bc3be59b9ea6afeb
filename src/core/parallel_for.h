// parallel_for_each: items of uneven cost over the intra-op OpenMP threads, taken one at a time;
// parallel_ranges: even ones, a contiguous range per thread.
// Thread-safety: fn runs concurrently on different items or ranges; it must not throw (OpenMP
// cannot carry an exception out of a parallel region: catch inside fn).
#pragma once

#include <omp.h>

namespace lw {

// Calls fn(i) for every i in [0, n) on up to `threads` threads. With one thread or one item fn
// runs right here, not inside a one-thread parallel region (what an `if` clause that fails
// makes): a parallel region fn opens would then be a nested one, and libgomp starts fresh
// threads for every nested team (it pools only the outermost). That once made every
// one-tensor update at two threads start a thread: 70 us of a 4 us update.
template <typename Fn>
void parallel_for_each(long n, int threads, Fn&& fn) {
  if (n > 1 && threads > 1) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (long i = 0; i < n; ++i) fn(i);
  } else {
    for (long i = 0; i < n; ++i) fn(i);
  }
}

// Calls fn(begin, end) on up to `threads` threads for ranges that split [0, n) as a static
// schedule does (one contiguous range each, in thread order). With one thread, one item, or
// inside another parallel region, fn(0, n) runs right here instead of in a one-thread region:
// libgomp builds a team for every region, even one whose `if` clause fails, and a refresh packs
// each tensor in a region of its own: a 16 x 32 weight's pack took 0.49 us that way, 0.05 this
// one (MobileNet v2's full refresh at one thread, 106 tensors: 0.50-0.51 -> 0.48-0.49 ms).
template <typename Fn>
void parallel_ranges(long n, int threads, Fn&& fn) {
  if (n > 1 && threads > 1 && !omp_in_parallel()) {
#pragma omp parallel num_threads(threads)
    {
      const long t = omp_get_thread_num(), parts = omp_get_num_threads();
      fn(n * t / parts, n * (t + 1) / parts);
    }
  } else if (n > 0) {
    fn(0L, n);
  }
}

}  // namespace lw
