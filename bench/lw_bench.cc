// liveweight side of the benchmark, one model per process (so peak memory is per model).
//
//   lw_bench speed BUNDLE_INIT.om BUNDLE_NOINIT.om INPUT.npy RUNS
//   lw_bench memory BUNDLE_INIT.om INPUT.npy RUNS   (peak memory, and the inference times again)
//   lw_bench cold read|load BUNDLE_INIT.om   (the first read of the file into memory, or the
//                                             first open + init, of this process)
//
// Threads come from LW_NUM_THREADS (set by run.py). Prints one JSON object on stdout.
#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "liveweight/session.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "lw_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T check(lw::Result<T> r, const char* what) {
  if (!r.is_ok()) die(std::string(what) + ": " + r.status().message());
  return std::move(r).value();
}

void check(const lw::Status& s, const char* what) {
  if (!s.is_ok()) die(std::string(what) + ": " + s.message());
}

struct Npy {
  std::vector<int64_t> dims;
  std::vector<float> data;
};

Npy read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(1, 5, "NUMPY") != 0) die(path + " is not an .npy file");
  uint16_t header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
  std::string header = bytes.substr(10, header_len);
  if (header.find("'<f4'") == std::string::npos) die(path + ": only float32 is supported");
  Npy n;
  size_t open = header.find('('), close = header.find(')');
  std::string shape = header.substr(open + 1, close - open - 1);
  for (size_t p = 0; p < shape.size();) {
    size_t q = shape.find(',', p);
    std::string tok = shape.substr(p, q == std::string::npos ? std::string::npos : q - p);
    if (tok.find_first_of("0123456789") != std::string::npos) n.dims.push_back(std::stoll(tok));
    if (q == std::string::npos) break;
    p = q + 1;
  }
  size_t start = 10 + header_len;
  n.data.resize((bytes.size() - start) / sizeof(float));
  std::memcpy(n.data.data(), bytes.data() + start, n.data.size() * sizeof(float));
  return n;
}

long peak_rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// Median of `reps` timings of fn, after one untimed call. `after`, when given, runs untimed
// after each call: what fn made is torn down outside the timing, as loading is file to ready
// and unloading is not part of it.
double median_ms(int reps, const std::function<void()>& fn, const std::function<void()>& after = nullptr) {
  fn();
  if (after) after();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto s = Clock::now();
    fn();
    t.push_back(ms_since(s));
    if (after) after();
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

std::vector<double> infer_times(lw::Session& s, const Npy& x, int runs, std::vector<float>* head) {
  lw::ArrayView in{x.data.data(), lw::DType::kFloat32, x.dims, x.data.size() * sizeof(float)};
  std::vector<lw::Array> out;
  for (int i = 0; i < 5; ++i) out = check(s.infer({in}), "infer");
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    auto st = Clock::now();
    out = check(s.infer({in}), "infer");
    t.push_back(ms_since(st));
  }
  const float* y = reinterpret_cast<const float*>(out[0].data.get());
  head->assign(y, y + std::min<size_t>(8, out[0].bytes / sizeof(float)));
  return t;
}

