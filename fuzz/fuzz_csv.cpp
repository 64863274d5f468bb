// libFuzzer target: CSV parsing. The first byte picks the options (delimiter, header mode);
// the rest is the text. Only ad::Error may escape the library; a broken invariant traps.
#include <autodiff/error.hpp>
#include <nn/io/csv.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static constexpr char delimiters[] = {',', ';', '\t', ' ', '|'};
    ad::nn::CsvOptions options;
    options.delimiter = delimiters[(data[0] / 3) % sizeof delimiters];
    if (data[0] % 3 != 0) options.header = data[0] % 3 == 1;
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    try {
        const ad::nn::CsvTable t = ad::nn::parse_csv(text, "fuzz", options);
        if (t.values.size() != t.rows * t.cols || t.rows == 0 || t.cols == 0) __builtin_trap();
        if (!t.header.empty() && t.header.size() != t.cols) __builtin_trap();
        if (t.at(t.rows - 1, t.cols - 1) != t.values.back() &&
            t.values.back() == t.values.back()) {
            __builtin_trap();
        }
    } catch (const ad::Error&) {
    }
    return 0;
}
