// Graphviz pictures of the recorded graph: one backward walk over the tape marks what the root
// depends on; one forward pass writes the nodes and edges. No recursion anywhere.
#include <autodiff/dot.hpp>
#include <autodiff/tensor_node.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <unordered_map>

namespace ad {

namespace {

using detail::Op;
using detail::Tape;

constexpr const char* kHeader =
    "digraph autodiff {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n"
    "  edge [fontname=\"Helvetica\", fontsize=9];\n";

// How many tape entries an op reads through arg_a / arg_b (constant ops keep a pool index in
// arg_b). A switch without default: a new op code is a compile error here until drawn.
int scalar_arity(Op op) {
    switch (op) {
    case Op::Leaf:
    case Op::Const:
    case Op::Tensor:  // inputs are in the TensorNode
    case Op::Stmt:    // inputs are in the statement columns
    case Op::Sum:
    case Op::Dot:
        return 0;
    case Op::Neg:
    case Op::AddC: case Op::MulC: case Op::DivC: case Op::RSubC: case Op::RDivC: case Op::PowC: case Op::RPowC:
    case Op::Exp: case Op::Log: case Op::Log1p: case Op::Sqrt: case Op::Sin: case Op::Cos: case Op::Tan:
    case Op::Tanh: case Op::Sigmoid: case Op::Relu: case Op::Abs: case Op::Square: case Op::Erf:
    case Op::FromTensor:
        return 1;
    case Op::Add: case Op::Sub: case Op::Mul: case Op::Div: case Op::Pow: case Op::Min: case Op::Max:
    case Op::Atan2: case Op::Hypot:
        return 2;
    }
    return 0;
}

bool non_commutative(Op op) { return op == Op::Sub || op == Op::Div || op == Op::Pow || op == Op::Atan2; }

// The text of an op ellipse: symbols for arithmetic, the constant for constant ops.
std::string op_text(const Tape& t, std::uint32_t i) {
    const Op op = t.op[i];
    auto k = [&] { return fmt::format("{:g}", t.consts[t.arg_b[i]]); };
    switch (op) {
    case Op::Add: return "+";
    case Op::Sub: return "-";
    case Op::Mul: return "*";
    case Op::Div: return "/";
    case Op::AddC: return "+ " + k();
    case Op::MulC: return "* " + k();
    case Op::DivC: return "/ " + k();
    case Op::RSubC: return k() + " -";
    case Op::RDivC: return k() + " /";
    case Op::PowC: return "^ " + k();
    case Op::RPowC: return k() + " ^";
    case Op::Tensor: return t.tensor_nodes[t.arg_a[i]]->name;
    default: return detail::op_name(op);
    }
}

// Text safe inside a quoted DOT record label: record syntax characters and quotes escaped,
// control characters replaced by spaces.
std::string escape(const std::string& s) {
    std::string r;
    r.reserve(s.size());
    for (char c : s) {
        if (c == '{' || c == '}' || c == '|' || c == '<' || c == '>' || c == '"' || c == '\\') {
            r += '\\';
            r += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            r += ' ';
        } else {
            r += c;
        }
    }
    return r;
}

// Text safe inside a quoted plain (non-record) DOT label.
std::string escape_plain(const std::string& s) {
    std::string r;
    r.reserve(s.size());
    for (char c : s) {
        if (c == '"' || c == '\\') r += '\\';
        r += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    }
    return r;
}

std::string number(double v) { return fmt::format("{:.4f}", v); }

// "[2, 3] float64" plus mean/min/max of the data (NaNs counted, not summarized). Shapes and
// numbers need no escaping in a record label; " | " starts a new field.
std::string tensor_summary(const Tensor& x, bool with_data) {
    std::string s = fmt::format("{} {}", x.shape().str(), dtype_name(x.dtype()));
    if (!with_data || x.numel() == 0) return s;
    NoGrad ng;
    const std::vector<double> v = x.to_vector();
    if (v.size() == 1) return s + " | data " + number(v[0]);
    double lo = std::numeric_limits<double>::infinity(), hi = -lo, sum = 0;
    std::size_t nan = 0;
    for (double e : v) {
        if (std::isnan(e)) {
            ++nan;
            continue;
        }
        lo = std::min(lo, e);
        hi = std::max(hi, e);
        sum += e;
    }
    const std::size_t ok = v.size() - nan;
    if (ok > 0) s += fmt::format(" | mean {:.4g} min {:.4g} max {:.4g}", sum / double(ok), lo, hi);
    if (nan > 0) s += fmt::format(" ({} NaN)", nan);
    return s;
}

// The graph below `root` on tape t. root_box, when given, replaces the root's box text (the root
// handle can show data that the tape does not keep).
class DotWriter {
public:
    DotWriter(const Tape& t, std::uint32_t root) : t_(t), root_(root) {
        for (const auto& [entry, label] : t.labels) labels_[entry] = label;  // later labels win
    }

