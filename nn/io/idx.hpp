#pragma once
// IDX files: the array format of MNIST and Fashion-MNIST.
//
// Layout: two zero bytes, a type byte, a dimension-count byte, that many big-endian uint32
// dimensions, then the elements in big-endian order, row-major. Files may be plain or gzip
// compressed; gzip is recognised by its magic bytes (1f 8b), never by the file name.
//
// Guarantees of every reader here:
//   - the header is checked against the data that actually follows before anything large is
//     allocated, so a lying header fails fast with an ad::IOError instead of allocating
//     gigabytes (gzip data is inflated into a buffer that grows with the real data and is
//     capped at the size the header announces);
//   - truncated data, trailing bytes, unknown types, zero or absurd dimension counts, and
//     dimensions whose product overflows are all errors;
//   - every error is an ad::IOError whose message names the function, the file and the problem.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ad::nn {

// Element type of an IDX file (the value is the type byte of the header).
enum class IdxType : std::uint8_t {
    u8 = 0x08,
    i8 = 0x09,
    i16 = 0x0B,
    i32 = 0x0C,
    f32 = 0x0D,
    f64 = 0x0E,
};

// Size in bytes of one element of the type.
std::size_t idx_type_size(IdxType type);
// Short name of the type: "ubyte", "sbyte", "int16", "int32", "float32", "float64".
std::string_view idx_type_name(IdxType type);

// The largest number of dimensions accepted (real files use 1 to 4).
inline constexpr std::size_t idx_max_dims = 16;

// One array read from an IDX file.
// `bytes` holds the elements exactly as stored in the file (big-endian), so ubyte images take
// one byte per pixel in memory (60000x28x28 stays 47 MB). Convert on demand with the
// accessors below; they decode big-endian for the wider types.
struct IdxArray {
    std::vector<std::size_t> shape;  // dimensions as in the header, outermost first
    IdxType type = IdxType::u8;
    std::vector<std::uint8_t> bytes;  // size() == count() * idx_type_size(type)

    // Number of elements (product of the shape).
    std::size_t count() const;
    // Elements in one item along the first dimension (product of shape[1:]; 1 for 1-d).
    std::size_t item_size() const;
    // Element i (flat, row-major) as a double. Precondition: i < count().
    double value(std::size_t i) const;
    // All elements as floats, each multiplied by `scale` (e.g. 1/255.f for pixels).
    std::vector<float> to_float(float scale = 1.0f) const;
    // Elements [first, first + out.size()) as floats times `scale`, written to `out`;
    // lets callers convert one batch at a time. Throws ad::ValueError if out of range.
    void to_float(std::size_t first, std::span<float> out, float scale = 1.0f) const;
    // All elements as int64 (float types are truncated toward zero).
    std::vector<std::int64_t> to_int64() const;
};

// Reads an IDX file, plain or gzip. Throws ad::IOError naming `path` on any problem.
IdxArray read_idx(const std::string& path);

// Parses the bytes of an uncompressed IDX file. `source_name` is used in error messages.
IdxArray parse_idx(std::span<const std::uint8_t> bytes, std::string_view source_name);

// Like parse_idx, but the bytes may also be a gzip-compressed IDX file (detected by magic);
// gzip data is inflated incrementally, never past the size the header announces.
IdxArray decode_idx(std::span<const std::uint8_t> bytes, std::string_view source_name);

// Images and labels of a labelled data set such as Fashion-MNIST.
struct LabeledImages {
    IdxArray images;  // shape [n, ...]
    IdxArray labels;  // shape [n], ubyte
};

// Reads both files and checks that the labels are a 1-d ubyte array with exactly as many
// entries as there are images. Throws ad::IOError naming the file(s) otherwise.
LabeledImages read_idx_pair(const std::string& images_path, const std::string& labels_path);

}  // namespace ad::nn
