#include <nn/io/idx.hpp>

#include <autodiff/error.hpp>
#include <nn/io/byte_source.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <optional>

namespace ad::nn {

namespace {

// Size of the first buffer when the amount of data is not known in advance (gzip).
constexpr std::size_t initial_chunk = std::size_t{1} << 20;

std::string shape_text(const std::vector<std::size_t>& shape) {
    return fmt::format("[{}]", fmt::join(shape, ", "));
}

std::uint32_t load_be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

std::uint64_t load_be64(const std::uint8_t* p) {
    return (std::uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
}

std::optional<IdxType> idx_type_from_byte(std::uint8_t b) {
    switch (b) {
        case 0x08: return IdxType::u8;
        case 0x09: return IdxType::i8;
        case 0x0B: return IdxType::i16;
        case 0x0C: return IdxType::i32;
        case 0x0D: return IdxType::f32;
        case 0x0E: return IdxType::f64;
        default: return std::nullopt;
    }
}

// Reads an IDX array from `src`. `where` is "function: source" for messages; `compressed`
// only changes the wording of messages.
IdxArray parse_stream(ByteSource& src, const std::string& where, bool compressed) {
    std::uint8_t head[4];
    const std::size_t got = read_up_to(src, head, 4);
    if (got < 4) {
        throw IOError(fmt::format("{}: too short for an IDX header ({} bytes, need at least 4)",
                                  where, got));
    }
    if (head[0] != 0 || head[1] != 0) {
        throw IOError(fmt::format(
            "{}: wrong magic: an IDX file starts with bytes 00 00, this one with {:02x} {:02x}",
            where, head[0], head[1]));
    }
    const std::optional<IdxType> type = idx_type_from_byte(head[2]);
    if (!type) {
        throw IOError(fmt::format(
            "{}: unknown element type byte 0x{:02x} (known: 08 ubyte, 09 sbyte, 0b int16, "
            "0c int32, 0d float32, 0e float64)",
            where, head[2]));
    }
    const std::size_t ndims = head[3];
    if (ndims == 0 || ndims > idx_max_dims) {
        throw IOError(fmt::format("{}: header has {} dimensions (must be between 1 and {})", where,
                                  ndims, idx_max_dims));
    }

    std::uint8_t dims_raw[4 * idx_max_dims];
    const std::size_t dims_got = read_up_to(src, dims_raw, 4 * ndims);
    if (dims_got < 4 * ndims) {
        throw IOError(fmt::format("{}: header announces {} dimensions but is truncated after {} of "
                                  "their {} bytes",
                                  where, ndims, dims_got, 4 * ndims));
    }
    IdxArray out;
    out.type = *type;
    out.shape.resize(ndims);
    std::size_t count = 1;
    bool overflow = false;
    for (std::size_t d = 0; d < ndims; ++d) {
        out.shape[d] = load_be32(dims_raw + 4 * d);
        overflow = overflow || __builtin_mul_overflow(count, out.shape[d], &count);
    }
    std::size_t nbytes = 0;
    if (overflow || __builtin_mul_overflow(count, idx_type_size(*type), &nbytes)) {
        throw IOError(fmt::format("{}: dimensions {} of {} overflow: their size does not fit in "
                                  "memory addresses",
                                  where, shape_text(out.shape), idx_type_name(*type)));
    }
    const std::string announced = fmt::format("header says shape {} of {} ({} bytes)",
                                              shape_text(out.shape), idx_type_name(*type), nbytes);
    const char* after = compressed ? " after decompression" : "";

    if (const std::optional<std::uint64_t> left = src.remaining()) {
        // Size known in advance: compare before allocating anything.
        if (*left < nbytes) {
            throw IOError(fmt::format("{}: {} but only {} bytes of data follow (truncated)", where,
                                      announced, *left));
        }
        if (*left > nbytes) {
            throw IOError(fmt::format("{}: {} but {} bytes of data follow ({} trailing bytes)",
                                      where, announced, *left, *left - nbytes));
        }
        out.bytes.resize(nbytes);
        const std::size_t n = read_up_to(src, out.bytes.data(), nbytes);
        if (n < nbytes) {
            throw IOError(fmt::format("{}: {} but only {} bytes of data could be read", where,
                                      announced, n));
        }
        return out;
    }

    // Size unknown (gzip): grow with the data actually produced, never past `nbytes`.
    std::size_t filled = 0;
    out.bytes.resize(std::min(nbytes, initial_chunk));
    while (filled < nbytes) {
        if (filled == out.bytes.size()) {
            const std::size_t grown = std::min(nbytes, 2 * out.bytes.size());
            out.bytes.reserve(grown);  // exact: resize alone may over-allocate
            out.bytes.resize(grown);
        }
        const std::size_t n = src.read(out.bytes.data() + filled, out.bytes.size() - filled);
        if (n == 0) {
            throw IOError(fmt::format("{}: {} but only {} bytes of data follow{} (truncated)",
                                      where, announced, filled, after));
        }
        filled += n;
    }
    std::uint8_t extra = 0;
    if (src.read(&extra, 1) != 0) {
        throw IOError(fmt::format("{}: {} but more data follows{} (trailing bytes)", where,
                                  announced, after));
    }
    return out;
}

bool starts_with_gzip_magic(std::span<const std::uint8_t> head) {
    return head.size() >= 2 && head[0] == 0x1f && head[1] == 0x8b;
}

// Reads `path` with a plain or gzip source chosen by its first two bytes.
IdxArray read_idx_file(const std::string& path, const std::string& op) {
    const std::string where = fmt::format("{}: {}", op, path);
    FileSource file(path, where);
    const std::span<const std::uint8_t> head = file.peek(2);
    if (starts_with_gzip_magic(head)) {
        InflateSource inflated(file, where);
        return parse_stream(inflated, where, true);
    }
    return parse_stream(file, where, false);
}

}  // namespace

std::size_t idx_type_size(IdxType type) {
    switch (type) {
        case IdxType::u8:
        case IdxType::i8: return 1;
        case IdxType::i16: return 2;
        case IdxType::i32:
        case IdxType::f32: return 4;
        case IdxType::f64: return 8;
    }
    throw ValueError(fmt::format("idx_type_size: invalid IdxType {}", static_cast<int>(type)));
}

std::string_view idx_type_name(IdxType type) {
    switch (type) {
        case IdxType::u8: return "ubyte";
        case IdxType::i8: return "sbyte";
        case IdxType::i16: return "int16";
        case IdxType::i32: return "int32";
        case IdxType::f32: return "float32";
        case IdxType::f64: return "float64";
    }
    return "invalid";
}

std::size_t IdxArray::count() const {
    std::size_t n = 1;
    for (std::size_t d : shape) n *= d;
    return n;
}

std::size_t IdxArray::item_size() const {
    std::size_t n = 1;
    for (std::size_t d = 1; d < shape.size(); ++d) n *= shape[d];
    return n;
}

double IdxArray::value(std::size_t i) const {
    const std::size_t size = idx_type_size(type);
    if (i >= bytes.size() / size) {
        throw ValueError(fmt::format("IdxArray::value: index {} out of range for {} elements", i,
                                     bytes.size() / size));
    }
    const std::uint8_t* p = bytes.data() + i * size;
    switch (type) {
        case IdxType::u8: return p[0];
        case IdxType::i8: return static_cast<std::int8_t>(p[0]);
        case IdxType::i16:
            return static_cast<std::int16_t>(static_cast<std::uint16_t>((p[0] << 8) | p[1]));
        case IdxType::i32: return static_cast<std::int32_t>(load_be32(p));
        case IdxType::f32: return std::bit_cast<float>(load_be32(p));
        case IdxType::f64: return std::bit_cast<double>(load_be64(p));
    }
    return 0.0;
}

void IdxArray::to_float(std::size_t first, std::span<float> out, float scale) const {
    const std::size_t n = bytes.size() / idx_type_size(type);
    if (first > n || out.size() > n - first) {
        throw ValueError(fmt::format("IdxArray::to_float: elements [{}, {}) out of range for {}",
                                     first, first + out.size(), n));
    }
    if (type == IdxType::u8) {
        const std::uint8_t* p = bytes.data() + first;
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(p[i]) * scale;
        return;
    }
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = static_cast<float>(value(first + i)) * scale;
    }
}

std::vector<float> IdxArray::to_float(float scale) const {
    std::vector<float> out(bytes.size() / idx_type_size(type));
    to_float(0, out, scale);
    return out;
}

std::vector<std::int64_t> IdxArray::to_int64() const {
    const std::size_t n = bytes.size() / idx_type_size(type);
    std::vector<std::int64_t> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double v = value(i);
        // -2^63 and 2^63 are exact doubles; NaN fails both comparisons.
        if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0)) {
            throw ValueError(
                fmt::format("IdxArray::to_int64: element {} is {}, not representable", i, v));
        }
        out[i] = static_cast<std::int64_t>(v);
    }
    return out;
}