    std::string run(const std::string& root_box) {
        mark();
        out_ = kHeader;
        for (std::uint32_t i = 0; i <= root_; ++i)
            if (reach_[i]) entry(i, i == root_ && !root_box.empty() ? root_box : box(i));
        out_ += "}\n";
        return std::move(out_);
    }

private:
    // Marks every entry the root depends on: entries only read earlier entries, so one
    // descending loop sees each entry's users before the entry itself.
    void mark() {
        reach_.assign(std::size_t(root_) + 1, 0);
        reach_[root_] = 1;
        for (std::uint32_t i = root_ + 1; i-- > 0;) {
            if (!reach_[i]) continue;
            for (std::uint32_t a : args(i)) reach_[a] = 1;
        }
    }

    std::vector<std::uint32_t> args(std::uint32_t i) const {
        const Op op = t_.op[i];
        std::vector<std::uint32_t> r;
        if (op == Op::Tensor) {
            for (std::uint32_t in : t_.tensor_nodes[t_.arg_a[i]]->inputs)
                if (in != detail::kNoNode && in < i) r.push_back(in);
            return r;
        }
        if (op == Op::Stmt || op == Op::Sum || op == Op::Dot) {
            for (std::uint32_t k = t_.arg_a[i]; k < t_.arg_a[i] + t_.arg_b[i]; ++k)
                if (std::find(r.begin(), r.end(), t_.stmt_arg[k]) == r.end()) r.push_back(t_.stmt_arg[k]);
            return r;
        }
        const int n = scalar_arity(op);
        if (n >= 1) r.push_back(t_.arg_a[i]);
        if (n == 2) r.push_back(t_.arg_b[i]);
        return r;
    }

    bool is_leaf(std::uint32_t i) const {
        const Op op = t_.op[i];
        return op == Op::Leaf || op == Op::Const || (op == Op::Tensor && t_.tensor_nodes[t_.arg_a[i]]->leaf);
    }

    std::string label(std::uint32_t i) const {
        const Op op = t_.op[i];
        if (op == Op::Leaf) {
            const detail::LeafData* leaf = t_.leaf_at(i);
            if (leaf->refs > 0 && leaf->extras) return leaf->extras->label;
            return {};
        }
        if (op == Op::Tensor) {
            const detail::TensorNode& n = *t_.tensor_nodes[t_.arg_a[i]];
            if (n.leaf && !n.leaf->label.empty()) return n.leaf->label;
        }
        auto it = labels_.find(i);
        return it == labels_.end() ? std::string() : it->second;
    }

    // The text of entry i's box, without the label field.
    std::string box(std::uint32_t i) const {
        const Op op = t_.op[i];
        if (op == Op::Tensor) {
            const detail::TensorNode& n = *t_.tensor_nodes[t_.arg_a[i]];
            if (n.leaf) return tensor_summary(Tensor(n.leaf), true);
            return fmt::format("{} {}", n.shape.str(), dtype_name(n.dtype));
        }
        std::string s = "data " + number(t_.val[i]);
        if (op == Op::Leaf) {
            const detail::LeafData* leaf = t_.leaf_at(i);
            if (leaf->refs > 0) s += " | grad " + number(leaf->grad);
        } else if (op == Op::Const) {
            s = "const | " + s;
        }
        return s;
    }

