// The caching allocator behind tensor storage.
//
// Blocks are rounded up to a size class (powers of two above 64 bytes, with four steps per
// doubling) and kept on a per-thread free list when released, so a training loop that allocates
// the same shapes every step reaches a steady state with no calls to malloc. Blocks are 64-byte
// aligned (AVX-512 friendly). A thread's cache is returned to the system when the thread ends.
#include <autodiff/tensor.hpp>

#include <cstdint>
#include <cstdlib>
#include <new>
#include <unordered_map>
#include <vector>

namespace ad {
namespace {

std::size_t size_class_raw(std::size_t n) {
    if (n <= 64) return 64;
    std::size_t p = 64;
    while (p < n) {
        // four steps between p and 2p: p, 1.25p, 1.5p, 1.75p
        for (std::size_t k = 1; k <= 4; ++k) {
            const std::size_t c = p + p / 4 * k;
            if (c >= n) return c;
        }
        p *= 2;
    }
    return p;
}

// Size classes are multiples of 64 (aligned_alloc requires the size to be a multiple of the
// alignment).
std::size_t size_class(std::size_t n) {
    const std::size_t c = size_class_raw(n);
    return (c + 63) / 64 * 64;
}

thread_local bool cache_gone = false;  // trivially destructible: safe to read after ~Cache

struct Cache {
    std::unordered_map<std::size_t, std::vector<void*>> free;
    std::size_t cached_bytes = 0;
    ~Cache() {
        cache_gone = true;
        for (auto& [size, blocks] : free)
            for (void* p : blocks) std::free(p);
    }
};
Cache& cache() {
    thread_local Cache c;
    return c;
}
constexpr std::size_t kMaxCachedBytes = std::size_t(1) << 31;

}  // namespace

Storage::Storage(std::size_t nbytes) {
    // No object is larger than PTRDIFF_MAX bytes (and the size classes would overflow above it).
    if (nbytes > static_cast<std::size_t>(PTRDIFF_MAX)) throw std::bad_alloc();
    bytes = size_class(nbytes);
    if (cache_gone) {
        data = std::aligned_alloc(64, bytes);
        if (!data) throw std::bad_alloc();
        return;
    }
    auto& c = cache();
    auto it = c.free.find(bytes);
    if (it != c.free.end() && !it->second.empty()) {
        data = it->second.back();
        it->second.pop_back();
        c.cached_bytes -= bytes;
        return;
    }
    data = std::aligned_alloc(64, bytes);
    if (!data) throw std::bad_alloc();
}

Storage::~Storage() {
    if (cache_gone) {
        std::free(data);
        return;
    }
    auto& c = cache();
    if (c.cached_bytes + bytes > kMaxCachedBytes) {
        std::free(data);
        return;
    }
    c.free[bytes].push_back(data);
    c.cached_bytes += bytes;
}

}  // namespace ad
