#include "core/name_index.h"

#include <functional>

namespace lw {

NameIndex::NameIndex(size_t expected) {
  size_t n = 16;
  while (n < 2 * expected) n *= 2;
  slots_.resize(n);
}

size_t NameIndex::home(std::string_view name) const {
  return std::hash<std::string_view>{}(name) & (slots_.size() - 1);
}

int32_t NameIndex::insert(std::string_view name, int32_t value) {
  if (value < 0) return -1;  // not storable: -1 marks an empty slot
  if (2 * (size_ + 1) > slots_.size()) grow();
  for (size_t i = home(name);; i = (i + 1) & (slots_.size() - 1)) {
    Slot& s = slots_[i];
    if (s.value < 0) {
      s = {name, value};
      ++size_;
      return -1;
    }
    if (s.name == name) return s.value;
  }
}

int32_t NameIndex::find(std::string_view name) const {
  for (size_t i = home(name);; i = (i + 1) & (slots_.size() - 1)) {
    const Slot& s = slots_[i];
    if (s.value < 0) return -1;  // the table is never full, so every probe ends
    if (s.name == name) return s.value;
  }
}

void NameIndex::grow() {
  std::vector<Slot> old(slots_.size() * 2);
  old.swap(slots_);
  size_ = 0;
  for (const Slot& s : old)
    if (s.value >= 0) insert(s.name, s.value);
}

}  // namespace lw
