// PyTorch-like printing of tensors, following torch/_tensor_str.py with its default options
// (precision 4, threshold 1000 elements, 3 edge items, line width 80):
//
//     tensor([[ 1.5000, -2.0000],
//             [ 3.0000,  4.0000]], dtype=float64, grad_fn=<mul>)
//
// One formatter for the whole tensor decides the style (integers "1.", fixed "1.5000" or
// scientific "1.5000e-05") and a common width, so columns line up. Big tensors show their first
// and last 3 items per dimension around "...".
#include <autodiff/tensor.hpp>
#include <autodiff/tensor_node.hpp>

#include <algorithm>
#include <cmath>

namespace ad {

namespace {
constexpr std::int64_t kSummarizeAbove = 1000;
constexpr std::int64_t kEdgeItems = 3;
constexpr std::int64_t kLineWidth = 80;

// The style of every number of one tensor (PyTorch's _Formatter for floating dtypes).
class Formatter {
public:
    explicit Formatter(const std::vector<double>& shown) {
        double lo = INFINITY, hi = 0;
        bool any = false;
        for (double v : shown) {
            if (!std::isfinite(v) || v == 0) continue;
            any = true;
            lo = std::min(lo, std::fabs(v));
            hi = std::max(hi, std::fabs(v));
            int_mode_ = int_mode_ && v == std::ceil(v);
        }
        if (!any) return;  // only zeros and non-finite values: integer style, width 1
        sci_ = hi / lo > 1000.0 || hi > 1e8 || (!int_mode_ && lo < 1e-4);
        for (double v : shown)
            if (std::isfinite(v) && v != 0) width_ = std::max(width_, plain(v).size());
    }
    std::string operator()(double v) const {
        std::string s = plain(v);
        return std::string(width_ > s.size() ? width_ - s.size() : 0, ' ') + s;
    }
    std::size_t width() const { return width_; }

private:
    std::string plain(double v) const {
        if (std::isnan(v)) return "nan";
        if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
        if (sci_) return fmt::format("{:.4e}", v);
        if (int_mode_) return fmt::format("{:.0f}.", v);
        return fmt::format("{:.4f}", v);
    }
    bool int_mode_ = true;
    bool sci_ = false;
    std::size_t width_ = 1;
};

struct Printer {
    const std::vector<double>& v;  // all elements, row-major
    const Shape& shape;
    bool summarize;
    const Formatter& f;

    // The sub-tensor starting at flat `offset` whose first dimension is `dim`.
    std::string block(int dim, std::int64_t offset, std::int64_t indent) const {
        if (shape.size() == 0) return f(v[0]);
        const std::int64_t n = shape[dim];
        std::int64_t stride = 1;
        for (int i = dim + 1; i < shape.size(); ++i) stride *= shape[i];
        const bool cut = summarize && n > 2 * kEdgeItems;
        std::vector<std::string> parts;
        for (std::int64_t i = 0; i < n; ++i) {
            if (cut && i == kEdgeItems) {
                parts.emplace_back(dim + 1 == shape.size() ? " ..." : "...");
                i = n - kEdgeItems - 1;
                continue;
            }
            parts.push_back(dim + 1 == shape.size() ? f(v[static_cast<std::size_t>(offset + i)])
                                                    : block(dim + 1, offset + i * stride, indent + 1));
        }
        std::string out = "[";
        if (dim + 1 == shape.size()) {  // a row: as many items per line as fit in the line width
            const std::int64_t per_line =
                std::max<std::int64_t>(1, (kLineWidth - indent) / static_cast<std::int64_t>(f.width() + 2));
            for (std::size_t i = 0; i < parts.size(); ++i) {
                if (i > 0 && i % static_cast<std::size_t>(per_line) == 0) {
                    out += ",\n";
                    out.append(static_cast<std::size_t>(indent + 1), ' ');
                } else if (i > 0) {
                    out += ", ";
                }
                out += parts[i];
            }
        } else {  // blocks: one per line, a blank line more per extra dimension
            std::string sep = ",";  // built by appending: g++ 12 warns falsely (-Wrestrict) on "," + string
            sep.append(static_cast<std::size_t>(shape.size() - dim - 1), '\n');
            sep.append(static_cast<std::size_t>(indent + 1), ' ');
            for (std::size_t i = 0; i < parts.size(); ++i) {
                if (i > 0) out += sep;
                out += parts[i];
            }
        }
        return out + "]";
    }
};

// The elements the formatter looks at: only the ones shown when summarizing (as PyTorch).
void collect_shown(const std::vector<double>& v, const Shape& s, int dim, std::int64_t offset, std::vector<double>& out) {
    if (s.size() == 0) {
        out.push_back(v[0]);
        return;
    }
    std::int64_t stride = 1;
    for (int i = dim + 1; i < s.size(); ++i) stride *= s[i];
    const std::int64_t n = s[dim];
    for (std::int64_t i = 0; i < n; ++i) {
        if (n > 2 * kEdgeItems && i == kEdgeItems) i = n - kEdgeItems;
        if (dim + 1 == s.size())
            out.push_back(v[static_cast<std::size_t>(offset + i)]);
        else
            collect_shown(v, s, dim + 1, offset + i * stride, out);
    }
}
}  // namespace

std::string format_tensor(const Tensor& t) {
    if (!t.defined()) return "tensor(undefined)";
    const std::vector<double> v = t.to_vector();
    const bool summarize = t.numel() > kSummarizeAbove;
    std::vector<double> shown;
    if (summarize)
        collect_shown(v, t.shape(), 0, 0, shown);
    const Formatter f(summarize ? shown : v);
    const std::int64_t indent = 7;  // "tensor("
    std::string out = "tensor(";
    out += t.numel() == 0 ? "[]" : Printer{v, t.shape(), summarize, f}.block(0, 0, indent);
    std::vector<std::string> suffixes;
    if (t.numel() == 0 && t.dim() != 1) suffixes.push_back(fmt::format("size={}", t.shape().str()));
    if (t.dtype() == DType::F64) suffixes.emplace_back("dtype=float64");
    if (!t.is_leaf()) {
        const auto& tp = detail::tape();
        const auto* im = t.impl();
        if (im->epoch == tp.epoch && im->node < tp.size)
            suffixes.push_back(fmt::format("grad_fn=<{}>", tp.tensor_nodes[tp.arg_a[im->node]]->name));
    } else if (t.requires_grad()) {
        suffixes.emplace_back("requires_grad=True");
    }
    // A suffix that would pass the line width goes on its own line (PyTorch's _add_suffixes,
    // including its count of the last line's length).
    const std::size_t nl = out.rfind('\n');
    std::int64_t last = static_cast<std::int64_t>(out.size()) - (nl == std::string::npos ? -1 : static_cast<std::int64_t>(nl)) + 1;
    for (const std::string& s : suffixes) {
        const auto len = static_cast<std::int64_t>(s.size());
        if (last + len + 2 > kLineWidth) {
            out += ",\n" + std::string(static_cast<std::size_t>(indent), ' ') + s;
            last = indent + len;
        } else {
            out += ", " + s;
            last += len + 2;
        }
    }
    return out + ")";
}

std::string Tensor::str() const { return format_tensor(*this); }

}  // namespace ad
