#pragma once
// The engine's own threads: a process-wide team that runs the parts of one large job — the row
// blocks of a matrix product, the slices of an optimizer's update — one part per core.
//
//     detail::run_parts(parts, [&](int p) { /* part p of parts, independent of the others */ });
//
// The caller runs part 0 and takes further parts with the helpers, each the next one not yet
// taken; run_parts returns when all are done. Part 0 is always the caller's, and with one helper
// (2 threads) part 1 is the helper's unless the caller finished part 0 before the helper woke: so
// the data of block p stays in one core's cache from job to job (a weight's rows in the forward
// product, its gradient's rows, the optimizer's slice; linalg.hpp's GemmCut).
//
// The helpers start on first use and stay: after a part each one spins for 0.5 ms (a training
// step's next large op comes within microseconds) and then sleeps on a condition variable.
//
// How many threads: as many as OpenBLAS is set to use (OPENBLAS_NUM_THREADS or
// openblas_set_num_threads), the engine's one thread-count knob; see engine_threads().
//
// Why not OpenBLAS's own threads: on the 2-core machines we measure on, OpenBLAS 0.3.21 split the
// Fashion-MNIST step's five products (128×256×784 and smaller) over its 2 threads 1.5× faster
// than one thread (834–843 µs against 1288–1305 µs), while the same products cut into two row
// blocks, each computed by single-threaded OpenBLAS on its own core, took 653–661 µs. For the
// 64-128-64-10 step's products OpenBLAS's threads lost to one thread (78 against 53 µs) and the
// row blocks won (39 µs). Measured with a cblas_sgemm loop, median of 1500 calls per shape.
//
// Rules for a part: it must not throw (the process terminates if it does) and must not depend on
// another part. When the team is busy (another thread of the program is using it) or a helper
// cannot be started, the caller runs those parts itself: same results, less parallelism. A part
// that calls run_parts runs its inner parts itself. After fork() the child starts a new team.
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace ad::detail {

// The thread count the engine uses for its large jobs: openblas_get_num_threads(), at least 1.
int engine_threads();

// Runs fn(ctx, p) once for every p in [0, parts), on the caller (part 0 first) and up to
// parts − 1 helpers, each taking the next part not yet taken; returns when all are done.
void run_parts_raw(int parts, void (*fn)(void*, int), void* ctx) noexcept;

template <class F>
void run_parts(int parts, F&& f) noexcept {
    run_parts_raw(
        parts, [](void* c, int p) { (*static_cast<std::remove_reference_t<F>*>(c))(p); }, static_cast<void*>(&f));
}

// [begin, end) of part p when n items are cut into `parts` parts whose sizes are multiples of
// `align` (except the last); parts past the end are empty.
inline std::pair<std::int64_t, std::int64_t> part_range(std::int64_t n, int parts, int p, std::int64_t align) {
    std::int64_t chunk = (n + parts - 1) / parts;
    chunk = (chunk + align - 1) / align * align;
    const std::int64_t b = std::min<std::int64_t>(n, chunk * p), e = std::min<std::int64_t>(n, b + chunk);
    return {b, e};
}

// How many parts of `align`-multiples n items make with at most `threads` threads (≥ 1).
inline int parts_for(std::int64_t n, int threads, std::int64_t align) {
    if (threads <= 1 || n <= align) return 1;
    std::int64_t chunk = (n + threads - 1) / threads;
    chunk = (chunk + align - 1) / align * align;
    return static_cast<int>((n + chunk - 1) / chunk);
}

}  // namespace ad::detail
