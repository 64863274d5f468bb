// libFuzzer target: adcalc's expression parser and evaluator on arbitrary bytes.
//
// Parsing must either succeed or throw adcalc::ParseError (an ad::Error); a parsed program must
// evaluate with doubles without crashing, whatever the variables' values. Anything else (a
// crash, a sanitizer report, another exception type, a hang) is a bug.
#include "tools/adcalc/expr.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const adcalc::Expr expr = adcalc::parse_expr(text);
        const std::size_t n = expr.variables().size();
        // A few points, including the awkward ones: zero, negative, huge.
        for (const double v : {0.0, -1.5, 0.7, 1e300}) {
            std::vector<double> values(n);
            for (std::size_t i = 0; i < n; ++i) values[i] = v + static_cast<double>(i);
            static_cast<void>(expr.evaluate(values));
        }
    } catch (const ad::Error&) {
        // A clear error is the expected outcome for malformed input.
    }
    return 0;
}
