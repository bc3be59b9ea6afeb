// Read-only file mapping and cheap format sniffing.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>

#include "format/bundle_io.h"

namespace lw::format {

namespace {
Status open_error(const std::string& path, const char* what, int err) {
  return make_error(StatusCode::kInvalidFile, "cannot ", what, " '", path, "': ", std::system_category().message(err));
}
}  // namespace

Result<Blob> map_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return open_error(path, "open", errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return open_error(path, "stat", err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(StatusCode::kInvalidFile, "cannot map '", path, "': not a regular file");
  }
  if (st.st_size <= 0) {
    ::close(fd);
    return make_error(StatusCode::kInvalidFile, "cannot map '", path, "': the file is empty");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);  // the mapping keeps the file referenced
  if (p == MAP_FAILED) return open_error(path, "map", err);
  std::shared_ptr<const void> owner(p, [size](const void* q) { ::munmap(const_cast<void*>(q), size); });
  return Blob{std::move(owner), static_cast<const uint8_t*>(p), size};
}

bool has_bundle_magic(const void* data, size_t size) {
  return data != nullptr && size >= sizeof kMagic && std::memcmp(data, kMagic, sizeof kMagic) == 0;
}

}  // namespace lw::format
