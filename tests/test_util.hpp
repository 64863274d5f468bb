#pragma once
// Small helpers shared by the test suites.
#include <string>

namespace ad::test {

// The message of the exception of type E that f() throws, or "(no exception)".
template <class E, class F>
std::string error_of(F f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    return "(no exception)";
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace ad::test
