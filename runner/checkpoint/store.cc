#include "runner/checkpoint/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace streamrun::checkpoint {

void CheckKey(const std::string& key) {
  bool ok = key.empty() || key[0] != '/';
  size_t begin = 0;
  while (ok && begin < key.size()) {
    size_t end = key.find('/', begin);
    if (end == std::string::npos) end = key.size();
    const std::string_view segment(key.data() + begin, end - begin);
    ok = segment != "." && segment != ".." && segment.find('\\') == std::string_view::npos &&
         segment.find('\0') == std::string_view::npos && (!segment.empty() || end == key.size());
    begin = end + 1;
  }
  if (!ok) throw StoreError("refused a checkpoint store key outside the store: '" + key + "'");
}

namespace {

namespace fs = std::filesystem;

class FileStore : public Store {
 public:
  explicit FileStore(fs::path root) : root_(std::move(root)) {}

  void Put(const std::string& key, std::string_view bytes) override {
    CheckKey(key);
    const fs::path path = root_ / key;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) throw StoreError("cannot create " + path.parent_path().string() + ": " + ec.message());
    // Write a temporary file, fsync it, rename it over the key, fsync the folder:
    // after a crash the key holds either the old bytes or all the new ones.
    const fs::path tmp = path.string() + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw StoreError("cannot write " + tmp.string() + ": " + std::strerror(errno));
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const std::string why = std::strerror(errno);
        ::close(fd);
        throw StoreError("writing " + tmp.string() + ": " + why);
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0)
      throw StoreError("writing " + tmp.string() + ": " + std::strerror(errno));
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      throw StoreError("renaming " + tmp.string() + ": " + std::strerror(errno));
    int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
  }

  std::optional<std::string> Get(const std::string& key) override {
    CheckKey(key);
    const fs::path path = root_ / key;
    // A link inside the store could point anywhere on the host.
    std::error_code ec;
    if (fs::is_symlink(path, ec))
      throw StoreError(path.string() + " is a symbolic link; a checkpoint store holds plain files only");
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      if (!fs::exists(path)) return std::nullopt;
      throw StoreError("cannot read " + path.string());
    }
    std::ostringstream out;
    out << in.rdbuf();
    if (in.bad()) throw StoreError("reading " + path.string());
    return out.str();
  }

  std::vector<std::string> List(const std::string& prefix) override {
    CheckKey(prefix);
    std::vector<std::string> keys;
    const fs::path dir = root_ / prefix;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return keys;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      std::string name = entry.path().filename().string();
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) continue;
      keys.push_back(prefix + name + (entry.is_directory() ? "/" : ""));
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  void DeletePrefix(const std::string& prefix) override {
    CheckKey(prefix);
    std::error_code ec;
    fs::remove_all(root_ / prefix, ec);
    if (ec) throw StoreError("cannot remove " + (root_ / prefix).string() + ": " + ec.message());
  }

  std::string Describe(const std::string& key) const override { return (root_ / key).string(); }

 private:
  fs::path root_;
};

}  // namespace

std::unique_ptr<Store> OpenStore(const StoreConfig& config, std::string* error) {
  const std::string& url = config.url;
  if (url.rfind("file://", 0) == 0 && url.size() > 7) return std::make_unique<FileStore>(url.substr(7));
  if (url.rfind("s3://", 0) == 0) return OpenS3Store(config, error);
  *error = "checkpoint storage " + url + ": expected file://DIR or s3://bucket/prefix";
  return nullptr;
}

}  // namespace streamrun::checkpoint
