// Stream: an in-order queue of work run by one worker thread (the CPU backend's streams).
// Work submitted to one stream runs in submission order; different streams run concurrently.
// The first failure of queued work is kept and returned by synchronize(), which also clears it.
//
// Thread-safety: submit() and synchronize() may be called from any thread. Destruction waits
// for the queued work to finish.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "liveweight/status.h"

namespace lw::rt {

class Stream {
 public:
  Stream();
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  void submit(std::function<Status()> work);
  // Waits until everything submitted so far has run; returns the first failure since the last
  // synchronize (and forgets it).
  Status synchronize();

 private:
  void run();

  std::mutex mu_;
  std::condition_variable work_ready_;
  std::condition_variable idle_;
  std::deque<std::function<Status()>> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  Status first_error_;
  std::thread worker_;
};

}  // namespace lw::rt
