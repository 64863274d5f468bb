// PyTorch-like printing of tensors: tensor([[1.0000, 2.0000], ...], dtype=float64, grad_fn=<mul>).
#include <autodiff/tensor.hpp>
#include <autodiff/tensor_node.hpp>

#include <cmath>

namespace ad {

namespace {
constexpr std::int64_t kSummarizeAbove = 1000;
constexpr std::int64_t kEdgeItems = 3;

std::string number(double v, bool all_integral) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (all_integral && std::fabs(v) < 1e16) return fmt::format("{:.0f}.", v);
    const double a = std::fabs(v);
    if (a != 0 && (a >= 1e8 || a < 1e-4)) return fmt::format("{:.4e}", v);
    return fmt::format("{:.4f}", v);
}

void emit(std::string& out, const Tensor& t, const std::vector<double>& v, int dim, std::int64_t offset, bool summarize,
          bool integral, int indent) {
    const Shape& s = t.shape();
    if (s.size() == 0) {
        out += number(v[0], integral);
        return;
    }
    const std::int64_t n = s[dim];
    std::int64_t stride = 1;
    for (int i = dim + 1; i < s.size(); ++i) stride *= s[i];
    out += '[';
    for (std::int64_t i = 0; i < n; ++i) {
        if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
            out += dim + 1 == s.size() ? "..., " : fmt::format("...,\n{:{}}", "", indent + 1);
            i = n - kEdgeItems - 1;
            continue;
        }
        if (dim + 1 == s.size()) {
            out += number(v[static_cast<std::size_t>(offset + i)], integral);
        } else {
            emit(out, t, v, dim + 1, offset + i * stride, summarize, integral, indent + 1);
        }
        if (i + 1 < n) out += dim + 1 == s.size() ? ", " : fmt::format(",\n{:{}}", "", indent + 1);
    }
    out += ']';
}
}  // namespace

std::string format_tensor(const Tensor& t) {
    if (!t.defined()) return "tensor(undefined)";
    const std::vector<double> v = t.to_vector();
    bool integral = true;
    for (double x : v) integral = integral && std::isfinite(x) && x == std::floor(x);
    std::string out = "tensor(";
    emit(out, t, v, 0, 0, t.numel() > kSummarizeAbove, integral && !v.empty(), 7);
    if (t.numel() == 0) out += fmt::format(", size={}", t.shape().str());
    if (t.dtype() == DType::F64) out += ", dtype=float64";
    if (!t.is_leaf()) {
        const auto& tp = detail::tape();
        const auto* im = t.impl();
        if (im->epoch == tp.epoch && im->node < tp.size)
            out += fmt::format(", grad_fn=<{}>", tp.tensor_nodes[tp.arg_a[im->node]]->name);
    } else if (t.requires_grad()) {
        out += ", requires_grad=True";
    }
    return out + ")";
}

}  // namespace ad
