#pragma once
// ad::Tensor — an n-dimensional array of float or double on the same graph as ad::Value.
//
//     auto W = ad::Tensor::randn({256, 784}, ad::f32, /*seed=*/1).requires_grad_();
//     auto y = ad::relu(ad::matmul(x, W.t()) + b);   // each op records one tape entry
//     auto loss = y.sum();                           // a 0-d tensor: a scalar in the graph
//     loss.backward();                               // W.grad() now holds ∂loss/∂W
//
// A Tensor is a cheap, shareable handle (copies share data, like PyTorch). Data is row-major;
// views (transpose, slices, expand) share storage through strides. Like ad::Value, a tensor is a
// leaf (made by a factory or from data; it keeps a gradient when requires_grad is set) or an
// interior result of a recorded op. Every binary elementwise op broadcasts like NumPy, and its
// backward sums the gradient back to each input's shape (sum_to). Every shape mismatch throws
// ad::ShapeError naming the op and the shapes.
//
// In-place ops (add_, mul_, zero_, fill_, copy_, set) bump the storage's version counter; a
// recorded op that saved the tensor notices at backward time and throws ad::GraphError instead
// of returning a wrong gradient.
#include <autodiff/shape.hpp>
#include <autodiff/tape.hpp>
#include <autodiff/value.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ad {

enum class DType : std::uint8_t { F32, F64 };
inline constexpr DType f32 = DType::F32;
inline constexpr DType f64 = DType::F64;
inline const char* dtype_name(DType d) { return d == DType::F32 ? "float32" : "float64"; }
inline std::size_t dtype_size(DType d) { return d == DType::F32 ? 4 : 8; }
template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return DType::F32; }
template <>
constexpr DType dtype_of<double>() { return DType::F64; }

// Raw storage of a tensor, from a caching allocator (freed blocks are reused by size class, so a
// steady-state training step does not call malloc). `version` counts in-place modifications.
struct Storage {
    void* data = nullptr;
    std::size_t bytes = 0;
    std::uint32_t version = 0;
    explicit Storage(std::size_t nbytes);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
};

namespace detail {
struct TensorImpl;
}

class Tensor {
public:
    Tensor() noexcept : counted_(false) {}  // undefined (like an empty at::Tensor); defined() is false
    // Handles to interior tensors count themselves in the tape's live handles (like Value), so
    // the graph is released when the last one dies; the graph's own nodes hold the shared state
    // without counting.
    Tensor(const Tensor& o) noexcept : impl_(o.impl_), counted_(false) { retain(); }
    Tensor(Tensor&& o) noexcept : impl_(std::move(o.impl_)), counted_(o.counted_) { o.counted_ = false; }
    Tensor& operator=(const Tensor& o) noexcept {
        if (this != &o) {
            Tensor tmp(o);
            swap(tmp);
        }
        return *this;
    }
    Tensor& operator=(Tensor&& o) noexcept {
        Tensor tmp(std::move(o));
        swap(tmp);
        return *this;
    }
    ~Tensor() { drop(); }
    void swap(Tensor& o) noexcept {
        impl_.swap(o.impl_);
        std::swap(counted_, o.counted_);
    }

    // --- construction --------------------------------------------------------------------
    // From nested initializer lists: Tensor({{1, 2}, {3, 4}}) is 2×2 (float64 unless dtype given).
    Tensor(std::initializer_list<double> v, DType dt = f64);
    Tensor(std::initializer_list<std::initializer_list<double>> v, DType dt = f64);
    Tensor(std::initializer_list<std::initializer_list<std::initializer_list<double>>> v, DType dt = f64);
    // Copies a raw buffer of shape.numel() elements.
    static Tensor from_data(std::span<const float> data, const Shape& shape);
    static Tensor from_data(std::span<const double> data, const Shape& shape);
    static Tensor empty(const Shape& shape, DType dt = f32);  // uninitialized
    static Tensor zeros(const Shape& shape, DType dt = f32);
    static Tensor ones(const Shape& shape, DType dt = f32);
    static Tensor full(const Shape& shape, double value, DType dt = f32);
    static Tensor scalar(double value, DType dt = f32);  // 0-d
    static Tensor arange(double start, double stop, double step = 1.0, DType dt = f32);
    static Tensor linspace(double start, double stop, std::int64_t steps, DType dt = f32);
    static Tensor eye(std::int64_t n, DType dt = f32);
    // Seeded random numbers from ad::Rng (random.hpp): the same seed gives the same numbers on
    // every machine and compiler.
    static Tensor rand(const Shape& shape, DType dt, std::uint64_t seed);                 // U[0, 1)
    static Tensor uniform(const Shape& shape, double lo, double hi, DType dt, std::uint64_t seed);
    static Tensor randn(const Shape& shape, DType dt, std::uint64_t seed);                // N(0, 1)

    // --- properties ----------------------------------------------------------------------
    bool defined() const noexcept { return impl_ != nullptr; }
    const Shape& shape() const;
    std::int64_t dim() const { return shape().size(); }
    std::int64_t size(std::int64_t axis) const;
    std::int64_t numel() const { return shape().numel(); }
    DType dtype() const;
    const Shape& strides() const;
    std::int64_t offset() const;
    bool is_contiguous() const;
    std::string str() const;  // PyTorch-like repr (fmt::format("{}", t) gives the same)

    // --- data access -----------------------------------------------------------------------
    double item() const;                                  // the only element (any shape with 1 element)
    double at(std::initializer_list<std::int64_t> index) const;  // element access, bounds-checked
    void set(std::initializer_list<std::int64_t> index, double v);  // in place, bumps version
    std::vector<double> to_vector() const;                // all elements, row-major, as double
    // Pointer to the first element; the tensor must have that dtype (ShapeError otherwise).
    // Mutable access through data<T>() does not bump the version: call bump_version() if you
    // modify a tensor that a graph may have saved.
    template <class T>
    T* data() const;
    Tensor contiguous() const;  // itself if already contiguous (recorded when it copies)
    Tensor clone() const;       // a contiguous copy (recorded)
    Tensor to(DType dt) const;  // dtype conversion (recorded; itself if already dt)

