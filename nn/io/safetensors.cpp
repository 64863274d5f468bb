// safetensors: dtypes, record helpers and writing. Reading and validation: safetensors_load.cpp.
#include <nn/io/safetensors.hpp>

#include <autodiff/error.hpp>
#include <nn/io/atomic_file.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>
#include <set>

namespace ad::nn {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this code copies it as host-order values");

namespace {

struct DtypeInfo {
    std::string_view name;
    std::size_t size;
};

// In the order of the reference implementation's Dtype enum: files are laid out from the
// last entry to the first, so wider types come first and every tensor stays aligned.
constexpr std::array<DtypeInfo, 16> dtypes{{
    {"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
    {"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},
    {"F64", 8}, {"I64", 8}, {"U64", 8},
}};

std::size_t dtype_rank(std::string_view dtype) {
    for (std::size_t i = 0; i < dtypes.size(); ++i) {
        if (dtypes[i].name == dtype) return i;
    }
    return dtypes.size();
}

template <typename T>
T load_le(const std::byte* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

float half_to_float(std::uint16_t h) {
    const int sign = (h >> 15) & 1;
    const int exponent = (h >> 10) & 0x1f;
    const int mantissa = h & 0x3ff;
    float v = 0;
    if (exponent == 0) {
        v = std::ldexp(static_cast<float>(mantissa), -24);
    } else if (exponent == 31) {
        v = mantissa == 0 ? INFINITY : NAN;
    } else {
        v = std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
    }
    return sign ? -v : v;
}

// Element `i` of an integer or BOOL tensor; false if the dtype is not an integer type.
bool integer_at(const TensorRecord& t, std::size_t i, std::int64_t& out, bool& too_big) {
    const std::string_view d = t.dtype;
    const std::byte* p = t.data.data() + i * safetensors_dtype_size(d);
    too_big = false;
    if (d == "BOOL") out = load_le<std::uint8_t>(p) != 0;
    else if (d == "U8") out = load_le<std::uint8_t>(p);
    else if (d == "I8") out = load_le<std::int8_t>(p);
    else if (d == "I16") out = load_le<std::int16_t>(p);
    else if (d == "U16") out = load_le<std::uint16_t>(p);
    else if (d == "I32") out = load_le<std::int32_t>(p);
    else if (d == "U32") out = load_le<std::uint32_t>(p);
    else if (d == "I64") out = load_le<std::int64_t>(p);
    else if (d == "U64") {
        const auto u = load_le<std::uint64_t>(p);
        too_big = u > static_cast<std::uint64_t>(INT64_MAX);
        out = static_cast<std::int64_t>(u);
    } else {
        return false;
    }
    return true;
}

// Checks that `t` is a consistent record; returns its byte size. `where` prefixes messages.
std::size_t checked_size(const TensorRecord& t, const std::string& where) {
    const std::size_t esize = safetensors_dtype_size(t.dtype);
    if (esize == 0) {
        throw ValueError(
            fmt::format("{}: tensor '{}': unknown dtype '{}'", where, t.name, t.dtype));
    }
    std::uint64_t bytes = esize;
    for (std::int64_t d : t.shape) {
        if (d < 0) {
            throw ValueError(fmt::format("{}: tensor '{}': negative dimension in shape [{}]", where,
                                         t.name, fmt::join(t.shape, ", ")));
        }
        if (__builtin_mul_overflow(bytes, static_cast<std::uint64_t>(d), &bytes)) {
            throw ValueError(fmt::format("{}: tensor '{}': shape [{}] overflows", where, t.name,
                                         fmt::join(t.shape, ", ")));
        }
    }
    if (bytes != t.data.size()) {
        throw ValueError(fmt::format("{}: tensor '{}': shape [{}] of {} needs {} bytes but the "
                                     "record holds {}",
                                     where, t.name, fmt::join(t.shape, ", "), t.dtype, bytes,
                                     t.data.size()));
    }
    return t.data.size();
}

std::vector<std::byte> serialize(const SafetensorsFile& file, const std::string& where) {
    std::set<std::string_view> names;
    std::vector<std::size_t> order(file.tensors.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    for (const TensorRecord& t : file.tensors) {
        checked_size(t, where);
        if (t.name == "__metadata__") {
            throw ValueError(
                fmt::format("{}: '__metadata__' is reserved, not a tensor name", where));
        }
        if (!names.insert(t.name).second) {
            throw ValueError(fmt::format("{}: two tensors are named '{}'", where, t.name));
        }
    }
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        const TensorRecord& x = file.tensors[a];
        const TensorRecord& y = file.tensors[b];
        const std::size_t rx = dtype_rank(x.dtype);
        const std::size_t ry = dtype_rank(y.dtype);
        return rx != ry ? rx > ry : x.name < y.name;
    });

    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
    std::uint64_t offset = 0;
    for (std::size_t i : order) {
        const TensorRecord& t = file.tensors[i];
        header[t.name] = {{"dtype", t.dtype},
                          {"shape", t.shape},
                          {"data_offsets", {offset, offset + t.data.size()}}};
        offset += t.data.size();
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const nlohmann::json::exception& e) {
        throw ValueError(fmt::format("{}: a tensor name or metadata string is not valid UTF-8 ({})",
                                     where, e.what()));
    }
    text.append((8 - text.size() % 8) % 8, ' ');
    if (text.size() > safetensors_max_header_bytes) {
        throw ValueError(fmt::format("{}: header of {} bytes exceeds the {}-byte limit", where,
                                     text.size(), safetensors_max_header_bytes));
    }

    std::vector<std::byte> out(8 + text.size() + offset);
    const std::uint64_t n = text.size();
    std::memcpy(out.data(), &n, 8);
    std::memcpy(out.data() + 8, text.data(), text.size());
    std::byte* data = out.data() + 8 + text.size();
    for (std::size_t i : order) {
        const TensorRecord& t = file.tensors[i];
        if (!t.data.empty()) std::memcpy(data, t.data.data(), t.data.size());
        data += t.data.size();
    }
    return out;
}

}  // namespace

std::size_t safetensors_dtype_size(std::string_view dtype) {
    const std::size_t rank = dtype_rank(dtype);
    return rank < dtypes.size() ? dtypes[rank].size : 0;
}

std::int64_t TensorRecord::numel() const {
    std::int64_t n = 1;
    for (std::int64_t d : shape) n *= d;
    return n;
}

const TensorRecord* SafetensorsFile::find(std::string_view name) const {
    for (const TensorRecord& t : tensors) {
        if (t.name == name) return &t;
    }
    return nullptr;
}

TensorRecord make_tensor_f32(std::string name, std::vector<std::int64_t> shape,
                             std::span<const float> values) {
    TensorRecord t{std::move(name), "F32", std::move(shape), {}};
    t.data.resize(values.size_bytes());
    if (!values.empty()) std::memcpy(t.data.data(), values.data(), values.size_bytes());
    checked_size(t, "make_tensor_f32");
    return t;
}

TensorRecord make_tensor_i64(std::string name, std::vector<std::int64_t> shape,
                             std::span<const std::int64_t> values) {
    TensorRecord t{std::move(name), "I64", std::move(shape), {}};
    t.data.resize(values.size_bytes());
    if (!values.empty()) std::memcpy(t.data.data(), values.data(), values.size_bytes());
    checked_size(t, "make_tensor_i64");
    return t;
}

std::vector<float> tensor_to_f32(const TensorRecord& t) {
    const std::size_t n = checked_size(t, "tensor_to_f32") / safetensors_dtype_size(t.dtype);
    std::vector<float> out(n);
    const std::byte* p = t.data.data();
    const std::string_view d = t.dtype;
    for (std::size_t i = 0; i < n; ++i) {
        std::int64_t v = 0;
        bool too_big = false;
        if (d == "F32") out[i] = load_le<float>(p + 4 * i);
        else if (d == "F64") out[i] = static_cast<float>(load_le<double>(p + 8 * i));
        else if (d == "F16") out[i] = half_to_float(load_le<std::uint16_t>(p + 2 * i));
        else if (d == "BF16") {
            out[i] = std::bit_cast<float>(std::uint32_t{load_le<std::uint16_t>(p + 2 * i)} << 16);
        } else if (d == "U64") out[i] = static_cast<float>(load_le<std::uint64_t>(p + 8 * i));
        else if (integer_at(t, i, v, too_big)) out[i] = static_cast<float>(v);
        else {
            throw ValueError(fmt::format("tensor_to_f32: tensor '{}': dtype {} is not supported",
                                         t.name, t.dtype));
        }
    }
    return out;
}

std::vector<std::int64_t> tensor_to_i64(const TensorRecord& t) {
    const std::size_t n = checked_size(t, "tensor_to_i64") / safetensors_dtype_size(t.dtype);
    std::vector<std::int64_t> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        bool too_big = false;
        if (!integer_at(t, i, out[i], too_big)) {
            throw ValueError(fmt::format(
                "tensor_to_i64: tensor '{}': dtype {} is not an integer type", t.name, t.dtype));
        }
        if (too_big) {
            throw ValueError(fmt::format("tensor_to_i64: tensor '{}': element {} exceeds the "
                                         "int64 range",
                                         t.name, i));
        }
    }
    return out;
}

std::vector<std::byte> serialize_safetensors(const SafetensorsFile& file) {
    return serialize(file, "serialize_safetensors");
}

void save_safetensors(const std::string& path, const SafetensorsFile& file) {
    write_file_atomically(path, serialize(file, fmt::format("save_safetensors: {}", path)));
}

}  // namespace ad::nn
