#pragma once
// Timing helpers shared by the benchmarks: median of repetitions after one warm-up run.
#include <algorithm>
#include <chrono>
#include <vector>

namespace bench {

template <class F>
double median_seconds(int reps, F&& f) {
    f();  // warm-up: caches, tape capacity, allocator
    std::vector<double> t;
    for (int i = 0; i < std::max(reps, 1); ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

}  // namespace bench
