// NameIndex: names mapped to small non-negative integers (an index into the caller's own list),
// in one flat open-addressing table. The names are views: the strings they point at must
// outlive the index and stay unchanged.
//
// Loading a model looks names up by the thousand (value names checked unique per graph, every
// Variable node matched to its description and its weight slot); std::map and
// std::unordered_map allocate a node per name, and the map compares long common prefixes
// ("/features/features.12/conv/...") log n times per lookup. Building this allocates once.
//
// Thread-safety: const methods may be called concurrently; insert may not.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace lw {

class NameIndex {
 public:
  // Room for `expected` names without growing.
  explicit NameIndex(size_t expected = 0);

  // Maps `name` to `value` unless it is already present: returns -1 when added, the value it
  // already has otherwise (left unchanged). `value` must be >= 0 (a negative one is not added).
  int32_t insert(std::string_view name, int32_t value);
  // The value of `name`, or -1.
  int32_t find(std::string_view name) const;
  size_t size() const { return size_; }

 private:
  struct Slot {
    std::string_view name;
    int32_t value = -1;  // -1: empty
  };
  void grow();
  size_t home(std::string_view name) const;
  std::vector<Slot> slots_;  // a power of two, at most half full
  size_t size_ = 0;
};

}  // namespace lw
