// str_cat: concatenates printable values into a std::string (for error messages).
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace lw {

inline void str_append(std::ostringstream& os, const std::vector<int64_t>& dims) {
  os << '[';
  for (size_t i = 0; i < dims.size(); ++i) os << (i ? "," : "") << dims[i];
  os << ']';
}
template <typename T>
void str_append(std::ostringstream& os, const T& v) {
  os << v;
}

template <typename... Parts>
std::string str_cat(const Parts&... parts) {
  std::ostringstream os;
  (str_append(os, parts), ...);
  return os.str();
}

}  // namespace lw
