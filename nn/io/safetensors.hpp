#pragma once
// The safetensors file format (HuggingFace), used for checkpoints and model exchange.
//
// Layout: an 8-byte little-endian u64 N, then N bytes of JSON header
//   {"__metadata__": {"key": "value", ...},
//    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
// (padded with spaces), then the raw little-endian tensor data; offsets are relative to the
// first byte after the header and the tensors exactly tile the data area.
//
// Guarantees:
//   - save_safetensors writes atomically (see atomic_file.hpp): a crash leaves the old or the
//     new complete file. Tensors are laid out like the reference Python library does (wider
//     dtypes first, then by name), so every tensor is aligned to its element size; the header
//     is padded with spaces to a multiple of 8 bytes.
//   - load/parse validate everything before trusting it: header length (at most 100 MB and
//     within the file), a JSON object without duplicate keys, known dtypes, non-negative
//     shapes whose byte size matches the offsets (no overflow), offsets inside the data area,
//     tensors neither overlapping nor leaving gaps or trailing bytes. Nothing is allocated
//     from a size the file announces without checking it against the real file size first.
//   - every load error is an ad::IOError naming the function, the file and the tensor;
//     invalid input to save is an ad::ValueError (I/O failures while saving: ad::IOError).
// Data is stored little-endian, which is the byte order of the hosts this library supports.
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ad::nn {

// Largest header accepted when loading (the reference implementation's limit).
inline constexpr std::uint64_t safetensors_max_header_bytes = 100'000'000;

// Bytes per element of a safetensors dtype ("F32" -> 4, "BF16" -> 2, ...); 0 if unknown.
// Known: BOOL U8 I8 F8_E5M2 F8_E4M3 F8_E8M0 I16 U16 F16 BF16 I32 U32 F32 F64 I64 U64.
std::size_t safetensors_dtype_size(std::string_view dtype);

// One named tensor: its dtype, shape and raw little-endian bytes.
struct TensorRecord {
    std::string name;
    std::string dtype;  // "F32", "F64", "I64", "I32", "U8", ...
    std::vector<std::int64_t> shape;
    std::vector<std::byte> data;  // numel() * safetensors_dtype_size(dtype) bytes

    // Number of elements (product of the shape; 1 for a scalar with shape []).
    std::int64_t numel() const;
};

// The content of a safetensors file.
struct SafetensorsFile {
    std::vector<TensorRecord> tensors;  // loaded in file (data offset) order
    std::map<std::string, std::string> metadata;

    // The tensor named `name`, or nullptr.
    const TensorRecord* find(std::string_view name) const;
};

// An F32 tensor holding `values`. Throws ad::ValueError if the shape does not match.
TensorRecord make_tensor_f32(std::string name, std::vector<std::int64_t> shape,
                             std::span<const float> values);
// An I64 tensor holding `values`. Throws ad::ValueError if the shape does not match.
TensorRecord make_tensor_i64(std::string name, std::vector<std::int64_t> shape,
                             std::span<const std::int64_t> values);
// The values of a tensor of any numeric dtype converted to float (F32, F64, F16, BF16,
// signed/unsigned integers, BOOL). Throws ad::ValueError for the F8 dtypes.
std::vector<float> tensor_to_f32(const TensorRecord& tensor);
// The values of an integer or BOOL tensor as int64. Throws ad::ValueError for float dtypes
// and for U64 values above the int64 range.
std::vector<std::int64_t> tensor_to_i64(const TensorRecord& tensor);

// The bytes of a safetensors file holding `file` (what save_safetensors writes).
// Throws ad::ValueError naming the tensor if a record is inconsistent (unknown dtype, data size
// not matching the shape, negative dimension, duplicate or reserved name, invalid UTF-8).
std::vector<std::byte> serialize_safetensors(const SafetensorsFile& file);

// Writes `file` to `path` atomically.
void save_safetensors(const std::string& path, const SafetensorsFile& file);

// Reads and validates the file at `path` (streaming: peak memory is the tensors plus the
// header). Throws ad::IOError naming the file and the tensor on any problem.
SafetensorsFile load_safetensors(const std::string& path);

// Parses and validates the bytes of a safetensors file; `source_name` is used in messages.
SafetensorsFile parse_safetensors(std::span<const std::byte> bytes, std::string_view source_name);

}  // namespace ad::nn
