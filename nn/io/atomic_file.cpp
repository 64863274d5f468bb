#include <nn/io/atomic_file.hpp>

#include <autodiff/error.hpp>

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ad::nn {

namespace {

// Longest part of the target's name kept in the temporary name (NAME_MAX is 255).
constexpr std::size_t max_base_in_temp_name = 200;

[[noreturn]] void fail(const std::string& path, std::string_view step, int err) {
    throw IOError(
        fmt::format("write_file_atomically: {}: {}: {}", path, step, std::strerror(err)));
}

// A hard-to-guess suffix; uniqueness is enforced by O_EXCL anyway.
std::string temp_suffix() {
    static std::atomic<unsigned> counter{0};
    const auto now = static_cast<unsigned long long>(
        std::chrono::steady_clock::now().time_since_epoch().count());
    const unsigned long long mix =
        now * 0x9E3779B97F4A7C15ull ^ (static_cast<unsigned long long>(::getpid()) << 32) ^
        counter.fetch_add(1);
    return fmt::format("{:016x}", mix);
}

// Owns the temporary file until it is renamed: closes and removes it on failure.
class TempFile {
public:
    TempFile(const std::string& dir, const std::string& base, const std::string& target) {
        const std::string stem = base.substr(0, max_base_in_temp_name);
        for (int attempt = 0; attempt < 100; ++attempt) {
            path_ = fmt::format("{}/.{}.tmp-{}", dir, stem, temp_suffix());
            fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
            if (fd_ >= 0) return;
            if (errno != EEXIST) break;
        }
        const int err = errno;
        path_.clear();
        fail(target, "cannot create a temporary file in " + dir, err);
    }
    ~TempFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!path_.empty()) ::unlink(path_.c_str());
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    int fd() const { return fd_; }
    const std::string& path() const { return path_; }
    // Closes the descriptor, reporting the error close may return (e.g. delayed write errors).
    int close() {
        const int rc = ::close(fd_);
        fd_ = -1;
        return rc;
    }
    // Called once the file has been renamed: nothing left to clean up.
    void release() { path_.clear(); }

private:
    std::string path_;
    int fd_ = -1;
};

void write_all(int fd, std::span<const std::byte> data, const std::string& target) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail(target, "write failed", errno);
        }
        done += static_cast<std::size_t>(n);
    }
}

void sync_directory(const std::string& dir, const std::string& target) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail(target, "cannot open directory " + dir + " to sync it", errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    // Some file systems cannot sync directories (EINVAL); the rename itself is still atomic.
    if (rc != 0 && err != EINVAL) fail(target, "fsync of directory " + dir + " failed", err);
}

}  // namespace

void write_file_atomically(const std::string& path, std::span<const std::byte> data) {
    const std::size_t slash = path.rfind('/');
    const std::string dir =
        slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    if (base.empty() || base == "." || base == "..") {
        throw IOError(
            fmt::format("write_file_atomically: '{}' does not name a file", path));
    }

    TempFile temp(dir, base, path);
    struct stat old {};
    if (::stat(path.c_str(), &old) == 0) {
        if (S_ISDIR(old.st_mode)) fail(path, "cannot replace a directory", EISDIR);
        if (::fchmod(temp.fd(), old.st_mode & 07777) != 0) {
            fail(path, "cannot copy permissions to " + temp.path(), errno);
        }
    }
    write_all(temp.fd(), data, path);
    if (::fsync(temp.fd()) != 0) fail(path, "fsync of " + temp.path() + " failed", errno);
    if (temp.close() != 0) fail(path, "close of " + temp.path() + " failed", errno);
    if (::rename(temp.path().c_str(), path.c_str()) != 0) {
        fail(path, "rename from " + temp.path() + " failed", errno);
    }
    temp.release();
    sync_directory(dir, path);
}

}  // namespace ad::nn