int speed(const std::string& with_init, const std::string& no_init, const std::string& input, int runs) {
  nlohmann::json j;
  Npy x = read_npy(input);

  // Reading the file: what loading is compared against, timed from the file to the bytes (the
  // session) being ready; freeing them (closing it) is not timed. Twice: into fresh memory every
  // time (an anonymous mapping of its own, as a program's first read of a file gets: the
  // kernel zeroes and maps each page), and into one buffer that every repeat reuses (the page
  // cache's copy alone). The fresh read used to be new[]/delete[], which glibc serves from a
  // heap it reuses below its dynamic mmap threshold (MobileNet v2's 14 MB) and from fresh
  // pages above it (every other model): the two cases above, mixed by file size.
  constexpr int kLoads = 9;  // medians of 9: fresh huge pages make single loads vary by 2-5x
  size_t file_bytes = 0;
  {
    std::ifstream f(with_init, std::ios::binary | std::ios::ate);
    if (!f) die("cannot open " + with_init);
    file_bytes = static_cast<size_t>(f.tellg());
  }
  j["file_bytes"] = file_bytes;
  auto read_into = [&](char* buf) {
    std::ifstream f(with_init, std::ios::binary);
    f.read(buf, static_cast<std::streamsize>(file_bytes));
    if (!f) die("cannot read " + with_init);
  };
  void* fresh = nullptr;
  j["read_file_ms"] = median_ms(
      kLoads,
      [&] {
        fresh = mmap(nullptr, file_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (fresh == MAP_FAILED) die("cannot map " + std::to_string(file_bytes) + " bytes");
        read_into(static_cast<char*>(fresh));
      },
      [&] { munmap(fresh, file_bytes); });
  std::vector<char> reused(file_bytes);
  read_into(reused.data());  // its pages are in place before the timed reads
  j["read_file_reused_ms"] = median_ms(kLoads, [&] { read_into(reused.data()); });
  reused = std::vector<char>();
  std::unique_ptr<lw::Session> loaded;
  j["load_init_ms"] = median_ms(
      kLoads,
      [&] {
        loaded = check(lw::Session::open(with_init), "open");
        check(loaded->init(), "init");
      },
      [&] { loaded.reset(); });
  j["load_noinit_ms"] = median_ms(kLoads, [&] { loaded = check(lw::Session::open(no_init), "open"); }, [&] { loaded.reset(); });

  auto session = check(lw::Session::open(with_init), "open");
  check(session->init(), "init");
  std::vector<float> head;
  j["infer_ms"] = infer_times(*session, x, runs, &head);
  j["output_head"] = head;

  // Refresh: fresh random values for every weight, then subsets.
  const auto& weights = session->weights();
  std::vector<std::vector<float>> values(weights.size());
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-0.05f, 0.05f);
  uint64_t total = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    values[i].resize(weights[i].bytes / sizeof(float));
    for (float& v : values[i]) v = dist(rng);
    total += weights[i].bytes;
  }
  auto make_map = [&](const std::vector<size_t>& which) {
    std::map<std::string, lw::ArrayView> m;
    for (size_t i : which)
      m[weights[i].name] = {values[i].data(), weights[i].dtype, weights[i].dims, weights[i].bytes};
    return m;
  };
  std::vector<size_t> all(weights.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  // Subsets of about k% of the bytes: weights taken in order of size, largest that still fit first.
  auto subset = [&](double fraction) {
    std::vector<size_t> order = all, pick;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return weights[a].bytes > weights[b].bytes; });
    uint64_t goal = static_cast<uint64_t>(fraction * static_cast<double>(total)), got = 0;
    for (size_t i : order)
      if (got + weights[i].bytes <= goal + goal / 10) {
        pick.push_back(i);
        got += weights[i].bytes;
      }
    if (pick.empty()) pick.push_back(order.back());
    return pick;
  };
  auto bytes_of = [&](const std::vector<size_t>& which) {
    uint64_t b = 0;
    for (size_t i : which) b += weights[i].bytes;
    return b;
  };
  struct Case {
    const char* name;
    std::vector<size_t> which;
  };
  // "one": a typical tensor (the median size).
  std::vector<size_t> by_size = all;
  std::sort(by_size.begin(), by_size.end(), [&](size_t a, size_t b) { return weights[a].bytes < weights[b].bytes; });
  std::vector<Case> cases = {{"one", {by_size[by_size.size() / 2]}}, {"pct1", subset(0.01)}, {"pct10", subset(0.10)}};
  nlohmann::json refresh;
  // The full refresh, timed alternately with a memcpy of the same bytes into preallocated
  // buffers (one thread, as load_state_dict does), so both see the same machine.
  {
    std::vector<std::vector<float>> dst(values.size());
    for (size_t i = 0; i < values.size(); ++i) dst[i].assign(values[i].size(), 1.0f);
    auto m = make_map(all);
    std::vector<double> upd, cpy;
    for (int i = 0; i < 16; ++i) {  // the first round warms both up; the median of 15 rounds
      auto st = Clock::now();
      check(session->update(m), "update");
      upd.push_back(ms_since(st));
      st = Clock::now();
      for (size_t k = 0; k < values.size(); ++k) std::memcpy(dst[k].data(), values[k].data(), weights[k].bytes);
      cpy.push_back(ms_since(st));
    }
    upd.erase(upd.begin());
    cpy.erase(cpy.begin());
    std::sort(upd.begin(), upd.end());
    std::sort(cpy.begin(), cpy.end());
    refresh["full"] = {{"ms", upd[upd.size() / 2]}, {"bytes", total}, {"tensors", all.size()}};
    j["memcpy_ms"] = cpy[cpy.size() / 2];
    // The first inference after a full refresh (median of 7 refreshes): what a kernel derives
    // from its weights on their first use (Winograd's transformed filters) shows here, not in
    // the refresh.
    lw::ArrayView in{x.data.data(), lw::DType::kFloat32, x.dims, x.data.size() * sizeof(float)};
    std::vector<double> first;
    for (int i = 0; i < 7; ++i) {
      check(session->update(m), "update");
      auto st = Clock::now();
      check(session->infer({in}), "infer");
      first.push_back(ms_since(st));
    }
    std::sort(first.begin(), first.end());
    j["infer_after_refresh_ms"] = first[first.size() / 2];
  }
  for (const Case& c : cases) {
    auto m = make_map(c.which);
    double t = median_ms(7, [&] { check(session->update(m), "update"); });
    refresh[c.name] = {{"ms", t}, {"bytes", bytes_of(c.which)}, {"tensors", c.which.size()}};
  }
  j["refresh"] = refresh;
  j["weight_bytes"] = total;
  // The full refresh again with in_place_updates: no second buffer (it overwrites the weights
  // inference reads, holding new inferences back meanwhile), so what copy-on-write costs on top.
  {
    lw::SessionOptions options;
    options.in_place_updates = true;
    auto in_place = check(lw::Session::open(with_init, options), "open in place");
    check(in_place->init(), "init in place");
    auto m = make_map(all);
    j["refresh_full_in_place_ms"] = median_ms(7, [&] { check(in_place->update(m), "update in place"); });
  }
  // The refreshed weights must be the ones used: infer once more, compare with a fresh session
  // initialised from nothing but the same update.
  std::vector<float> head_after;
  infer_times(*session, x, 1, &head_after);
  j["output_head_after_refresh"] = head_after;
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

