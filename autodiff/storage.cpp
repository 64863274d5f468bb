// The caching allocator behind tensor storage.
//
// Blocks are rounded up to a size class (powers of two above 64 bytes, with four steps per
// doubling) and kept on a per-thread free list when released, so a training loop that allocates
// the same shapes every step reaches a steady state with no calls to malloc. Blocks are 64-byte
// aligned (AVX-512 friendly). A thread's cache is returned to the system when the thread ends.
#include <autodiff/pool.hpp>
#include <autodiff/tensor.hpp>

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace ad {
namespace {

// A size class: 64 bytes, then four steps per doubling (p + p/4·k for k = 1..4 above p = 2^e),
// rounded up to a multiple of 64 (aligned_alloc requires the size to be one of the alignment).
std::size_t size_class(std::size_t n) {
    if (n <= 64) return 64;
    const int e = std::bit_width(n - 1) - 1;  // 2^e < n <= 2^(e+1), e >= 6
    const std::size_t p = std::size_t{1} << e, quarter = p / 4;
    const std::size_t c = p + (n - p + quarter - 1) / quarter * quarter;
    return (c + 63) / 64 * 64;
}
// The free list of a class size: 0 for 64 bytes, then 4 per doubling (e <= 62: at most 228).
constexpr int kClassLists = 232;
int class_list(std::size_t bytes) {
    if (bytes <= 64) return 0;
    const int e = std::bit_width(bytes - 1) - 1;
    const std::size_t p = std::size_t{1} << e, quarter = p / 4;
    return 1 + (e - 6) * 4 + static_cast<int>((bytes - p + quarter - 1) / quarter) - 1;
}
constexpr std::size_t kMaxCachedBytes = std::size_t(1) << 31;

// This thread's free blocks, each list threaded through the blocks themselves: constant-initialized
// and trivially destructible (no guard on every access), handed back to the system by drain()
// when the thread ends (pool.hpp's at_thread_exit).
struct FreeBlock {
    FreeBlock* next;
};
struct FreeLists {
    FreeBlock* head[kClassLists];
    std::size_t cached_bytes;
    bool drain_registered;
    bool gone;  // the thread is ending: blocks go straight back to the system
};
constinit thread_local FreeLists lists{};

void drain() noexcept {
    lists.gone = true;
    for (FreeBlock*& h : lists.head) {
        while (h != nullptr) {
            FreeBlock* next = h->next;
            std::free(h);
            h = next;
        }
    }
    lists.cached_bytes = 0;
}

}  // namespace

Storage::Storage(std::size_t nbytes) {
    // No object is larger than PTRDIFF_MAX bytes (and the size classes would overflow above it).
    if (nbytes > static_cast<std::size_t>(PTRDIFF_MAX)) throw std::bad_alloc();
    bytes = size_class(nbytes);
    FreeBlock*& head = lists.head[class_list(bytes)];
    if (head != nullptr) {
        data = head;
        head = head->next;
        lists.cached_bytes -= bytes;
        return;
    }
    data = std::aligned_alloc(64, bytes);
    if (!data) throw std::bad_alloc();
}

Storage::~Storage() {
    if (lists.gone || lists.cached_bytes + bytes > kMaxCachedBytes) {
        std::free(data);
        return;
    }
    if (!lists.drain_registered) {
        detail::at_thread_exit(drain);
        lists.drain_registered = true;
    }
    auto* b = static_cast<FreeBlock*>(data);
    FreeBlock*& head = lists.head[class_list(bytes)];
    b->next = head;
    head = b;
    lists.cached_bytes += bytes;
}

}  // namespace ad