    // --- autograd --------------------------------------------------------------------------
    bool requires_grad() const;
    Tensor& requires_grad_(bool on = true);  // leaves only
    bool is_leaf() const;
    Tensor grad() const;  // leaves: accumulated gradient (undefined before any backward)
    void zero_grad();     // drops the leaf's gradient (set to undefined, like set_to_none=True)
    Tensor detach() const;  // same data, no graph
    // Reverse sweep. A tensor with one element uses seed 1; otherwise pass `gradient` (the seed,
    // same shape) or ad::GraphError explains.
    void backward(const Tensor& gradient = {}, const BackwardOptions& opts = {}) const;
    void backward(const BackwardOptions& opts) const { backward(Tensor(), opts); }
    // `hook(grad)` runs when backward reaches this tensor; a defined result replaces the gradient.
    void register_hook(std::function<Tensor(const Tensor&)> hook);
    Tensor& set_label(std::string label);
    std::string label() const;
    // Entry of this tensor in the current tape (registering a leaf): engine internal.
    std::uint32_t node(detail::Tape& t) const;
    bool tracks() const;  // an op on this tensor must be recorded

    // --- in place (bumps the version counter) ---------------------------------------------
    Tensor& zero_();
    Tensor& fill_(double v);
    Tensor& copy_(const Tensor& src);  // same shape (or broadcastable to it)
    Tensor& add_(const Tensor& other, double alpha = 1.0);
    Tensor& mul_(double s);
    void bump_version() const;
    std::uint32_t version() const;

    // --- ops as members (free functions in ops/*.hpp are the primary API) --------------------
    Tensor sum() const;
    Tensor mean() const;
    Tensor t() const;  // transpose of a 2-d tensor (a view)
    Tensor reshape(const Shape& s) const;
    Tensor view(const Shape& s) const { return reshape(s); }

    // --- engine internals ----------------------------------------------------------------------
    explicit Tensor(std::shared_ptr<detail::TensorImpl> impl) noexcept : impl_(std::move(impl)), counted_(false) {
        retain();
    }
    detail::TensorImpl* impl() const noexcept { return impl_.get(); }
    const std::shared_ptr<detail::TensorImpl>& impl_ptr() const noexcept { return impl_; }
    // A tensor viewing `storage` with the given geometry (no graph).
    static Tensor make_view(std::shared_ptr<Storage> storage, DType dt, const Shape& shape, const Shape& strides,
                            std::int64_t offset);
    const std::shared_ptr<Storage>& storage() const;

private:
    inline void retain() noexcept;
    inline void drop() noexcept;
    std::shared_ptr<detail::TensorImpl> impl_;
    bool counted_;  // this handle is one of the tape's live handles
};

namespace detail {
// What a Tensor handle points to. Interior tensors (node != kNoNode, !leaf) are counted in the
// tape's live handles, like interior Values.
struct TensorImpl {
    std::shared_ptr<Storage> storage;
    std::int64_t offset = 0;
    Shape shape;
    Shape strides;
    DType dtype = DType::F32;
    bool requires_grad = false;  // leaves: set by the user; interior: true
    bool leaf = true;
    std::uint32_t node = kNoNode;  // interior: its entry; leaf: its entry in tape epoch `epoch`
    std::uint32_t epoch = 0;
    Tensor grad;                  // leaves only
    std::string label;
    std::vector<std::function<Tensor(const Tensor&)>> hooks;  // leaves only
    TensorImpl() = default;
    TensorImpl(const TensorImpl&) = delete;
    TensorImpl& operator=(const TensorImpl&) = delete;
};
[[noreturn]] void throw_undefined_tensor();
}  // namespace detail

// The hot accessors, inline: every op reads them several times.
inline const Shape& Tensor::shape() const {
    if (!impl_) [[unlikely]] detail::throw_undefined_tensor();
    return impl_->shape;
}
inline const Shape& Tensor::strides() const {
    if (!impl_) [[unlikely]] detail::throw_undefined_tensor();
    return impl_->strides;
}
inline DType Tensor::dtype() const {
    if (!impl_) [[unlikely]] detail::throw_undefined_tensor();
    return impl_->dtype;
}

inline void Tensor::retain() noexcept {
    if (impl_ && !impl_->leaf) {
        detail::Tape& t = detail::tape();
        if (impl_->epoch == t.epoch) {
            ++t.live;
            counted_ = true;
        }
    }
}
inline void Tensor::drop() noexcept {
    if (counted_) {
        counted_ = false;
        detail::Tape& t = detail::tape();
        if (impl_->epoch == t.epoch) t.release();
    }
}

// Formats like PyTorch's repr: tensor([[1., 2.], [3., 4.]], dtype=float64, grad_fn=<mul>),
// summarizing tensors with more than 1000 elements with "...".
std::string format_tensor(const Tensor& t);

// Free-function forms of the member ops.
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);

// Bridges between the scalar and the tensor world (both one tape entry):
Value item_value(const Tensor& t);                  // a one-element tensor as a Value in the graph
Tensor tensor_from_value(const Value& v, DType dt);  // a Value as a 0-d tensor in the graph

}  // namespace ad

template <>
struct fmt::formatter<ad::Tensor> : fmt::formatter<std::string_view> {
    auto format(const ad::Tensor& t, format_context& ctx) const {
        return fmt::formatter<std::string_view>::format(ad::format_tensor(t), ctx);
    }
};
