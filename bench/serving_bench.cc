// Serving while refreshing: inference latency with and without a concurrent updater, and the
// extra memory an update needs.
//
//   serving_bench BUNDLE.om SECONDS [in_place]
//
// One thread runs inference back to back (input: deterministic pseudo-random [dims of the
// model's input, dynamic dims as 1]). Phase "idle": no updates. Phase "updating": another
// thread refreshes every weight every 50 ms (alternating two weight sets). Reports p50/p99 of
// each phase, the update times, and the peak RSS (sampled every millisecond, in both phases
// alike) above the RSS of the bundle before its first update, against the refreshed bytes (so
// the weight pool's spare copy counts as extra). Threads: LW_NUM_THREADS. One JSON line.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "liveweight/session.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

uint64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int fail(const std::string& what, const lw::Status& st) {
  std::fprintf(stderr, "serving_bench: %s: %s\n", what.c_str(), st.message().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: serving_bench BUNDLE.om SECONDS [in_place]\n");
    return 2;
  }
  const double seconds = std::atof(argv[2]);
  lw::SessionOptions options;
  options.in_place_updates = argc > 3 && std::string(argv[3]) == "in_place";
  auto opened = lw::Session::open(argv[1], options);
  if (!opened.is_ok()) return fail("open", opened.status());
  lw::Session& s = **opened;
  if (lw::Status st = s.init(); !st.is_ok()) return fail("init", st);

  // Input.
  if (s.inputs().size() != 1 || s.inputs()[0].dtype != lw::DType::kFloat32) {
    std::fprintf(stderr, "serving_bench: expected one float32 input\n");
    return 2;
  }
  std::vector<int64_t> dims = s.inputs()[0].dims;
  size_t n = 1;
  for (auto& d : dims) {
    if (d < 0) d = 1;
    n *= static_cast<size_t>(d);
  }
  std::vector<float> x(n);
  uint32_t state = 12345;
  for (auto& v : x) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<float>(state >> 8) / static_cast<float>(1u << 24) - 0.5f;
  }
  lw::ArrayView xin{x.data(), lw::DType::kFloat32, dims, x.size() * sizeof(float)};

  // Two full weight sets of plain patterns: finite values that differ between the sets.
  std::vector<std::vector<float>> sets(2);
  std::map<std::string, lw::ArrayView> updates[2];
  uint64_t refreshed = 0;
  for (int k = 0; k < 2; ++k) {
    size_t total = 0;
    for (const auto& w : s.weights())
      if (w.update_input >= 0 && w.dtype == lw::DType::kFloat32) total += w.bytes / sizeof(float);
    sets[static_cast<size_t>(k)].resize(total);
    size_t off = 0;
    for (const auto& w : s.weights()) {
      if (w.update_input < 0 || w.dtype != lw::DType::kFloat32) continue;
      float* p = sets[static_cast<size_t>(k)].data() + off;
      size_t count = w.bytes / sizeof(float);
      for (size_t i = 0; i < count; ++i) p[i] = 0.01f * static_cast<float>((i * 7 + static_cast<size_t>(k)) % 13) - 0.06f;
      updates[k][w.name] = {p, lw::DType::kFloat32, w.dims, w.bytes};
      off += count;
      if (k == 0) refreshed += w.bytes;
    }
  }

  auto run_phase = [&](bool with_updates, std::vector<double>& lat, std::vector<double>& upd, uint64_t& peak_rss) {
    std::atomic<bool> stop{false};
    std::thread updater, sampler;
    if (with_updates) {
      updater = std::thread([&] {
        int k = 0;
        auto next = Clock::now();
        while (!stop) {
          auto t = Clock::now();
          lw::Status st = s.update(updates[k]);
          upd.push_back(ms_between(t, Clock::now()));
          if (!st.is_ok()) std::fprintf(stderr, "update failed: %s\n", st.message().c_str());
          k ^= 1;
          next += std::chrono::milliseconds(50);
          std::this_thread::sleep_until(next);
        }
      });
    }
    // In both phases: its wake-ups every millisecond (each reads /proc) preempt an inference
    // thread now and then, which alone moved the p99 by 2-5% when only the updating phase had it.
    sampler = std::thread([&] {
      while (!stop) {
        peak_rss = std::max(peak_rss, rss_bytes());
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
    auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
      auto t = Clock::now();
      auto out = s.infer({xin});
      lat.push_back(ms_between(t, Clock::now()));
      if (!out.is_ok()) {
        std::fprintf(stderr, "infer failed: %s\n", out.status().message().c_str());
        break;
      }
    }
    stop = true;
    if (updater.joinable()) updater.join();
    if (sampler.joinable()) sampler.join();
  };

  // Both phases run on the benchmark's weight values (the bundle's own may run at another
  // speed, e.g. through denormals). Warm up: plans, arenas, the weight pool.
  for (int i = 0; i < 3; ++i) (void)s.infer({xin});
  const uint64_t never_updated_rss = rss_bytes();  // the extra memory counts from here
  if (lw::Status st = s.update(updates[1]); !st.is_ok()) return fail("update", st);
  if (lw::Status st = s.update(updates[0]); !st.is_ok()) return fail("update", st);
  for (int i = 0; i < 3; ++i) (void)s.infer({xin});
  std::vector<double> idle, busy, upd, unused;
  uint64_t none = 0;
  run_phase(false, idle, unused, none);
  const uint64_t idle_rss = never_updated_rss;
  uint64_t peak = std::max(never_updated_rss, rss_bytes());
  run_phase(true, busy, upd, peak);

  std::printf(
      "{\"mode\": \"%s\", \"idle_runs\": %zu, \"idle_p50_ms\": %.3f, \"idle_p99_ms\": %.3f, \"updating_runs\": %zu, "
      "\"updating_p50_ms\": %.3f, \"updating_p99_ms\": %.3f, \"p99_ratio\": %.3f, \"updates\": %zu, "
      "\"update_p50_ms\": %.3f, \"update_max_ms\": %.3f, \"refreshed_bytes\": %llu, \"peak_extra_rss_bytes\": %lld, "
      "\"extra_over_refreshed\": %.3f, \"version\": %llu}\n",
      options.in_place_updates ? "in_place" : "copy_on_write", idle.size(), percentile(idle, 0.5),
      percentile(idle, 0.99), busy.size(), percentile(busy, 0.5), percentile(busy, 0.99),
      percentile(busy, 0.99) / std::max(1e-9, percentile(idle, 0.99)), upd.size(), percentile(upd, 0.5),
      upd.empty() ? 0.0 : *std::max_element(upd.begin(), upd.end()), static_cast<unsigned long long>(refreshed),
      static_cast<long long>(peak) - static_cast<long long>(idle_rss),
      static_cast<double>(static_cast<long long>(peak) - static_cast<long long>(idle_rss)) /
          static_cast<double>(std::max<uint64_t>(1, refreshed)),
      static_cast<unsigned long long>(s.version()));
  return 0;
}
