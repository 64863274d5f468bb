#pragma once
// Small-object pools: per-thread free lists of fixed-size blocks for the objects every tensor op
// creates (tensor handles' shared state, storage records, backward closures). After a warm-up
// step, a training loop that repeats the same ops takes every block from a free list: a
// steady-state step does not call malloc. Blocks freed on another thread join that thread's
// lists. A thread's free blocks are returned to the system when it ends.
#include <cstddef>
#include <new>

namespace ad::detail {

void* pool_allocate(std::size_t bytes);
void pool_deallocate(void* p, std::size_t bytes) noexcept;
// Calls to the system allocator made by the pools (for tests of the steady state).
std::size_t pool_system_allocations();

// Calls fn when this thread ends, where its thread_local objects are destroyed (the last one
// registered first; at most 4 per thread). For free lists kept in constant-initialized,
// trivially destructible thread_locals — reached with no guard on every access — that nothing
// else would return to the system: these pools' and tensor storage's (storage.cpp). fn must not throw.
void at_thread_exit(void (*fn)() noexcept);

// A standard allocator over the pools (use with std::allocate_shared).
template <class T>
struct PoolAllocator {
    using value_type = T;
    PoolAllocator() noexcept = default;
    template <class U>
    PoolAllocator(const PoolAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(pool_allocate(n * sizeof(T))); }
    void deallocate(T* p, std::size_t n) noexcept { pool_deallocate(p, n * sizeof(T)); }
    template <class U>
    bool operator==(const PoolAllocator<U>&) const noexcept { return true; }
};

}  // namespace ad::detail
