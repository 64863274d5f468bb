#pragma once
// InlineVector<T, N>: a vector of at most N small elements stored inline (no allocation), for the
// short per-op lists of tensor ops: reduction axes, permutations. A tensor has at most
// Shape::kMaxDims dimensions, so such a list never needs more; push_back past N is a ShapeError.
#include <autodiff/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>
#include <type_traits>

namespace ad::detail {

template <class T, int N>
class InlineVector {
    static_assert(std::is_trivially_copyable_v<T>);

public:
    InlineVector() = default;
    InlineVector(std::initializer_list<T> values) {
        for (const T& v : values) push_back(v);
    }
    template <class It>
    InlineVector(It first, It last) {
        for (; first != last; ++first) push_back(static_cast<T>(*first));
    }

    int size() const noexcept { return n_; }
    bool empty() const noexcept { return n_ == 0; }
    const T* data() const noexcept { return d_; }
    T* data() noexcept { return d_; }
    const T* begin() const noexcept { return d_; }
    const T* end() const noexcept { return d_ + n_; }
    T* begin() noexcept { return d_; }
    T* end() noexcept { return d_ + n_; }
    const T& operator[](int i) const noexcept { return d_[i]; }
    T& operator[](int i) noexcept { return d_[i]; }
    bool contains(const T& v) const noexcept { return std::find(begin(), end(), v) != end(); }

    void resize(int n, const T& fill = T{}) {
        if (n > N) throw ShapeError(fmt::format("at most {} axes are supported (one per dimension)", N));
        for (int i = n_; i < n; ++i) d_[i] = fill;
        n_ = n;
    }
    void push_back(const T& v) {
        if (n_ == N) throw ShapeError(fmt::format("at most {} axes are supported (one per dimension)", N));
        d_[n_++] = v;
    }

private:
    T d_[N] = {};
    int n_ = 0;
};

}  // namespace ad::detail
