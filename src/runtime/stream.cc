#include "runtime/stream.h"

namespace lw::rt {

Stream::Stream() : worker_([this] { run(); }) {}

Stream::~Stream() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait(lock, [this] { return queue_.empty() && !busy_; });
    stopping_ = true;
  }
  work_ready_.notify_all();
  worker_.join();
}

void Stream::submit(std::function<Status()> work) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(work));
  }
  work_ready_.notify_one();
}

Status Stream::synchronize() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [this] { return queue_.empty() && !busy_; });
  Status out = std::move(first_error_);
  first_error_ = Status::ok();
  return out;
}

void Stream::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left
    std::function<Status()> work = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    Status st;
    try {
      st = work();
    } catch (const std::bad_alloc&) {
      st = make_error(StatusCode::kOutOfMemory, "out of memory in stream work");
    } catch (...) {
      st = make_error(StatusCode::kInternal, "stream work threw an exception");
    }
    lock.lock();
    busy_ = false;
    if (!st.is_ok() && first_error_.is_ok()) first_error_ = std::move(st);
    if (queue_.empty()) idle_.notify_all();
  }
}

}  // namespace lw::rt
