// safetensors: reading and validation. Writing: safetensors.cpp.
#include <nn/io/safetensors.hpp>

#include <autodiff/error.hpp>
#include <nn/io/byte_source.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <set>

namespace ad::nn {

namespace {

using json = nlohmann::json;

// A tensor's header entry, validated against the size of the data area.
struct Entry {
    std::string name;
    std::string dtype;
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
};

struct Header {
    std::vector<Entry> entries;  // sorted by data offset
    std::map<std::string, std::string> metadata;
};

// A name as shown in messages: cut when very long.
std::string shown(std::string_view name) {
    constexpr std::size_t max_shown = 100;
    if (name.size() <= max_shown) return fmt::format("'{}'", name);
    return fmt::format("'{}...'", name.substr(0, max_shown));
}

// A non-negative JSON integer, or nullopt (negative, fractional, not a number, too big).
std::optional<std::uint64_t> non_negative(const json& v) {
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
        return static_cast<std::uint64_t>(v.get<std::int64_t>());
    }
    return std::nullopt;
}

Entry parse_entry(const std::string& name, const json& value, std::uint64_t data_size,
                  const std::string& where) {
    const std::string tensor = fmt::format("{}: tensor {}", where, shown(name));
    if (!value.is_object()) {
        throw IOError(fmt::format("{}: entry is a JSON {}, not an object", tensor,
                                  value.type_name()));
    }
    for (const auto& item : value.items()) {
        if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets") {
            throw IOError(fmt::format("{}: unknown field {}", tensor, shown(item.key())));
        }
    }
    for (const char* field : {"dtype", "shape", "data_offsets"}) {
        if (!value.contains(field)) {
            throw IOError(fmt::format("{}: missing field '{}'", tensor, field));
        }
    }
    Entry e;
    e.name = name;
    const json& dtype = value["dtype"];
    if (!dtype.is_string() || safetensors_dtype_size(dtype.get<std::string>()) == 0) {
        throw IOError(fmt::format("{}: unknown dtype {}", tensor,
                                  dtype.is_string() ? shown(dtype.get<std::string>())
                                                    : std::string("of JSON type ") +
                                                          dtype.type_name()));
    }
    e.dtype = dtype.get<std::string>();

    const json& shape = value["shape"];
    if (!shape.is_array()) {
        throw IOError(fmt::format("{}: shape is a JSON {}, not an array", tensor,
                                  shape.type_name()));
    }
    std::uint64_t nbytes = safetensors_dtype_size(e.dtype);
    for (const json& d : shape) {
        const std::optional<std::uint64_t> dim = non_negative(d);
        if (!dim || *dim > static_cast<std::uint64_t>(INT64_MAX)) {
            throw IOError(fmt::format("{}: shape entry {} is not a non-negative integer", tensor,
                                      d.is_number() ? d.dump() : d.type_name()));
        }
        e.shape.push_back(static_cast<std::int64_t>(*dim));
        if (__builtin_mul_overflow(nbytes, *dim, &nbytes)) {
            throw IOError(fmt::format("{}: shape [{}...] of {} overflows 64 bits", tensor,
                                      fmt::join(e.shape, ", "), e.dtype));
        }
    }

    const json& offsets = value["data_offsets"];
    std::optional<std::uint64_t> begin;
    std::optional<std::uint64_t> end;
    if (offsets.is_array() && offsets.size() == 2) {
        begin = non_negative(offsets[0]);
        end = non_negative(offsets[1]);
    }
    if (!begin || !end) {
        throw IOError(fmt::format("{}: data_offsets must be two non-negative integers", tensor));
    }
    e.begin = *begin;
    e.end = *end;
    if (e.end < e.begin) {
        throw IOError(
            fmt::format("{}: data_offsets [{}, {}] end before they begin", tensor, e.begin, e.end));
    }
    if (e.end > data_size) {
        throw IOError(fmt::format("{}: data_offsets [{}, {}] point past the end of the {}-byte "
                                  "data area",
                                  tensor, e.begin, e.end, data_size));
    }
    if (e.end - e.begin != nbytes) {
        throw IOError(fmt::format("{}: shape [{}] of {} needs {} bytes but data_offsets [{}, {}] "
                                  "span {}",
                                  tensor, fmt::join(e.shape, ", "), e.dtype, nbytes, e.begin,
                                  e.end, e.end - e.begin));
    }
    return e;
}

// Nesting and array sizes a safetensors header never exceeds: root object, tensor entry,
// shape array; shapes of at most this many dimensions.
constexpr std::size_t max_json_depth = 3;
constexpr std::size_t max_json_array = 1024;

// Parses the JSON text, rejecting duplicate keys (which JSON parsers silently merge) and,
// while parsing, any nesting or array a safetensors header cannot have, so that the parsed
// document stays small compared with the text.
json parse_json(std::string_view text, const std::string& where) {
    struct Level {
        bool is_array = false;
        std::size_t count = 0;           // elements so far (arrays)
        std::set<std::string> keys;      // keys so far (objects)
    };
    std::vector<Level> open;
    std::optional<std::string> duplicate;
    const auto count_element = [&] {
        if (!open.empty() && open.back().is_array && ++open.back().count > max_json_array) {
            throw IOError(fmt::format("{}: header has a JSON array of more than {} elements",
                                      where, max_json_array));
        }
    };
    const json::parser_callback_t watch = [&](int, json::parse_event_t event, json& parsed) {
        switch (event) {
            case json::parse_event_t::object_start:
            case json::parse_event_t::array_start:
                count_element();
                if (open.size() >= max_json_depth) {
                    throw IOError(fmt::format("{}: header nests JSON deeper than {} levels",
                                              where, max_json_depth));
                }
                open.push_back(Level{event == json::parse_event_t::array_start, 0, {}});
                break;
            case json::parse_event_t::object_end:
            case json::parse_event_t::array_end: open.pop_back(); break;
            case json::parse_event_t::key:
                if (!open.empty() &&
                    !open.back().keys.insert(parsed.get_ref<const std::string&>()).second &&
                    !duplicate) {
                    duplicate = parsed.get_ref<const std::string&>();
                }
                break;
            case json::parse_event_t::value: count_element(); break;
        }
        return true;
    };
    json root;
    try {
        root = json::parse(text.begin(), text.end(), watch);
    } catch (const json::exception& e) {
        throw IOError(fmt::format("{}: header is not valid JSON: {}", where, e.what()));
    }
    if (duplicate) {
        throw IOError(fmt::format("{}: header has the key {} twice", where, shown(*duplicate)));
    }
    return root;
}