    void entry(std::uint32_t i, const std::string& text) {
        const std::string l = label(i);
        const std::string fields = l.empty() ? text : escape(l) + " | " + text;
        fmt::format_to(std::back_inserter(out_), "  n{} [shape=record, label=\"{{ {} }}\"{}];\n", i, fields,
                       i == root_ ? ", style=bold" : "");
        if (is_leaf(i)) return;
        fmt::format_to(std::back_inserter(out_), "  n{}_op [shape=ellipse, label=\"{}\"];\n  n{}_op -> n{};\n", i,
                       escape_plain(op_text(t_, i)), i, i);
        const std::vector<std::uint32_t> a = args(i);
        const bool named = a.size() == 2 && non_commutative(t_.op[i]);
        for (std::size_t k = 0; k < a.size(); ++k) {
            if (k > 0 && a[k] == a[k - 1] && !named) continue;  // x * x: one edge
            if (named)
                fmt::format_to(std::back_inserter(out_), "  n{} -> n{}_op [label=\"{}\"];\n", a[k], i, k == 0 ? "a" : "b");
            else
                fmt::format_to(std::back_inserter(out_), "  n{} -> n{}_op;\n", a[k], i);
        }
    }

    const Tape& t_;
    std::uint32_t root_;
    std::unordered_map<std::uint32_t, std::string> labels_;
    std::vector<char> reach_;
    std::string out_;
};

std::string single_node(const std::string& label, const std::string& text) {
    const std::string fields = label.empty() ? text : escape(label) + " | " + text;
    return fmt::format("{}  n0 [shape=record, label=\"{{ {} }}\", style=bold];\n}}\n", kHeader, fields);
}

std::string shell_quote(const std::string& s) {
    std::string r = "'";
    for (char c : s) {
        if (c == '\'')
            r += "'\\''";
        else
            r += c;
    }
    return r + "'";
}

}  // namespace

std::string to_dot(const Value& root) {
    Tape& t = detail::tape();
    if (root.is_constant()) return single_node("", "const | data " + number(root.value()));
    std::uint32_t entry = detail::kNoNode;
    if (root.is_leaf()) {
        const detail::LeafData* leaf = root.leaf_data();
        if (leaf->epoch == t.epoch && leaf->node != detail::kNoNode) entry = leaf->node;
        if (entry == detail::kNoNode)  // a leaf no op has used: nothing recorded
            return single_node(root.label(), "data " + number(root.value()) + " | grad " + number(root.grad()));
    } else {
        entry = root.node(t);  // GraphError if its graph was released
    }
    return DotWriter(t, entry).run("");
}

std::string to_dot(const Tensor& root) {
    if (!root.defined()) throw ValueError("to_dot: the tensor is undefined");
    Tape& t = detail::tape();
    std::uint32_t entry = detail::kNoNode;
    if (!root.is_leaf()) {
        entry = root.node(t);  // GraphError if its graph was released
    } else if (root.requires_grad() && root.impl()->epoch == t.epoch) {
        entry = root.impl()->node;
    }
    const std::string text = tensor_summary(root, true);
    if (entry == detail::kNoNode) return single_node(root.label(), text);
    return DotWriter(t, entry).run(text);
}

void write_dot(const std::string& path, const std::string& dot) {
    namespace fs = std::filesystem;
    const fs::path p(path);
    std::error_code ec;
    if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
    if (ec) throw IOError(fmt::format("write_dot: {}: cannot create folder {}: {}", path, p.parent_path().string(), ec.message()));
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    if (!out) throw IOError(fmt::format("write_dot: {}: cannot open for writing: {}", path, std::strerror(errno)));
    out.write(dot.data(), static_cast<std::streamsize>(dot.size()));
    out.close();
    if (!out) throw IOError(fmt::format("write_dot: {}: write failed ({} bytes): {}", path, dot.size(), std::strerror(errno)));
}

bool graphviz_available() { return std::system("command -v dot >/dev/null 2>&1") == 0; }

bool render_dot(const std::string& dot_path, const std::string& out_path) {
    if (!graphviz_available()) return false;
    std::string format = std::filesystem::path(out_path).extension().string();
    if (!format.empty()) format.erase(0, 1);
    if (format != "png" && format != "pdf") format = "svg";
    const std::string cmd =
        fmt::format("dot -T{} {} -o {} >/dev/null 2>&1", format, shell_quote(dot_path), shell_quote(out_path));
    return std::system(cmd.c_str()) == 0 && std::filesystem::exists(out_path);
}

}  // namespace ad