IdxArray read_idx(const std::string& path) { return read_idx_file(path, "read_idx"); }

IdxArray parse_idx(std::span<const std::uint8_t> bytes, std::string_view source_name) {
    MemorySource mem(bytes);
    return parse_stream(mem, fmt::format("parse_idx: {}", source_name), false);
}

IdxArray decode_idx(std::span<const std::uint8_t> bytes, std::string_view source_name) {
    const std::string where = fmt::format("decode_idx: {}", source_name);
    MemorySource mem(bytes);
    if (starts_with_gzip_magic(bytes)) {
        InflateSource inflated(mem, where);
        return parse_stream(inflated, where, true);
    }
    return parse_stream(mem, where, false);
}

LabeledImages read_idx_pair(const std::string& images_path, const std::string& labels_path) {
    LabeledImages out;
    out.images = read_idx_file(images_path, "read_idx_pair");
    out.labels = read_idx_file(labels_path, "read_idx_pair");
    if (out.labels.shape.size() != 1 || out.labels.type != IdxType::u8) {
        throw IOError(fmt::format(
            "read_idx_pair: {}: labels must be a 1-d ubyte array, got shape {} of {}",
            labels_path, shape_text(out.labels.shape), idx_type_name(out.labels.type)));
    }
    if (out.images.shape[0] != out.labels.shape[0]) {
        throw IOError(fmt::format(
            "read_idx_pair: {} has {} images but {} has {} labels", images_path,
            out.images.shape[0], labels_path, out.labels.shape[0]));
    }
    return out;
}

}  // namespace ad::nn