int memory(const std::string& with_init, const std::string& input, int runs) {
  Npy x = read_npy(input);
  auto session = check(lw::Session::open(with_init), "open");
  check(session->init(), "init");
  std::vector<float> head;
  nlohmann::json j;
  j["infer_ms"] = infer_times(*session, x, runs, &head);  // another round of inference timings
  j["output_head"] = head;
  j["peak_rss_kb"] = peak_rss_kb();
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

// What a program pays once: the first read of the file, or the first load with init, in a fresh
// process (run.py alternates processes of each). speed's loads repeat in one process, where
// liveweight reuses its weight blocks and oneDNN its generated code, and a read of a file under
// glibc's mmap threshold reuses the heap of the one before: warm on both sides, but unevenly.
int cold(const std::string& what, const std::string& bundle) {
  nlohmann::json j;
  const Clock::time_point start = Clock::now();
  if (what == "read") {
    std::ifstream f(bundle, std::ios::binary | std::ios::ate);
    size_t n = static_cast<size_t>(f.tellg());
    std::unique_ptr<char[]> buf(new char[n]);
    f.seekg(0);
    f.read(buf.get(), static_cast<std::streamsize>(n));
    if (!f) die("cannot read " + bundle);
    j["ms"] = ms_since(start);
  } else if (what == "load") {
    auto session = check(lw::Session::open(bundle), "open");
    check(session->init(), "init");
    j["ms"] = ms_since(start);
  } else {
    die("cold: read or load, not " + what);
  }
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 5 && a[0] == "speed") return speed(a[1], a[2], a[3], std::stoi(a[4]));
  if (a.size() == 4 && a[0] == "memory") return memory(a[1], a[2], std::stoi(a[3]));
  if (a.size() == 3 && a[0] == "cold") return cold(a[1], a[2]);
  std::fprintf(stderr,
               "usage: lw_bench speed INIT.om NOINIT.om INPUT.npy RUNS | memory INIT.om INPUT.npy RUNS | "
               "cold read|load INIT.om\n");
  return 2;
}
