#pragma once
// Internal helper of nn/io: sequential byte sources (memory, file, gzip inflater) so that one
// parser serves files, in-memory buffers and compressed data alike.
//
// Every source throws ad::IOError (message prefixed with the `where` it was given) on a read
// failure or corrupt compressed data; end of data is a read returning 0.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <zlib.h>

namespace ad::nn {

// A forward-only stream of bytes.
class ByteSource {
public:
    virtual ~ByteSource() = default;
    // Reads up to `n` bytes into `dst`; returns how many were read, 0 only at the end.
    virtual std::size_t read(std::uint8_t* dst, std::size_t n) = 0;
    // Exact number of bytes left, when known without reading them (plain data); nullopt otherwise.
    virtual std::optional<std::uint64_t> remaining() const = 0;
};

// Reads until `n` bytes are read or the source ends; returns the number read.
std::size_t read_up_to(ByteSource& src, std::uint8_t* dst, std::size_t n);

// Bytes of a caller-owned buffer (which must outlive the source).
class MemorySource final : public ByteSource {
public:
    explicit MemorySource(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
    std::size_t read(std::uint8_t* dst, std::size_t n) override;
    std::optional<std::uint64_t> remaining() const override { return bytes_.size() - pos_; }

private:
    std::span<const std::uint8_t> bytes_;
    std::size_t pos_ = 0;
};

// A file opened for reading; remaining() is known for regular files.
class FileSource final : public ByteSource {
public:
    // Throws ad::IOError "<where>: cannot open: <strerror>" when the file cannot be opened.
    FileSource(const std::string& path, std::string where);
    ~FileSource() override;
    FileSource(const FileSource&) = delete;
    FileSource& operator=(const FileSource&) = delete;

    // Looks at up to `n` first bytes without consuming them (call before any read).
    std::span<const std::uint8_t> peek(std::size_t n);
    std::size_t read(std::uint8_t* dst, std::size_t n) override;
    std::optional<std::uint64_t> remaining() const override;

private:
    std::size_t read_raw(std::uint8_t* dst, std::size_t n);

    std::FILE* file_ = nullptr;
    std::string where_;
    std::optional<std::uint64_t> size_;  // set for regular files
    std::uint64_t consumed_ = 0;         // bytes handed out by read()
    std::vector<std::uint8_t> peeked_;   // read from the file but not yet handed out
};

// Inflates gzip data (one or more concatenated members) read from another source.
// Truncated or corrupt data and trailing garbage are errors.
class InflateSource final : public ByteSource {
public:
    InflateSource(ByteSource& compressed, std::string where);
    ~InflateSource() override;
    InflateSource(const InflateSource&) = delete;
    InflateSource& operator=(const InflateSource&) = delete;

    std::size_t read(std::uint8_t* dst, std::size_t n) override;
    std::optional<std::uint64_t> remaining() const override { return std::nullopt; }

private:
    bool refill();  // false when the compressed source is exhausted

    ByteSource& in_;
    std::string where_;
    z_stream zs_{};
    std::vector<std::uint8_t> inbuf_;
    bool done_ = false;
};

}  // namespace ad::nn
