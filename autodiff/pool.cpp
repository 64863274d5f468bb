#include <autodiff/pool.hpp>

#include <cstdlib>

namespace ad::detail {
namespace {

constexpr std::size_t kGrain = 16;
constexpr std::size_t kClasses = 64;  // blocks up to 1 KiB are pooled; larger ones go to malloc
constexpr std::size_t kMaxFreePerClass = 1 << 16;

struct FreeBlock {
    FreeBlock* next;
};

constinit thread_local std::size_t system_allocations = 0;

// This thread's free lists: constant-initialized, trivially destructible (no guard on every
// access), handed back to the system by drain() when the thread ends (at_thread_exit).
struct Pools {
    FreeBlock* head[kClasses];
    std::size_t count[kClasses];
    bool drain_registered;
    bool gone;  // the thread is ending: blocks go straight back to the system
};
constinit thread_local Pools pools{};

void drain() noexcept {
    pools.gone = true;
    for (std::size_t c = 0; c < kClasses; ++c) {
        for (FreeBlock* h = pools.head[c]; h != nullptr;) {
            FreeBlock* n = h->next;
            std::free(h);
            h = n;
        }
        pools.head[c] = nullptr;
        pools.count[c] = 0;
    }
}

std::size_t class_of(std::size_t bytes) { return (bytes + kGrain - 1) / kGrain; }

}  // namespace

void* pool_allocate(std::size_t bytes) {
    const std::size_t c = class_of(bytes);
    if (c < kClasses) {
        if (FreeBlock* b = pools.head[c]) {
            pools.head[c] = b->next;
            --pools.count[c];
            return b;
        }
    }
    ++system_allocations;
    void* q = std::malloc(c * kGrain == 0 ? kGrain : c * kGrain);
    if (!q) throw std::bad_alloc();
    return q;
}

void pool_deallocate(void* q, std::size_t bytes) noexcept {
    const std::size_t c = class_of(bytes);
    if (c < kClasses && !pools.gone && pools.count[c] < kMaxFreePerClass) {
        if (!pools.drain_registered) {
            at_thread_exit(drain);
            pools.drain_registered = true;
        }
        auto* b = static_cast<FreeBlock*>(q);
        b->next = pools.head[c];
        pools.head[c] = b;
        ++pools.count[c];
        return;
    }
    std::free(q);
}

std::size_t pool_system_allocations() { return system_allocations; }

namespace {
struct ThreadExit {
    void (*fn[4])() noexcept = {};
    int n = 0;
    ~ThreadExit() {
        for (int i = n; i-- > 0;) fn[i]();
    }
};
}  // namespace

void at_thread_exit(void (*fn)() noexcept) {
    thread_local ThreadExit exits;
    if (exits.n == 4) std::abort();  // an engine bug: the engine registers two
    exits.fn[exits.n++] = fn;
}

}  // namespace ad::detail
