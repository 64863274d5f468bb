// libFuzzer target: IDX parsing of arbitrary bytes, plain (parse_idx) and plain-or-gzip
// (decode_idx). Only ad::Error may escape the library; a broken invariant traps.
#include <autodiff/error.hpp>
#include <nn/io/idx.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

namespace {

void check(const ad::nn::IdxArray& a) {
    if (a.bytes.size() != a.count() * ad::nn::idx_type_size(a.type)) __builtin_trap();
    if (a.shape.empty() || a.shape.size() > ad::nn::idx_max_dims) __builtin_trap();
    const std::vector<float> f = a.to_float(0.5f);
    if (f.size() != a.count()) __builtin_trap();
    try {
        (void)a.to_int64();
    } catch (const ad::ValueError&) {
        // NaN or huge floats have no int64 value.
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    try {
        check(ad::nn::parse_idx(bytes, "fuzz"));
    } catch (const ad::Error&) {
    }
    try {
        check(ad::nn::decode_idx(bytes, "fuzz"));
    } catch (const ad::Error&) {
    }
    return 0;
}
