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

constinit thread_local bool pools_gone = false;
constinit thread_local std::size_t system_allocations = 0;

struct Pools {
    FreeBlock* head[kClasses] = {};
    std::size_t count[kClasses] = {};
    ~Pools() {
        pools_gone = true;
        for (auto& h : head) {
            while (h) {
                FreeBlock* n = h->next;
                std::free(h);
                h = n;
            }
        }
    }
};
Pools& pools() {
    thread_local Pools p;
    return p;
}

std::size_t class_of(std::size_t bytes) { return (bytes + kGrain - 1) / kGrain; }

}  // namespace

void* pool_allocate(std::size_t bytes) {
    const std::size_t c = class_of(bytes);
    if (c < kClasses && !pools_gone) {
        Pools& p = pools();
        if (FreeBlock* b = p.head[c]) {
            p.head[c] = b->next;
            --p.count[c];
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
    if (c < kClasses && !pools_gone) {
        Pools& p = pools();
        if (p.count[c] < kMaxFreePerClass) {
            auto* b = static_cast<FreeBlock*>(q);
            b->next = p.head[c];
            p.head[c] = b;
            ++p.count[c];
            return;
        }
    }
    std::free(q);
}

std::size_t pool_system_allocations() { return system_allocations; }

}  // namespace ad::detail
