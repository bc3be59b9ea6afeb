// ThreadScratch<T>: one T per thread, lent to a call and given back when the call returns, so a
// hot path (an inference call) keeps its vectors' capacity from one call to the next instead of
// allocating them each time. What a call leaves in the T is the next call's starting point:
// the borrower must overwrite every field it reads and must not keep pointers into it (nor
// shared ownership of anything) past the lease. A nested borrow on the same thread (not a case
// liveweight has today) gets a fresh T rather than the one in use. Lives until its thread ends.
#pragma once

#include <memory>

namespace lw {

template <typename T>
class ThreadScratch {
 public:
  class Lease {
   public:
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      if (!fresh_) slot().busy = false;
    }
    T& operator*() { return *object_; }
    T* operator->() { return object_; }

   private:
    friend class ThreadScratch;
    Lease() {
      Slot& s = slot();
      if (s.busy) {
        fresh_ = std::make_unique<T>();
        object_ = fresh_.get();
      } else {
        s.busy = true;
        object_ = &s.object;
      }
    }
    std::unique_ptr<T> fresh_;
    T* object_ = nullptr;
  };

  static Lease borrow() { return Lease(); }

 private:
  struct Slot {
    T object;
    bool busy = false;
  };
  static Slot& slot() {
    thread_local Slot s;
    return s;
  }
};

}  // namespace lw
