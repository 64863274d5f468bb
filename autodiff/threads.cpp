// The engine's team of helper threads (threads.hpp).
#include <autodiff/threads.hpp>

#include <cblas.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>

namespace ad::detail {

namespace {

constexpr int kMaxHelpers = 63;
// How long a helper waits for its next part spinning before it sleeps. Parts of one training
// step come microseconds apart; waking a sleeping thread took tens of microseconds on our VMs.
constexpr auto kSpin = std::chrono::microseconds(500);

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// One job: the caller runs part 0, and the other parts are claimed one at a time by whichever
// thread is free, so a thread slowed down (by another program on its core) takes fewer of them.
struct Job {
    void (*fn)(void*, int);
    void* ctx;
    int parts;
    alignas(64) std::atomic<int> next{1};
    void work() noexcept {
        for (int p; (p = next.fetch_add(1, std::memory_order_relaxed)) < parts;) fn(ctx, p);
    }
};

// One helper's mailbox, on its own cache lines. Only the thread holding Team::busy posts.
struct alignas(64) Helper {
    std::atomic<std::uint32_t> posted{0};    // jobs posted to this helper so far
    alignas(64) std::atomic<std::uint32_t> finished{0};  // jobs it has finished
    Job* job = nullptr;
    // Sleeping: the helper sets `asleep` and re-reads `posted` before it waits; the poster
    // stores `posted` and then reads `asleep` (all sequentially consistent), so one of them
    // sees the other and no wake-up is lost. The hot path takes no lock.
    std::atomic<bool> asleep{false};
    std::mutex m;
    std::condition_variable cv;
};

struct Team {
    std::atomic_flag busy = ATOMIC_FLAG_INIT;  // held by the thread whose parts run
    int started = 0;                           // helpers with a running thread (under busy)
    Helper helpers[kMaxHelpers];
};

void helper_main(Helper* h) noexcept {
    using clock = std::chrono::steady_clock;
    std::uint32_t seen = 0;  // the mailbox is new: its first part may be posted before this runs
    for (;;) {
        auto since = clock::now();
        int spins = 0;
        std::uint32_t now;
        while ((now = h->posted.load(std::memory_order_acquire)) == seen) {
            cpu_relax();
            if (++spins < 256) continue;
            spins = 0;
            if (clock::now() - since < kSpin) continue;
            std::unique_lock<std::mutex> lock(h->m);
            h->asleep.store(true);
            while (h->posted.load() == seen) h->cv.wait(lock);
            h->asleep.store(false, std::memory_order_relaxed);
            since = clock::now();
        }
        seen = now;
        h->job->work();  // noexcept: a throwing part terminates
        h->finished.store(seen, std::memory_order_release);
    }
}

// The team is made on first use and never destroyed (helpers may still be asleep in it when the
// program exits). A forked child has none of its threads: it starts a new one.
std::atomic<Team*> the_team{nullptr};

Team* team() {
    Team* t = the_team.load(std::memory_order_acquire);
    if (t != nullptr) return t;
    static const bool fork_handler = [] {
        pthread_atfork(nullptr, nullptr, [] { the_team.store(nullptr, std::memory_order_relaxed); });
        return true;
    }();
    (void)fork_handler;
    Team* made = new Team;
    if (!the_team.compare_exchange_strong(t, made, std::memory_order_acq_rel)) {
        delete made;
        return t;
    }
    return made;
}

}  // namespace

int engine_threads() { return std::max(1, openblas_get_num_threads()); }

void run_parts_raw(int parts, void (*fn)(void*, int), void* ctx) noexcept {
    if (parts <= 1) {
        for (int p = 0; p < parts; ++p) fn(ctx, p);
        return;
    }
    Team* t = nullptr;
    try {
        t = team();
    } catch (...) {
    }
    if (t == nullptr || t->busy.test_and_set(std::memory_order_acquire)) {
        for (int p = 0; p < parts; ++p) fn(ctx, p);
        return;
    }
    const int wanted = std::min(parts - 1, kMaxHelpers);
    while (t->started < wanted) {
        try {
            std::thread(helper_main, &t->helpers[t->started]).detach();
        } catch (const std::system_error&) {
            break;  // no more threads: fewer take part
        }
        ++t->started;
    }
    const int helpers = std::min(wanted, t->started);
    Job job{fn, ctx, parts};
    for (int i = 0; i < helpers; ++i) {
        Helper& h = t->helpers[i];
        h.job = &job;
        h.posted.store(h.posted.load(std::memory_order_relaxed) + 1);
        if (h.asleep.load()) {
            std::lock_guard<std::mutex> lock(h.m);
            h.cv.notify_one();
        }
    }
    fn(ctx, 0);
    job.work();
    for (int i = 0; i < helpers; ++i) {
        const Helper& h = t->helpers[i];
        const std::uint32_t ticket = h.posted.load(std::memory_order_relaxed);
        for (int spins = 0; h.finished.load(std::memory_order_acquire) != ticket; ++spins) {
            cpu_relax();
            if (spins >= 4096) {  // the helper is not running (more threads than cores): let it
                std::this_thread::yield();
                spins = 0;
            }
        }
    }
    t->busy.clear(std::memory_order_release);
}

}  // namespace ad::detail
