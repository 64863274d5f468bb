#pragma once
// Shape: up to 8 dimensions, stored inline (no allocation), printed like PyTorch: [2, 3].
#include <autodiff/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

namespace ad {

class Shape {
public:
    static constexpr int kMaxDims = 8;

    Shape() = default;
    Shape(std::initializer_list<std::int64_t> dims) {
        for (auto d : dims) push_back(d);
    }
    explicit Shape(std::span<const std::int64_t> dims) {
        for (auto d : dims) push_back(d);
    }
    template <class It>
    Shape(It first, It last) {
        for (; first != last; ++first) push_back(static_cast<std::int64_t>(*first));
    }

    int size() const noexcept { return n_; }
    int rank() const noexcept { return n_; }
    bool empty() const noexcept { return n_ == 0; }
    std::int64_t operator[](int i) const noexcept { return d_[i]; }
    std::int64_t& operator[](int i) noexcept { return d_[i]; }
    const std::int64_t* begin() const noexcept { return d_; }
    const std::int64_t* end() const noexcept { return d_ + n_; }
    std::int64_t* begin() noexcept { return d_; }
    std::int64_t* end() noexcept { return d_ + n_; }
    std::int64_t back() const noexcept { return d_[n_ - 1]; }

    void push_back(std::int64_t d) {
        if (n_ == kMaxDims) throw ShapeError(fmt::format("shape: at most {} dimensions are supported", kMaxDims));
        d_[n_++] = d;
    }
    void insert(int pos, std::int64_t d) {
        push_back(0);
        for (int i = n_ - 1; i > pos; --i) d_[i] = d_[i - 1];
        d_[pos] = d;
    }
    void erase(int pos) {
        for (int i = pos; i + 1 < n_; ++i) d_[i] = d_[i + 1];
        --n_;
    }
    void resize(int n, std::int64_t fill = 1) {
        if (n > kMaxDims) throw ShapeError(fmt::format("shape: at most {} dimensions are supported", kMaxDims));
        for (int i = n_; i < n; ++i) d_[i] = fill;
        n_ = n;
    }

    // Number of elements (1 for a 0-d shape).
    std::int64_t numel() const noexcept {
        std::int64_t p = 1;
        for (int i = 0; i < n_; ++i) p *= d_[i];
        return p;
    }
    // Number of elements, checked: ShapeError naming `op` and the shape when a dimension is
    // negative, or when the product of the dimensions (zero-sized ones counted as 1, so that the
    // contiguous strides fit as well) does not fit in int64. Every shape that comes from a user
    // and becomes a tensor (allocation, reshape, expand) goes through this.
    std::int64_t checked_numel(const char* op) const {
        std::int64_t p = 1;
        bool zero = false;
        for (int i = 0; i < n_; ++i) {
            if (d_[i] < 0) throw ShapeError(fmt::format("{}: negative dimension {} in shape {}", op, d_[i], str()));
            if (d_[i] == 0) {
                zero = true;
            } else if (__builtin_mul_overflow(p, d_[i], &p)) {
                throw ShapeError(fmt::format("{}: shape {} has too many elements (more than 2^63 - 1)", op, str()));
            }
        }
        return zero ? 0 : p;
    }
    // Normalizes a possibly negative axis (−1 is the last); throws ShapeError naming `op`.
    // A 0-d shape has no axis; ops that accept axis 0/−1 of a 0-d tensor as "the one element"
    // (reductions, softmax, transpose, as PyTorch) check for that before calling this.
    int axis(std::int64_t a, const char* op) const {
        const std::int64_t r = n_;
        if (a < -r || a >= r)
            throw ShapeError(fmt::format("{}: axis {} is out of range for a tensor of shape {}", op, a, str()));
        return static_cast<int>(a < 0 ? a + r : a);
    }
    // For a 0-d shape: whether `a` names its one element (0 or −1), as PyTorch's reductions allow.
    bool is_scalar_axis(std::int64_t a) const noexcept { return n_ == 0 && (a == 0 || a == -1); }
    std::string str() const {
        std::string s = "[";
        for (int i = 0; i < n_; ++i) s += (i ? ", " : "") + std::to_string(d_[i]);
        return s + "]";
    }

    friend bool operator==(const Shape& x, const Shape& y) noexcept {
        return x.n_ == y.n_ && std::equal(x.begin(), x.end(), y.begin());
    }

private:
    std::int64_t d_[kMaxDims] = {};
    int n_ = 0;
};

// Row-major (C-order) strides of a shape, in elements.
inline Shape contiguous_strides(const Shape& s) {
    Shape st;
    st.resize(s.size());
    std::int64_t acc = 1;
    for (int i = s.size() - 1; i >= 0; --i) {
        st[i] = acc;
        acc *= s[i];
    }
    return st;
}

// NumPy broadcasting of two shapes; throws ShapeError naming `op` and both shapes.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
    const int n = std::max(a.size(), b.size());
    Shape r;
    r.resize(n);
    for (int i = 0; i < n; ++i) {
        const int ia = a.size() - n + i, ib = b.size() - n + i;
        const std::int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da != db && da != 1 && db != 1)
            throw ShapeError(fmt::format("{}: shapes {} and {} cannot be broadcast together (dimension {}: {} vs {})",
                                         op, a.str(), b.str(), i, da, db));
        r[i] = da == 1 ? db : da;
    }
    return r;
}

}  // namespace ad

template <>
struct fmt::formatter<ad::Shape> : fmt::formatter<std::string_view> {
    auto format(const ad::Shape& s, format_context& ctx) const {
        return fmt::formatter<std::string_view>::format(s.str(), ctx);
    }
};
