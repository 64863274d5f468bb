// libFuzzer target: safetensors parsing. Whatever parses must also survive conversion and a
// serialize -> parse round trip unchanged. Only ad::Error may escape the library; a broken
// invariant traps.
#include <autodiff/error.hpp>
#include <nn/io/safetensors.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

namespace {

bool same(const ad::nn::SafetensorsFile& a, const ad::nn::SafetensorsFile& b) {
    if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) return false;
    for (const ad::nn::TensorRecord& t : a.tensors) {
        const ad::nn::TensorRecord* u = b.find(t.name);
        if (u == nullptr || u->dtype != t.dtype || u->shape != t.shape || u->data != t.data) {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    ad::nn::SafetensorsFile file;
    try {
        file = ad::nn::parse_safetensors(bytes, "fuzz");
    } catch (const ad::Error&) {
        return 0;
    }
    for (const ad::nn::TensorRecord& t : file.tensors) {
        try {
            if (ad::nn::tensor_to_f32(t).size() != static_cast<std::size_t>(t.numel())) {
                __builtin_trap();
            }
            (void)ad::nn::tensor_to_i64(t);
        } catch (const ad::ValueError&) {
            // F8 dtypes have no conversion; float tensors are not integers.
        }
    }
    // A valid file must serialize and parse back to the same content.
    const std::vector<std::byte> again = ad::nn::serialize_safetensors(file);
    if (!same(file, ad::nn::parse_safetensors(again, "fuzz round trip"))) __builtin_trap();
    return 0;
}
