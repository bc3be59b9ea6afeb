// parallel_for_each: items of uneven cost over the intra-op OpenMP threads, taken one at a time.
// Thread-safety: fn(i) runs concurrently for different i; it must not throw (OpenMP cannot carry
// an exception out of a parallel region: catch inside fn).
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

}  // namespace lw
