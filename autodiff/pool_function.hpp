#pragma once
// PoolFunction<R(A...)>: a move-only std::function whose callable lives inline (up to 64 bytes)
// or in a pool block (pool.hpp), so recording a backward closure never calls malloc in steady
// state.
#include <autodiff/pool.hpp>

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace ad::detail {

template <class Sig>
class PoolFunction;

template <class R, class... A>
class PoolFunction<R(A...)> {
public:
    PoolFunction() noexcept = default;
    PoolFunction(std::nullptr_t) noexcept {}
    template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, PoolFunction>>>
    PoolFunction(F&& f) {
        using Fn = std::decay_t<F>;
        if constexpr (sizeof(Fn) <= kInline && alignof(Fn) <= alignof(std::max_align_t)) {
            obj_ = ::new (static_cast<void*>(buf_)) Fn(std::forward<F>(f));
            inline_ = true;
        } else {
            void* mem = pool_allocate(sizeof(Fn));
            try {
                obj_ = ::new (mem) Fn(std::forward<F>(f));
            } catch (...) {
                pool_deallocate(mem, sizeof(Fn));
                throw;
            }
        }
        ops_ = &ops_for<Fn>;
    }
    PoolFunction(PoolFunction&& o) noexcept { take(o); }
    PoolFunction& operator=(PoolFunction&& o) noexcept {
        if (this != &o) {
            reset();
            take(o);
        }
        return *this;
    }
    PoolFunction& operator=(std::nullptr_t) noexcept {
        reset();
        return *this;
    }
    PoolFunction(const PoolFunction&) = delete;
    PoolFunction& operator=(const PoolFunction&) = delete;
    ~PoolFunction() { reset(); }

    explicit operator bool() const noexcept { return ops_ != nullptr; }
    R operator()(A... args) const { return ops_->call(obj_, std::forward<A>(args)...); }

private:
    static constexpr std::size_t kInline = 64;
    struct Ops {
        R (*call)(void*, A&&...);
        void (*destroy)(void*, bool);
        void (*move_inline)(void* from, void* to);
    };
    template <class Fn>
    static constexpr Ops ops_for = {
        [](void* p, A&&... args) -> R { return (*static_cast<Fn*>(p))(std::forward<A>(args)...); },
        [](void* p, bool in_place) {
            static_cast<Fn*>(p)->~Fn();
            if (!in_place) pool_deallocate(p, sizeof(Fn));
        },
        [](void* from, void* to) {
            ::new (to) Fn(std::move(*static_cast<Fn*>(from)));
            static_cast<Fn*>(from)->~Fn();
        },
    };
    void reset() noexcept {
        if (ops_) ops_->destroy(obj_, inline_);
        ops_ = nullptr;
        obj_ = nullptr;
        inline_ = false;
    }
    void take(PoolFunction& o) noexcept {
        ops_ = o.ops_;
        inline_ = o.inline_;
        if (!ops_) return;
        if (inline_) {
            ops_->move_inline(o.obj_, buf_);
            obj_ = buf_;
        } else {
            obj_ = o.obj_;
        }
        o.ops_ = nullptr;
        o.obj_ = nullptr;
        o.inline_ = false;
    }

    alignas(std::max_align_t) unsigned char buf_[kInline];
    void* obj_ = nullptr;
    const Ops* ops_ = nullptr;
    bool inline_ = false;
};

}  // namespace ad::detail
