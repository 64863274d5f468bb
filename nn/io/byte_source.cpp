#include <nn/io/byte_source.hpp>

#include <autodiff/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include <sys/stat.h>

namespace ad::nn {

namespace {
constexpr std::size_t inflate_input_chunk = std::size_t{1} << 16;
}  // namespace

std::size_t read_up_to(ByteSource& src, std::uint8_t* dst, std::size_t n) {
    std::size_t total = 0;
    while (total < n) {
        const std::size_t got = src.read(dst + total, n - total);
        if (got == 0) break;
        total += got;
    }
    return total;
}

// ---- MemorySource ----

std::size_t MemorySource::read(std::uint8_t* dst, std::size_t n) {
    const std::size_t k = std::min(n, bytes_.size() - pos_);
    if (k > 0) std::memcpy(dst, bytes_.data() + pos_, k);
    pos_ += k;
    return k;
}

// ---- FileSource ----

FileSource::FileSource(const std::string& path, std::string where) : where_(std::move(where)) {
    file_ = std::fopen(path.c_str(), "rb");
    if (file_ == nullptr) {
        throw IOError(fmt::format("{}: cannot open: {}", where_, std::strerror(errno)));
    }
    struct stat st {};
    if (::fstat(fileno(file_), &st) == 0 && S_ISREG(st.st_mode)) {
        size_ = static_cast<std::uint64_t>(st.st_size);
    }
}

FileSource::~FileSource() {
    if (file_ != nullptr) std::fclose(file_);
}

std::size_t FileSource::read_raw(std::uint8_t* dst, std::size_t n) {
    const std::size_t got = std::fread(dst, 1, n, file_);
    if (got < n && std::ferror(file_)) {
        throw IOError(fmt::format("{}: read error: {}", where_, std::strerror(errno)));
    }
    return got;
}

std::span<const std::uint8_t> FileSource::peek(std::size_t n) {
    if (peeked_.size() < n && consumed_ == 0) {
        const std::size_t have = peeked_.size();
        peeked_.resize(n);
        std::size_t total = have;
        while (total < n) {
            const std::size_t got = read_raw(peeked_.data() + total, n - total);
            if (got == 0) break;
            total += got;
        }
        peeked_.resize(total);
    }
    return {peeked_.data(), std::min(n, peeked_.size())};
}

std::size_t FileSource::read(std::uint8_t* dst, std::size_t n) {
    std::size_t got = 0;
    if (!peeked_.empty()) {
        got = std::min(n, peeked_.size());
        std::memcpy(dst, peeked_.data(), got);
        peeked_.erase(peeked_.begin(), peeked_.begin() + static_cast<std::ptrdiff_t>(got));
    }
    if (got < n) got += read_raw(dst + got, n - got);
    consumed_ += got;
    return got;
}

std::optional<std::uint64_t> FileSource::remaining() const {
    if (!size_) return std::nullopt;
    return *size_ > consumed_ ? *size_ - consumed_ : 0;
}

// ---- InflateSource ----

InflateSource::InflateSource(ByteSource& compressed, std::string where)
    : in_(compressed), where_(std::move(where)), inbuf_(inflate_input_chunk) {
    // 15 + 16: a gzip wrapper around a deflate stream with the largest window.
    if (::inflateInit2(&zs_, 15 + 16) != Z_OK) {
        throw IOError(fmt::format("{}: cannot initialise zlib inflate", where_));
    }
}

InflateSource::~InflateSource() { ::inflateEnd(&zs_); }

bool InflateSource::refill() {
    const std::size_t got = in_.read(inbuf_.data(), inbuf_.size());
    zs_.next_in = inbuf_.data();
    zs_.avail_in = static_cast<uInt>(got);
    return got > 0;
}

std::size_t InflateSource::read(std::uint8_t* dst, std::size_t n) {
    if (done_ || n == 0) return 0;
    const std::size_t want = std::min<std::size_t>(n, UINT_MAX);
    zs_.next_out = dst;
    zs_.avail_out = static_cast<uInt>(want);
    while (zs_.avail_out > 0) {
        if (zs_.avail_in == 0) refill();
        const int ret = ::inflate(&zs_, Z_NO_FLUSH);
        if (ret == Z_STREAM_END) {
            // End of one gzip member; another member may follow.
            if (zs_.avail_in == 0 && !refill()) {
                done_ = true;
                break;
            }
            ::inflateReset(&zs_);
            continue;
        }
        if (ret == Z_OK) continue;
        if (ret == Z_BUF_ERROR && zs_.avail_in == 0) {
            // No progress possible and the compressed input is exhausted.
            throw IOError(fmt::format("{}: gzip data is truncated (the compressed stream ends "
                                      "before its end marker)",
                                      where_));
        }
        throw IOError(fmt::format("{}: corrupt gzip data: {}", where_,
                                  zs_.msg != nullptr ? zs_.msg : zError(ret)));
    }
    return want - zs_.avail_out;
}

}  // namespace ad::nn
