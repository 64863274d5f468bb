#pragma once
// Small helpers shared by the test suites.
#include <cblas.h>

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

// The engine's thread count (OpenBLAS's setting) for a scope; the previous one comes back after.
struct BlasThreads {
    explicit BlasThreads(int n) : saved(openblas_get_num_threads()) { openblas_set_num_threads(n); }
    ~BlasThreads() { openblas_set_num_threads(saved); }
    BlasThreads(const BlasThreads&) = delete;
    BlasThreads& operator=(const BlasThreads&) = delete;
    int saved;
};

}  // namespace ad::test
