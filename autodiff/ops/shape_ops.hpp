#pragma once
// Shape ops: views and rearrangements. Views (reshape of a contiguous tensor, transpose,
// permute, expand, narrow/slice, squeeze/unsqueeze) share storage; the rest copy.
// Each backward routes the gradient back to where the element came from.
#include <autodiff/tensor.hpp>

#include <span>
#include <vector>

namespace ad {

Tensor reshape(const Tensor& x, const Shape& shape);  // one dimension may be −1
Tensor flatten(const Tensor& x, std::int64_t start_axis = 0, std::int64_t end_axis = -1);
Tensor squeeze(const Tensor& x);                      // drops every size-1 dimension
Tensor squeeze(const Tensor& x, std::int64_t axis);
Tensor unsqueeze(const Tensor& x, std::int64_t axis);
Tensor transpose(const Tensor& x, std::int64_t a0, std::int64_t a1);
Tensor permute(const Tensor& x, const std::vector<std::int64_t>& order);
// Broadcast view; ∂ = sum_to(x's shape). As PyTorch, −1 keeps an existing dimension's size;
// any other negative size (or −1 for a new leading dimension) is a ShapeError.
Tensor expand(const Tensor& x, const Shape& shape);
Tensor contiguous(const Tensor& x);
// Elements [start, start+length) along axis (a view).
Tensor narrow(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t length);
// Python-style slice x[start:stop:step] along axis (negative indices count from the end).
Tensor slice(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t stop, std::int64_t step = 1);
Tensor cat(const std::vector<Tensor>& xs, std::int64_t axis = 0);
Tensor stack(const std::vector<Tensor>& xs, std::int64_t axis = 0);
std::vector<Tensor> split(const Tensor& x, std::int64_t size, std::int64_t axis = 0);  // chunks of `size`
// index_select: the rows (along axis) named by a 1-d tensor of integer-valued indices.
Tensor index_select(const Tensor& x, std::int64_t axis, const Tensor& index);
// gather: out[i][j] = x[i][index[i][j]] along axis (index has x's rank), as torch.gather.
Tensor gather(const Tensor& x, std::int64_t axis, const Tensor& index);
// one_hot(labels, n): labels (integer-valued, any shape) → shape + [n]; ValueError when out of range.
Tensor one_hot(const Tensor& labels, std::int64_t num_classes, DType dt = DType::F32);

namespace detail {
// permute with the order in any contiguous list (e.g. an InlineVector): no allocation.
Tensor permute(const Tensor& x, std::span<const std::int64_t> order);
}  // namespace detail

}  // namespace ad