Header parse_header(std::string_view text, std::uint64_t data_size, const std::string& where) {
    const json root = parse_json(text, where);
    if (!root.is_object()) {
        throw IOError(fmt::format("{}: header is a JSON {}, not an object", where,
                                  root.type_name()));
    }
    Header h;
    for (const auto& item : root.items()) {
        if (item.key() != "__metadata__") {
            h.entries.push_back(parse_entry(item.key(), item.value(), data_size, where));
            continue;
        }
        if (!item.value().is_object()) {
            throw IOError(fmt::format("{}: __metadata__ is a JSON {}, not an object", where,
                                      item.value().type_name()));
        }
        for (const auto& m : item.value().items()) {
            if (!m.value().is_string()) {
                throw IOError(fmt::format("{}: __metadata__ value of {} is a JSON {}, not a "
                                          "string",
                                          where, shown(m.key()), m.value().type_name()));
            }
            h.metadata[m.key()] = m.value().get<std::string>();
        }
    }
    std::stable_sort(h.entries.begin(), h.entries.end(), [](const Entry& a, const Entry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    // The tensors must tile the data area exactly: no overlap, no gap, no trailing bytes.
    std::uint64_t covered = 0;
    const Entry* previous = nullptr;
    for (const Entry& e : h.entries) {
        if (e.begin < covered) {
            throw IOError(fmt::format("{}: tensor {} (bytes [{}, {})) overlaps tensor {} (bytes "
                                      "[{}, {}))",
                                      where, shown(e.name), e.begin, e.end, shown(previous->name),
                                      previous->begin, previous->end));
        }
        if (e.begin > covered) {
            throw IOError(fmt::format("{}: bytes [{}, {}) of the data area belong to no tensor "
                                      "(gap before tensor {})",
                                      where, covered, e.begin, shown(e.name)));
        }
        covered = e.end;
        previous = &e;
    }
    if (covered != data_size) {
        throw IOError(fmt::format("{}: the data area has {} bytes but the tensors cover only {} "
                                  "({} trailing bytes)",
                                  where, data_size, covered, data_size - covered));
    }
    return h;
}

// Reads a whole safetensors file of `total` bytes from `src`.
SafetensorsFile read_from(ByteSource& src, std::uint64_t total, const std::string& where) {
    std::uint8_t len_bytes[8];
    if (total < 8 || read_up_to(src, len_bytes, 8) < 8) {
        throw IOError(fmt::format("{}: file is {} bytes, too short for the 8-byte header length",
                                  where, total));
    }
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
    if (n > safetensors_max_header_bytes) {
        throw IOError(fmt::format("{}: header length {} exceeds the limit of {} bytes", where, n,
                                  safetensors_max_header_bytes));
    }
    if (n > total - 8) {
        throw IOError(fmt::format("{}: header length {} exceeds the {} bytes that follow it",
                                  where, n, total - 8));
    }
    std::string text(n, '\0');
    if (read_up_to(src, reinterpret_cast<std::uint8_t*>(text.data()), n) < n) {
        throw IOError(fmt::format("{}: file ended inside the {}-byte header", where, n));
    }
    Header header = parse_header(text, total - 8 - n, where);

    SafetensorsFile out;
    out.metadata = std::move(header.metadata);
    out.tensors.reserve(header.entries.size());
    for (Entry& e : header.entries) {  // in data order, so the data is read sequentially
        TensorRecord t{std::move(e.name), std::move(e.dtype), std::move(e.shape), {}};
        t.data.resize(e.end - e.begin);
        const std::size_t got =
            read_up_to(src, reinterpret_cast<std::uint8_t*>(t.data.data()), t.data.size());
        if (got < t.data.size()) {
            throw IOError(fmt::format("{}: tensor {}: file ended inside its data", where,
                                      shown(t.name)));
        }
        out.tensors.push_back(std::move(t));
    }
    return out;
}

}  // namespace

SafetensorsFile load_safetensors(const std::string& path) {
    const std::string where = fmt::format("load_safetensors: {}", path);
    FileSource file(path, where);
    if (const std::optional<std::uint64_t> size = file.remaining()) {
        return read_from(file, *size, where);
    }
    // Not a regular file (a pipe, say): its size is only known once it is read.
    std::vector<std::uint8_t> bytes;
    std::uint8_t chunk[1 << 16];
    while (const std::size_t got = file.read(chunk, sizeof chunk)) {
        bytes.insert(bytes.end(), chunk, chunk + got);
    }
    MemorySource mem(bytes);
    return read_from(mem, bytes.size(), where);
}

SafetensorsFile parse_safetensors(std::span<const std::byte> bytes, std::string_view source_name) {
    MemorySource mem({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
    return read_from(mem, bytes.size(), fmt::format("parse_safetensors: {}", source_name));
}

}  // namespace ad::nn
