#pragma once
// Reductions over all elements or over chosen axes (negative axes count from the end), with
// keepdim as in PyTorch. Each backward broadcasts the gradient back over the reduced axes.
#include <autodiff/inline_vector.hpp>
#include <autodiff/tensor.hpp>

#include <vector>

namespace ad {

// A set of axes: sum(x, 1), sum(x, {0, 2}), or all axes when omitted (or Axes::all()). At most
// one per dimension (Shape::kMaxDims), stored inline: naming axes does not allocate.
struct Axes {
    detail::InlineVector<std::int64_t, Shape::kMaxDims> list;  // empty: all axes
    Axes() = default;
    Axes(std::int64_t a) : list{a} {}
    Axes(int a) : list{a} {}
    Axes(bool) = delete;  // sum(x, true) would silently mean axis 1
    Axes(std::initializer_list<std::int64_t> l) : list(l) {}
    Axes(const std::vector<std::int64_t>& l) : list(l.begin(), l.end()) {}
    static Axes all() { return Axes(); }
};

Tensor sum(const Tensor& x);                                       // ∂ = 1
Tensor sum(const Tensor& x, const Axes& axes, bool keepdim = false);
Tensor mean(const Tensor& x);                                      // ∂ = 1/n
Tensor mean(const Tensor& x, const Axes& axes, bool keepdim = false);
// Max/min: the gradient goes to the arg max; at ties it is split equally among the maxima
// (PyTorch's amax/amin rule).
Tensor max(const Tensor& x);
Tensor max(const Tensor& x, const Axes& axes, bool keepdim = false);
Tensor min(const Tensor& x);
Tensor min(const Tensor& x, const Axes& axes, bool keepdim = false);
// Variance and standard deviation, read as in PyTorch: var(x) is over all elements, var(x, 1)
// over axis 1. `correction` (divide by n − correction; 1 is Bessel's, PyTorch's default) is only
// given after the axes: var(x, 1, false, 0), or var(x, ad::Axes::all(), false, 0) for all
// elements.
Tensor var(const Tensor& x);
Tensor var(const Tensor& x, const Axes& axes, bool keepdim = false, int correction = 1);
Tensor std(const Tensor& x);
Tensor std(const Tensor& x, const Axes& axes, bool keepdim = false, int correction = 1);
// log Σ e^x, stable: m + log Σ e^{x−m}; ∂ = softmax(x). Finite for inputs of ±1000.
Tensor logsumexp(const Tensor& x, const Axes& axes, bool keepdim = false);
Tensor logsumexp(const Tensor& x);
// Index of the maximum along an axis (first one at ties), as float64 indices; not differentiable.
Tensor argmax(const Tensor& x, std::int64_t axis, bool keepdim = false);
std::int64_t argmax(const Tensor& x);  // over all elements (flat index)

namespace detail {
using AxisList = InlineVector<int, Shape::kMaxDims>;
// Normalized, sorted, unique axes of `x` (all axes when empty); ShapeError names `op`.
AxisList normalize_axes(const Tensor& x, const Axes& axes, const char* op);
// The shape after reducing `axes`, with or without the reduced dims kept as 1.
Shape reduced_shape(const Shape& s, const AxisList& axes, bool keepdim);
}  // namespace detail

}  // namespace ad
