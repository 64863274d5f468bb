// The op registry's entries: for each op, its variants, references and sample inputs.
// Sample data are seeded (deterministic); values near a kink are pushed away from it unless the
// sample is about the kink, in which case it states the expected gradient instead.
#include "op_registry.hpp"

#include <fmt/format.h>

#include <limits>

namespace ad::testing {

namespace {

using Ts = std::vector<Tensor>;
using Rs = std::vector<Ref>;
constexpr double kNoKink = std::numeric_limits<double>::quiet_NaN();

std::uint64_t next_seed() {
    static std::uint64_t seed = 1000;
    return seed++;
}
// Seeded uniform float64 data; values within `gap` of `kink` are moved to kink ± gap.
Tensor U(const Shape& s, double lo = -2.0, double hi = 2.0, double kink = kNoKink, double gap = 0.05) {
    Tensor t = Tensor::uniform(s, lo, hi, f64, next_seed());
    if (!std::isnan(kink)) {
        double* p = t.data<double>();
        for (std::int64_t i = 0; i < t.numel(); ++i)
            if (std::fabs(p[i] - kink) < gap) p[i] = p[i] < kink ? kink - gap : kink + gap;
    }
    return t;
}
Tensor from(const std::vector<double>& v, const Shape& s) { return Tensor::from_data(std::span<const double>(v), s); }

std::string shapes_label(const Ts& in) {
    std::string s;
    for (const Tensor& t : in) s += (s.empty() ? "" : " with ") + t.shape().str();
    return s;
}
Sample S(Ts in, std::string note = "") {
    Sample s;
    s.label = shapes_label(in) + (note.empty() ? "" : " (" + note + ")");
    s.inputs = std::move(in);
    return s;
}
// A sample at a kink: no finite differences; the expected gradient of sum(f) instead.
Sample K(Ts in, std::vector<std::vector<double>> grads, std::string note) {
    Sample s = S(std::move(in), std::move(note));
    s.gradcheck = false;
    s.expected_grad = std::move(grads);
    return s;
}

const std::vector<Shape> kUnaryShapes = {{}, {1}, {5}, {2, 3}, {2, 1, 3}, {0}, {2, 0}};
const std::vector<std::pair<Shape, Shape>> kBinaryShapes = {
    {{2, 3}, {2, 3}}, {{2, 3}, {3}}, {{2, 1}, {1, 3}}, {{}, {2, 3}}, {{2, 3}, {}},
    {{}, {}},         {{1}, {4}},    {{2, 1, 3}, {4, 1}}, {{3}, {2, 1, 1}}, {{0, 3}, {3}}, {{2, 0}, {2, 1}},
};

std::vector<Sample> unary_samples(double lo, double hi, double kink = kNoKink) {
    std::vector<Sample> r;
    for (const Shape& s : kUnaryShapes) r.push_back(S({U(s, lo, hi, kink)}));
    return r;
}
std::vector<Sample> binary_samples(double alo, double ahi, double blo, double bhi, double bkink = kNoKink) {
    std::vector<Sample> r;
    for (const auto& [sa, sb] : kBinaryShapes) r.push_back(S({U(sa, alo, ahi), U(sb, blo, bhi, bkink, 0.3)}));
    return r;
}

class Builder {
public:
    OpEntry& add(std::string name, std::string variant, TensorFn fn, RefFn ref, std::vector<Sample> samples) {
        entries.push_back(OpEntry{std::move(name), std::move(variant), std::move(fn), std::move(ref), std::move(samples)});
        return entries.back();
    }
    // f applied to x and to a transposed (non-contiguous) view.
    void unary(const std::string& name, std::function<Tensor(const Tensor&)> f, std::function<double(double)> r, double lo,
               double hi, double kink = kNoKink, std::vector<Sample> extra = {}) {
        auto samples = unary_samples(lo, hi, kink);
        for (auto& e : extra) samples.push_back(std::move(e));
        add(name, "contiguous", [f](const Ts& x) { return f(x[0]); }, [r](const Rs& x) { return ref_map(x[0], r); },
            std::move(samples));
        add(name, "transposed view", [f](const Ts& x) { return f(x[0].t()); },
            [r](const Rs& x) { return ref_map(ref_transpose(x[0], 0, 1), r); }, {S({U({3, 2}, lo, hi, kink)})});
    }
    void binary(const std::string& name, TensorFn f, std::function<double(double, double)> r, std::vector<Sample> samples) {
        add(name, "broadcast", std::move(f), [r](const Rs& x) { return ref_zip(x[0], x[1], r); }, std::move(samples));
    }
    // Appends `suffix` to the variant of the last n entries.
    void tag(std::size_t n, const std::string& suffix) {
        for (std::size_t i = entries.size() - n; i < entries.size(); ++i) entries[i].variant += suffix;
    }
    std::vector<OpEntry> entries;
};

void elementwise(Builder& b) {
    using D = double;
    b.binary("add", [](const Ts& x) { return x[0] + x[1]; }, [](D a, D c) { return a + c; }, binary_samples(-2, 2, -2, 2));
    b.binary("sub", [](const Ts& x) { return x[0] - x[1]; }, [](D a, D c) { return a - c; }, binary_samples(-2, 2, -2, 2));
    b.binary("mul", [](const Ts& x) { return x[0] * x[1]; }, [](D a, D c) { return a * c; }, binary_samples(-2, 2, -2, 2));
    b.binary("div", [](const Ts& x) { return x[0] / x[1]; }, [](D a, D c) { return a / c; }, binary_samples(-2, 2, -2, 2, 0.0));
    auto pow_samples = binary_samples(0.5, 2, -1.5, 2);
    pow_samples.push_back(K({from({0, 0, 2}, {3}), from({2, 0, 0}, {3})}, {{0, 0, 0}, {0, 0, std::log(2.0)}}, "base 0"));
    b.binary("pow", [](const Ts& x) { return pow(x[0], x[1]); }, [](D a, D c) { return std::pow(a, c); }, pow_samples);
    for (const bool is_max : {false, true}) {
        auto samples = binary_samples(-2, 2, -2, 2);
        samples.push_back(K({from({1, 2, 3}, {3}), from({1, 0, 4}, {3})},
                            {{0.5, is_max ? 1.0 : 0.0, is_max ? 0.0 : 1.0}, {0.5, is_max ? 0.0 : 1.0, is_max ? 1.0 : 0.0}},
                            "tie"));
        if (is_max)
            b.binary("maximum", [](const Ts& x) { return maximum(x[0], x[1]); }, [](D a, D c) { return std::fmax(a, c); }, samples);
        else
            b.binary("minimum", [](const Ts& x) { return minimum(x[0], x[1]); }, [](D a, D c) { return std::fmin(a, c); }, samples);
    }
    // compound assignment (recorded, not in place)
    b.binary("iadd", [](const Ts& x) { Tensor y = x[0].clone(); y += x[1]; return y; }, [](D a, D c) { return a + c; },
             {S({U({2, 3}), U({3})})});
    b.binary("isub", [](const Ts& x) { Tensor y = x[0].clone(); y -= x[1]; return y; }, [](D a, D c) { return a - c; },
             {S({U({2, 3}), U({2, 1})})});
    b.binary("imul", [](const Ts& x) { Tensor y = x[0].clone(); y *= x[1]; return y; }, [](D a, D c) { return a * c; },
             {S({U({2, 3}), U({})})});
    b.binary("idiv", [](const Ts& x) { Tensor y = x[0].clone(); y /= x[1]; return y; }, [](D a, D c) { return a / c; },
             {S({U({2, 3}), U({3}, 0.5, 2)})});

    // where(mask, a, b): the mask is a constant captured by the function.
    const Tensor mask23 = from({1, 0, 0, 1, 1, 0}, {2, 3}), mask3 = from({0, 1, 1}, {3});
    b.add("where", "mask [2, 3]", [mask23](const Ts& x) { return where(mask23, x[0], x[1]); },
          [r = to_ref(mask23)](const Rs& x) { return ref_where(r, x[0], x[1]); }, {S({U({2, 3}), U({2, 3})}), S({U({}), U({3})})});
    b.add("where", "mask [3] broadcast", [mask3](const Ts& x) { return where(mask3, x[0], x[1]); },
          [r = to_ref(mask3)](const Rs& x) { return ref_where(r, x[0], x[1]); }, {S({U({2, 1}), U({})}), S({U({}), U({})})});

    // with a number
    b.unary("neg", [](const Tensor& x) { return neg(x); }, [](D a) { return -a; }, -2, 2);
    b.unary("neg", [](const Tensor& x) { return -x; }, [](D a) { return -a; }, -2, 2);
    b.tag(2, ", operator-");
    b.unary("add_scalar", [](const Tensor& x) { return x + 2.5; }, [](D a) { return a + 2.5; }, -2, 2);
    b.unary("add_scalar", [](const Tensor& x) { return 2.5 + x; }, [](D a) { return 2.5 + a; }, -2, 2);
    b.tag(2, ", number on the left");
    b.unary("sub_scalar", [](const Tensor& x) { return x - 1.5; }, [](D a) { return a - 1.5; }, -2, 2);
    b.unary("rsub_scalar", [](const Tensor& x) { return 1.5 - x; }, [](D a) { return 1.5 - a; }, -2, 2);
    b.unary("mul_scalar", [](const Tensor& x) { return x * 3.0; }, [](D a) { return a * 3.0; }, -2, 2);
    b.unary("mul_scalar", [](const Tensor& x) { return -0.5 * x; }, [](D a) { return -0.5 * a; }, -2, 2);
    b.tag(2, ", number on the left");
    b.unary("div_scalar", [](const Tensor& x) { return x / 4.0; }, [](D a) { return a / 4.0; }, -2, 2);
    b.unary("rdiv_scalar", [](const Tensor& x) { return 2.0 / x; }, [](D a) { return 2.0 / a; }, -2, 2, 0.0);
    for (const double p : {3.0, 0.5, -1.5, 2.0, 1.0, 0.0}) {
        const bool integral = p == std::floor(p);  // negative bases only for integral powers
        b.unary("pow_scalar", [p](const Tensor& x) { return pow(x, p); }, [p](D a) { return std::pow(a, p); },
                integral ? -2 : 0.5, 2, 0.0);
        b.tag(2, fmt::format(", p = {}", p));
    }
    b.unary("square", [](const Tensor& x) { return square(x); }, [](D a) { return a * a; }, -2, 2);

    // with a Value (scalar of the graph): the Value comes from a one-element input via item_value
    auto tv = [](const Rs& x) { return ref_map(x[0], [v = x[1].v[0]](D a) { return a * v; }); };
    auto tpv = [](const Rs& x) { return ref_map(x[0], [v = x[1].v[0]](D a) { return a + v; }); };
    const std::vector<Sample> value_samples = {S({U({2, 3}), U({})}), S({U({}), U({1})}), S({U({4}), U({1, 1})})};
    b.add("mul_value", "tensor * Value", [](const Ts& x) { return x[0] * item_value(x[1]); }, tv, value_samples);
    b.add("mul_value", "Value * tensor", [](const Ts& x) { return item_value(x[1]) * x[0]; }, tv, value_samples);
    b.add("add_value", "tensor + Value", [](const Ts& x) { return x[0] + item_value(x[1]); }, tpv, value_samples);
    b.add("add_value", "Value + tensor", [](const Ts& x) { return item_value(x[1]) + x[0]; }, tpv, value_samples);
    b.add("item_value", "through a scalar op", [](const Ts& x) { return tensor_from_value(exp(item_value(x[0])), x[0].dtype()); },
          [](const Rs& x) { return Ref{{}, {std::exp(x[0].v[0])}}; }, {S({U({})}), S({U({1, 1})})});
    b.add("tensor_from_value", "Value into a tensor op",
          [](const Ts& x) { return tensor_from_value(sin(item_value(x[0])) * item_value(x[0]), x[1].dtype()) * x[1]; },
          [](const Rs& x) { return ref_map(x[1], [v = x[0].v[0]](D a) { return std::sin(v) * v * a; }); },
          {S({U({}), U({2, 3})}), S({U({1}), U({})})});
}

void unary_functions(Builder& b) {
    using D = double;
    b.unary("exp", [](const Tensor& x) { return exp(x); }, [](D a) { return std::exp(a); }, -2, 2);
    b.unary("log", [](const Tensor& x) { return log(x); }, [](D a) { return std::log(a); }, 0.3, 3);
    b.unary("log1p", [](const Tensor& x) { return log1p(x); }, [](D a) { return std::log1p(a); }, -0.6, 2);
    b.unary("sqrt", [](const Tensor& x) { return sqrt(x); }, [](D a) { return std::sqrt(a); }, 0.3, 3);
    b.unary("abs", [](const Tensor& x) { return abs(x); }, [](D a) { return std::fabs(a); }, -2, 2, 0.0,
            {K({from({0, -1, 2}, {3})}, {{0, -1, 1}}, "abs'(0) = 0")});
    b.unary("sin", [](const Tensor& x) { return sin(x); }, [](D a) { return std::sin(a); }, -3, 3);
    b.unary("cos", [](const Tensor& x) { return cos(x); }, [](D a) { return std::cos(a); }, -3, 3);
    const Tensor big = from({1000, -1000, 0.5}, {3});
    b.unary("tanh", [](const Tensor& x) { return tanh(x); }, [](D a) { return std::tanh(a); }, -2, 2, kNoKink, {S({big}, "±1000")});
    b.unary("sigmoid", [](const Tensor& x) { return sigmoid(x); }, ref_sigmoid, -4, 4, kNoKink, {S({big}, "±1000")});
    b.unary("relu", [](const Tensor& x) { return relu(x); }, [](D a) { return a > 0 ? a : 0.0; }, -2, 2, 0.0,
            {K({from({0, -1, 2}, {3})}, {{0, 0, 1}}, "relu'(0) = 0")});
    b.unary("leaky_relu", [](const Tensor& x) { return leaky_relu(x); }, [](D a) { return a > 0 ? a : 0.01 * a; }, -2, 2, 0.0,
            {K({from({0, -1, 2}, {3})}, {{0.01, 0.01, 1}}, "slope at 0")});
    b.unary("leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.2); }, [](D a) { return a > 0 ? a : 0.2 * a; }, -2, 2, 0.0);
    b.tag(2, ", slope 0.2");
    b.unary("gelu", [](const Tensor& x) { return gelu(x); }, ref_gelu, -3, 3);
    b.unary("softplus", [](const Tensor& x) { return softplus(x); }, ref_softplus, -4, 4, kNoKink, {S({big}, "±1000")});
    b.unary("clamp", [](const Tensor& x) { return clamp(x, -0.5, 0.7); }, [](D a) { return std::clamp(a, -0.5, 0.7); }, -2, 2,
            -0.5, {K({from({-0.5, 0.7, 1.0, -2}, {4})}, {{1, 1, 0, 0}}, "1 at the bounds")});
    // the upper kink too
    b.add("clamp", "away from the upper bound", [](const Ts& x) { return clamp(x[0], -0.5, 0.7); },
          [](const Rs& x) { return ref_map(x[0], [](D a) { return std::clamp(a, -0.5, 0.7); }); }, {S({U({6}, -2, 2, 0.7)})});
}

void reductions(Builder& b) {
    struct Red {
        const char* name;
        std::function<Tensor(const Tensor&, const Axes&, bool)> f;
        std::function<Tensor(const Tensor&)> all;
        std::function<double(const std::vector<double>&)> r;
    };
    auto mx = [](const std::vector<double>& g) { return *std::max_element(g.begin(), g.end()); };
    auto mn = [](const std::vector<double>& g) { return *std::min_element(g.begin(), g.end()); };
    const std::vector<Red> reds = {
        {"sum", [](const Tensor& x, const Axes& a, bool k) { return sum(x, a, k); }, [](const Tensor& x) { return sum(x); }, ref_sum_of},
        {"mean", [](const Tensor& x, const Axes& a, bool k) { return mean(x, a, k); }, [](const Tensor& x) { return mean(x); },
         ref_mean_of},
        {"max", [](const Tensor& x, const Axes& a, bool k) { return max(x, a, k); }, [](const Tensor& x) { return max(x); }, mx},
        {"min", [](const Tensor& x, const Axes& a, bool k) { return min(x, a, k); }, [](const Tensor& x) { return min(x); }, mn},
        {"var", [](const Tensor& x, const Axes& a, bool k) { return var(x, a, k); }, [](const Tensor& x) { return var(x); },
         [](const std::vector<double>& g) { return ref_var_of(g, 1); }},
        {"std", [](const Tensor& x, const Axes& a, bool k) { return std(x, a, k); }, [](const Tensor& x) { return std(x); },
         [](const std::vector<double>& g) { return std::sqrt(ref_var_of(g, 1)); }},
        {"logsumexp", [](const Tensor& x, const Axes& a, bool k) { return logsumexp(x, a, k); },
         [](const Tensor& x) { return logsumexp(x); }, ref_logsumexp_of},
    };
    struct AxesCase {
        Dims axes;
        bool keepdim;
        Shape shape;
    };
    const std::vector<AxesCase> cases = {
        {{0}, false, {3, 4}},     {{-1}, false, {2, 3}},    {{1}, true, {2, 3, 2}},     {{0, 2}, false, {2, 3, 2}},
        {{-1, 0}, true, {2, 2, 3}}, {{0}, true, {4}},       {{1}, false, {3, 1}},       {{0, 1}, false, {2, 3}},
    };
    for (const Red& red : reds) {
        const bool moments = std::string(red.name) == "var" || std::string(red.name) == "std";
        std::vector<Sample> all = {S({U({2, 3})}), S({U({5})}), S({U({2, 1, 3})})};
        if (!moments) all.insert(all.end(), {S({U({})}), S({U({1})})});
        b.add(red.name, "all elements", [f = red.all](const Ts& x) { return f(x[0]); },
              [r = red.r](const Rs& x) { return ref_reduce(x[0], {}, false, r); }, all);
        for (const AxesCase& c : cases) {
            if (moments && c.shape.size() == 2 && c.shape[1] == 1) continue;  // groups of one: 0/0
            b.add(red.name, fmt::format("axes {} keepdim {}", Shape(std::span<const std::int64_t>(c.axes)).str(), c.keepdim),
                  [f = red.f, c](const Ts& x) { return f(x[0], Axes(c.axes), c.keepdim); },
                  [r = red.r, c](const Rs& x) { return ref_reduce(x[0], c.axes, c.keepdim, r); }, {S({U(c.shape)})});
        }
        if (!moments)  // a 0-d tensor reduced over its axis 0 is itself
            b.add(red.name, "0-d over axis 0", [f = red.f](const Ts& x) { return f(x[0], Axes(0), false); },
                  [r = red.r](const Rs& x) { return ref_reduce(x[0], {0}, false, r); }, {S({U({})})});
    }
    // Moments with correction 0 (population variance), including 1-element groups.
    b.add("var", "correction 0", [](const Ts& x) { return var(x[0], Axes(-1), true, 0); },
          [](const Rs& x) { return ref_reduce(x[0], {-1}, true, [](const std::vector<double>& g) { return ref_var_of(g, 0); }); },
          {S({U({2, 3})})});
    b.add("var", "correction 0, groups of one", [](const Ts& x) { return var(x[0], Axes(1), false, 0); },
          [](const Rs& x) { return ref_reduce(x[0], {1}, false, [](const std::vector<double>& g) { return ref_var_of(g, 0); }); },
          {S({U({3, 1})})});
    b.add("std", "correction 0", [](const Ts& x) { return std(x[0], Axes::all(), false, 0); },
          [](const Rs& x) { return ref_reduce(x[0], {}, false, [](const std::vector<double>& g) { return std::sqrt(ref_var_of(g, 0)); }); },
          {S({U({2, 3})})});
    b.add("var", "correction 0, all elements", [](const Ts& x) { return var(x[0], Axes::all(), false, 0); },
          [](const Rs& x) { return ref_reduce(x[0], {}, false, [](const std::vector<double>& g) { return ref_var_of(g, 0); }); },
          {S({U({2, 3})})});
    // A plain int is an axis, as PyTorch's var(x, dim): var(x, 1) reduces axis 1 (correction 1).
    b.add("var", "var(x, 1) is over axis 1", [](const Ts& x) { return var(x[0], 1); },
          [](const Rs& x) { return ref_reduce(x[0], {1}, false, [](const std::vector<double>& g) { return ref_var_of(g, 1); }); },
          {S({U({3, 4})})});
    b.add("std", "std(x, 0) is over axis 0", [](const Ts& x) { return std(x[0], 0); },
          [](const Rs& x) {
              return ref_reduce(x[0], {0}, false, [](const std::vector<double>& g) { return std::sqrt(ref_var_of(g, 1)); });
          },
          {S({U({3, 2})})});
    // ties: the gradient is split equally among the extrema
    const Tensor tie = from({1, 3, 3, 2, -1, -1}, {2, 3});
    b.add("max", "ties", [](const Ts& x) { return max(x[0]); }, [mx](const Rs& x) { return ref_reduce(x[0], {}, false, mx); },
          {K({tie}, {{0, 0.5, 0.5, 0, 0, 0}}, "split")});
    b.add("max", "ties along axis", [](const Ts& x) { return max(x[0], 1); },
          [mx](const Rs& x) { return ref_reduce(x[0], {1}, false, mx); }, {K({tie}, {{0, 0.5, 0.5, 1, 0, 0}}, "split")});
    b.add("min", "ties along axis", [](const Ts& x) { return min(x[0], 1); },
          [mn](const Rs& x) { return ref_reduce(x[0], {1}, false, mn); }, {K({tie}, {{1, 0, 0, 0, 0.5, 0.5}}, "split")});
    // ±1000: logsumexp stays finite
    b.add("logsumexp", "±1000", [](const Ts& x) { return logsumexp(x[0], -1, true); },
          [](const Rs& x) { return ref_reduce(x[0], {-1}, true, ref_logsumexp_of); },
          {S({from({1000, 999.5, -1000, -1000, -999, -1000.5}, {2, 3})})});
    // member forms
    b.add("sum", "Tensor::sum", [](const Ts& x) { return x[0].sum(); }, [](const Rs& x) { return ref_reduce(x[0], {}, false, ref_sum_of); },
          {S({U({2, 3})})});
    b.add("mean", "Tensor::mean", [](const Ts& x) { return x[0].mean(); },
          [](const Rs& x) { return ref_reduce(x[0], {}, false, ref_mean_of); }, {S({U({2, 3})})});
    b.add("sum", "empty", [](const Ts& x) { return sum(x[0], 0); }, [](const Rs& x) { return ref_reduce(x[0], {0}, false, ref_sum_of); },
          {S({U({0, 3})}), S({U({0})})});
    b.add("mean", "empty rows", [](const Ts& x) { return mean(x[0], 1, true); },
          [](const Rs& x) { return ref_reduce(x[0], {1}, true, ref_mean_of); }, {S({U({0, 3})})});
    b.add("sum", "non-contiguous input", [](const Ts& x) { return sum(x[0].t(), 0); },
          [](const Rs& x) { return ref_reduce(ref_transpose(x[0], 0, 1), {0}, false, ref_sum_of); }, {S({U({2, 3})})});
}

void linalg(Builder& b) {
    auto mm = [](const Rs& x) { return ref_matmul(x[0], x[1]); };
    b.add("matmul", "2-d", [](const Ts& x) { return matmul(x[0], x[1]); }, mm,
          {S({U({2, 3}), U({3, 4})}), S({U({1, 3}), U({3, 1})}), S({U({3, 1}), U({1, 2})})});
    b.add("matmul", "batched", [](const Ts& x) { return matmul(x[0], x[1]); }, mm,
          {S({U({2, 2, 3}), U({3, 4})}), S({U({2, 2, 3}), U({2, 3, 2})}), S({U({2, 1, 2, 3}), U({3, 3, 2})}, "batch [2, 1] with [3]"),
           S({U({3, 2}), U({2, 2, 1})})});
    b.add("matmul", "vectors", [](const Ts& x) { return matmul(x[0], x[1]); }, mm,
          {S({U({3}), U({3, 2})}, "1-d·2-d"), S({U({2, 3}), U({3})}, "2-d·1-d"), S({U({3}), U({3})}, "1-d·1-d"),
           S({U({3}), U({2, 3, 2})}, "1-d·3-d"), S({U({2, 2, 3}), U({3})}, "3-d·1-d")});
    b.add("matmul", "empty", [](const Ts& x) { return matmul(x[0], x[1]); }, mm,
          {S({U({0, 3}), U({3, 2})}), S({U({2, 0}), U({0, 3})}, "inner 0: zeros"), S({U({2, 3}), U({3, 0})})});
    // Transposed operands reach BLAS as flags; a strided view that BLAS cannot read is copied.
    b.add("matmul", "Aᵀ B", [](const Ts& x) { return matmul(x[0].t(), x[1]); },
          [](const Rs& x) { return ref_matmul(ref_transpose(x[0], 0, 1), x[1]); }, {S({U({3, 2}), U({3, 4})})});
    b.add("matmul", "A Bᵀ", [](const Ts& x) { return matmul(x[0], x[1].t()); },
          [](const Rs& x) { return ref_matmul(x[0], ref_transpose(x[1], 0, 1)); }, {S({U({2, 3}), U({4, 3})}), S({U({1, 3}), U({1, 3})})});
    b.add("matmul", "Aᵀ Bᵀ", [](const Ts& x) { return matmul(x[0].t(), x[1].t()); },
          [](const Rs& x) { return ref_matmul(ref_transpose(x[0], 0, 1), ref_transpose(x[1], 0, 1)); }, {S({U({3, 2}), U({4, 3})})});
    b.add("matmul", "batched Aᵀ", [](const Ts& x) { return matmul(transpose(x[0], -2, -1), x[1]); },
          [](const Rs& x) { return ref_matmul(ref_transpose(x[0], -2, -1), x[1]); }, {S({U({2, 3, 2}), U({2, 3, 2})})});
    b.add("matmul", "strided view", [](const Ts& x) { return matmul(slice(x[0], 1, 0, 6, 2), x[1]); },
          [](const Rs& x) { return ref_matmul(ref_slice(x[0], 1, 0, 6, 2), x[1]); }, {S({U({2, 6}), U({3, 2})})});
    b.add("matmul", "expanded operand", [](const Ts& x) { return matmul(expand(x[0], {3, 4}), x[1]); },
          [](const Rs& x) { return ref_matmul(ref_expand(x[0], {3, 4}), x[1]); }, {S({U({1, 4}), U({4, 2})})});
    auto lin = [](const Rs& x) {
        Ref y = ref_matmul(x[0], ref_transpose(x[1], 0, 1));
        return x.size() > 2 ? ref_zip(y, x[2], [](double a, double c) { return a + c; }) : y;
    };
    b.add("linear", "with bias", [](const Ts& x) { return linear(x[0], x[1], x[2]); }, lin,
          {S({U({3, 4}), U({2, 4}), U({2})}), S({U({1, 1}), U({1, 1}), U({1})})});
    b.add("linear", "no bias", [](const Ts& x) { return linear(x[0], x[1], Tensor()); }, lin, {S({U({3, 4}), U({2, 4})})});
    b.add("linear", "transposed input", [](const Ts& x) { return linear(x[0].t(), x[1], x[2]); },
          [lin](const Rs& x) { return lin({ref_transpose(x[0], 0, 1), x[1], x[2]}); }, {S({U({4, 3}), U({2, 4}), U({2})})});
    // relu(linear(...)) as one node: its mask and the bias gradient's column sums in one pass.
    auto lin_relu = [lin](const Rs& x) { return ref_map(lin(x), [](double a) { return a > 0 ? a : 0.0; }); };
    b.add("linear_relu", "with bias", [](const Ts& x) { return linear_relu(x[0], x[1], x[2]); }, lin_relu,
          {S({U({3, 4}), U({2, 4}), U({2})}), S({U({5, 3}), U({4, 3}), U({4})}, "mixed signs")});
    b.add("linear_relu", "no bias", [](const Ts& x) { return linear_relu(x[0], x[1], Tensor()); }, lin_relu,
          {S({U({3, 4}), U({2, 4})})});
    b.add("linear_relu", "transposed input", [](const Ts& x) { return linear_relu(x[0].t(), x[1], x[2]); },
          [lin_relu](const Rs& x) { return lin_relu({ref_transpose(x[0], 0, 1), x[1], x[2]}); },
          {S({U({4, 3}), U({2, 4}), U({2})})});
    b.add("outer", "1-d × 1-d", [](const Ts& x) { return outer(x[0], x[1]); },
          [](const Rs& x) { return ref_matmul(ref_unsqueeze(x[0], 1), ref_unsqueeze(x[1], 0)); },
          {S({U({3}), U({2})}), S({U({1}), U({4})})});
}

void shape_ops(Builder& b) {
    using F = std::function<Tensor(const Tensor&)>;
    using R = std::function<Ref(const Ref&)>;
    auto one = [&b](const char* name, std::string variant, F f, R r, std::vector<Sample> samples) {
        b.add(name, std::move(variant), [f](const Ts& x) { return f(x[0]); }, [r](const Rs& x) { return r(x[0]); }, std::move(samples));
    };
    one("transpose", "(0, 1)", [](const Tensor& x) { return transpose(x, 0, 1); }, [](const Ref& x) { return ref_transpose(x, 0, 1); },
        {S({U({2, 3})})});
    one("transpose", "(0, -1)", [](const Tensor& x) { return transpose(x, 0, -1); }, [](const Ref& x) { return ref_transpose(x, 0, -1); },
        {S({U({2, 3, 2})})});
    one("transpose", "0-d", [](const Tensor& x) { return transpose(x, 0, -1); }, [](const Ref& x) { return x; }, {S({U({})})});
    one("t", "Tensor::t", [](const Tensor& x) { return x.t(); }, [](const Ref& x) { return ref_transpose(x, 0, 1); }, {S({U({3, 2})})});
    one("permute", "{2, 0, 1}", [](const Tensor& x) { return permute(x, {2, 0, 1}); },
        [](const Ref& x) { return ref_permute(x, {2, 0, 1}); }, {S({U({2, 3, 2})})});
    one("permute", "{-1, 0, 1}", [](const Tensor& x) { return permute(x, {-1, 0, 1}); },
        [](const Ref& x) { return ref_permute(x, {2, 0, 1}); }, {S({U({2, 1, 3})})});
    one("reshape", "[3, 2]", [](const Tensor& x) { return reshape(x, {3, 2}); }, [](const Ref& x) { return ref_reshape(x, {3, 2}); },
        {S({U({2, 3})}), S({U({6})})});
    one("reshape", "inferred -1", [](const Tensor& x) { return reshape(x, {2, -1}); }, [](const Ref& x) { return ref_reshape(x, {2, 6}); },
        {S({U({3, 4})})});
    one("reshape", "0-d and back", [](const Tensor& x) { return reshape(reshape(x, {}), {1, 1}); },
        [](const Ref& x) { return ref_reshape(x, {1, 1}); }, {S({U({1})})});
    one("reshape", "of a transposed view", [](const Tensor& x) { return reshape(x.t(), {6}); },
        [](const Ref& x) { return ref_reshape(ref_transpose(x, 0, 1), {6}); }, {S({U({2, 3})})});
    one("reshape", "Tensor::view", [](const Tensor& x) { return x.view({3, 2}); }, [](const Ref& x) { return ref_reshape(x, {3, 2}); },
        {S({U({2, 3})})});
    one("flatten", "all", [](const Tensor& x) { return flatten(x); }, [](const Ref& x) { return ref_reshape(x, {numel_of(x.shape)}); },
        {S({U({2, 3, 2})}), S({U({})})});
    one("flatten", "(1, 2)", [](const Tensor& x) { return flatten(x, 1, 2); }, [](const Ref& x) { return ref_reshape(x, {2, 6, 2}); },
        {S({U({2, 3, 2, 2})})});
    one("squeeze", "all", [](const Tensor& x) { return squeeze(x); }, [](const Ref& x) { return ref_reshape(x, {3}); },
        {S({U({1, 3, 1})})});
    one("squeeze", "axis -1", [](const Tensor& x) { return squeeze(x, -1); }, [](const Ref& x) { return ref_reshape(x, {1, 3}); },
        {S({U({1, 3, 1})})});
    one("squeeze", "axis of size 3 (no-op)", [](const Tensor& x) { return squeeze(x, 1); }, [](const Ref& x) { return x; },
        {S({U({1, 3, 1})})});
    for (const std::int64_t a : {0, 2, -1, -3})
        one("unsqueeze", fmt::format("axis {}", a), [a](const Tensor& x) { return unsqueeze(x, a); },
            [a](const Ref& x) { return ref_unsqueeze(x, a); }, {S({U({2, 3})})});
    one("unsqueeze", "0-d", [](const Tensor& x) { return unsqueeze(x, 0); }, [](const Ref& x) { return ref_unsqueeze(x, 0); },
        {S({U({})})});
    for (const auto& [from_s, to_s] : std::vector<std::pair<Shape, Shape>>{{{3}, {2, 3}}, {{2, 1}, {2, 4}}, {{}, {2, 2}}, {{1, 3}, {2, 2, 3}}})
        one("expand", to_s.str(), [to = to_s](const Tensor& x) { return expand(x, to); },
            [to = Dims(to_s.begin(), to_s.end())](const Ref& x) { return ref_expand(x, to); }, {S({U(from_s)})});
    // −1 keeps an existing dimension's size (PyTorch)
    one("expand", "[2, -1, 4] keeps the 3", [](const Tensor& x) { return expand(x, {2, -1, 4}); },
        [](const Ref& x) { return ref_expand(x, {2, 3, 4}); }, {S({U({3, 1})})});
    one("expand", "[-1, -1] is itself", [](const Tensor& x) { return expand(x, {-1, -1}); }, [](const Ref& x) { return x; },
        {S({U({2, 1})})});
    one("narrow", "axis 0", [](const Tensor& x) { return narrow(x, 0, 1, 2); }, [](const Ref& x) { return ref_slice(x, 0, 1, 3, 1); },
        {S({U({4, 3})})});
    one("narrow", "axis -1", [](const Tensor& x) { return narrow(x, -1, 2, 1); }, [](const Ref& x) { return ref_slice(x, -1, 2, 3, 1); },
        {S({U({4, 3})})});
    struct Sl {
        std::int64_t axis, start, stop, step;
        Shape shape;
    };
    for (const Sl& c : std::vector<Sl>{{0, 1, 5, 2, {6}}, {1, -4, -1, 1, {2, 5}}, {0, 0, 4, 3, {4, 2}}, {-1, 1, 100, 10, {2, 4}},
                                       {0, 3, 1, 1, {4}}})
        one("slice", fmt::format("axis {} [{}:{}:{}]", c.axis, c.start, c.stop, c.step),
            [c](const Tensor& x) { return slice(x, c.axis, c.start, c.stop, c.step); },
            [c](const Ref& x) { return ref_slice(x, c.axis, c.start, c.stop, c.step); }, {S({U(c.shape)})});
    auto cat_ref = [](std::int64_t a) { return [a](const Rs& x) { return ref_cat(x, a); }; };
    b.add("cat", "axis 0", [](const Ts& x) { return cat(x, 0); }, cat_ref(0), {S({U({2, 3}), U({1, 3})}), S({U({2}), U({3})})});
    b.add("cat", "axis -1, three inputs", [](const Ts& x) { return cat(x, -1); }, cat_ref(-1), {S({U({2, 1}), U({2, 3}), U({2, 2})})});
    b.add("cat", "with an empty piece", [](const Ts& x) { return cat(x, 0); }, cat_ref(0), {S({U({2, 3}), U({0, 3}), U({1, 3})})});
    b.add("cat", "one input", [](const Ts& x) { return cat({x[0]}, 1); }, cat_ref(1), {S({U({2, 3})})});
    auto stack_ref = [](std::int64_t a) {
        return [a](const Rs& x) {
            Rs u;
            for (const Ref& r : x) u.push_back(ref_unsqueeze(r, a));
            return ref_cat(u, a);
        };
    };
    b.add("stack", "axis 0", [](const Ts& x) { return stack(x, 0); }, stack_ref(0), {S({U({2, 3}), U({2, 3})}), S({U({}), U({}), U({})})});
    b.add("stack", "axis -1", [](const Ts& x) { return stack(x, -1); }, stack_ref(-1), {S({U({2, 3}), U({2, 3})})});
    for (std::int64_t k = 0; k < 3; ++k)
        one("split", fmt::format("chunk {} of [5, 2] by 2", k), [k](const Tensor& x) { return split(x, 2, 0).at(static_cast<std::size_t>(k)); },
            [k](const Ref& x) { return ref_slice(x, 0, 2 * k, 2 * k + 2, 1); }, {S({U({5, 2})})});
    one("split", "axis -1", [](const Tensor& x) { return split(x, 2, -1).at(1); }, [](const Ref& x) { return ref_slice(x, -1, 2, 3, 1); },
        {S({U({2, 3})})});
    const Tensor rows = from({2, 0, 2}, {3}), cols = from({1, 1}, {2});
    one("index_select", "axis 0, repeated", [rows](const Tensor& x) { return index_select(x, 0, rows); },
        [](const Ref& x) { return ref_index_select(x, 0, {2, 0, 2}); }, {S({U({4, 3})})});
    one("index_select", "axis -1", [cols](const Tensor& x) { return index_select(x, -1, cols); },
        [](const Ref& x) { return ref_index_select(x, -1, {1, 1}); }, {S({U({2, 3})})});
    const Tensor g1 = from({0, 3, 1, 1, 2, 0}, {3, 2}), g0 = from({2, 1, 0, 0}, {1, 4});
    one("gather", "axis 1", [g1](const Tensor& x) { return gather(x, 1, g1); },
        [r = to_ref(g1)](const Ref& x) { return ref_gather(x, 1, r); }, {S({U({3, 4})})});
    one("gather", "axis 0", [g0](const Tensor& x) { return gather(x, 0, g0); },
        [r = to_ref(g0)](const Ref& x) { return ref_gather(x, 0, r); }, {S({U({3, 4})})});
    one("gather", "axis -1 of a transposed view", [g1](const Tensor& x) { return gather(x.t(), -1, g1); },
        [r = to_ref(g1)](const Ref& x) { return ref_gather(ref_transpose(x, 0, 1), 1, r); }, {S({U({4, 3})})});
    one("contiguous", "of a transposed view", [](const Tensor& x) { return contiguous(x.t()); },
        [](const Ref& x) { return ref_transpose(x, 0, 1); }, {S({U({2, 3})})});
    one("contiguous", "Tensor::contiguous, already contiguous", [](const Tensor& x) { return x.contiguous() * 1.0; },
        [](const Ref& x) { return x; }, {S({U({2, 3})})});
    one("clone", "Tensor::clone", [](const Tensor& x) { return x.clone(); }, [](const Ref& x) { return x; }, {S({U({2, 3})}), S({U({})})});
    one("clone", "of a strided view", [](const Tensor& x) { return slice(x, 0, 0, 4, 2).clone(); },
        [](const Ref& x) { return ref_slice(x, 0, 0, 4, 2); }, {S({U({4, 2})})});
    // Tensor::to: float32 in the middle needs a wide finite-difference step.
    Sample wide = S({U({2, 3})});
    wide.tolerance = GradcheckOptions{.eps = 1e-3, .atol = 1e-4, .rtol = 1e-3};
    one("to", "float64 -> float32 -> float64", [](const Tensor& x) { return x.to(f32).to(x.dtype()) * x; },
        [](const Ref& x) { return ref_map(x, [](double a) { return static_cast<double>(static_cast<float>(a)) * a; }); }, {wide});
    one("to", "same dtype", [](const Tensor& x) { return x.to(x.dtype()); }, [](const Ref& x) { return x; }, {S({U({3})})});
    for (auto& e : b.entries)
        if (e.name == "to") e.f32_tol = 1e-3;
}

void softmaxes(Builder& b) {
    const Tensor big = from({1000, -1000, 999, -999, 1000, 0}, {2, 3});
    for (const bool log_form : {false, true}) {
        const char* name = log_form ? "log_softmax" : "softmax";
        auto row = log_form ? ref_log_softmax_row : ref_softmax_row;
        for (const std::int64_t axis : {-1, 0, 1}) {
            std::vector<Sample> samples = {S({U({2, 3})}), S({U({2, 3, 2}, -3, 3)})};
            if (axis != 1) samples.insert(samples.end(), {S({U({1})}), S({U({4})}), S({U({})})});
            if (axis == -1) samples.push_back(S({big}, "±1000"));
            b.add(name, fmt::format("axis {}", axis),
                  [axis, log_form](const Ts& x) { return log_form ? log_softmax(x[0], axis) : softmax(x[0], axis); },
                  [axis, row](const Rs& x) { return ref_along(x[0], axis, row); }, samples);
        }
    }
    // Cross-entropy as models compute it: −mean over rows of log_softmax picked at the labels.
    const Tensor labels = from({0, 2, 1}, {3, 1});
    b.add("log_softmax", "cross-entropy of gathered labels",
          [labels](const Ts& x) { return -mean(gather(log_softmax(x[0], -1), 1, labels)); },
          [r = to_ref(labels)](const Rs& x) {
              const Ref picked = ref_gather(ref_along(x[0], -1, ref_log_softmax_row), 1, r);
              return Ref{{}, {-ref_mean_of(picked.v)}};
          },
          {S({U({3, 4}, -3, 3)}), S({from({1000, -1000, 0, 5, -1000, 1000, 999, 998, 3, 2, 1, -1000}, {3, 4})}, "±1000")});
}

// The same tensor as both operands: the two gradients must add up.
void aliased(Builder& b) {
    using D = double;
    auto self = [&b](const char* name, TensorFn f, std::function<D(D)> r, double lo = -2, double hi = 2) {
        b.add(name, "same tensor twice", std::move(f), [r](const Rs& x) { return ref_map(x[0], r); }, {S({U({2, 3}, lo, hi)})});
    };
    self("add", [](const Ts& x) { return x[0] + x[0]; }, [](D a) { return a + a; });
    self("sub", [](const Ts& x) { return x[0] - x[0]; }, [](D) { return 0.0; });
    self("mul", [](const Ts& x) { return x[0] * x[0]; }, [](D a) { return a * a; });
    self("div", [](const Ts& x) { return x[0] / (x[0] * x[0]); }, [](D a) { return 1 / a; }, 0.5, 2);
    self("pow", [](const Ts& x) { return pow(x[0], x[0]); }, [](D a) { return std::pow(a, a); }, 0.5, 2);
    self("maximum", [](const Ts& x) { return maximum(x[0], x[0] * 0.5); }, [](D a) { return std::fmax(a, 0.5 * a); });
    self("where", [](const Ts& x) { return where(gt(x[0], zeros_like(x[0])), x[0], x[0] * x[0]); },
         [](D a) { return a > 0 ? a : a * a; });
    b.add("matmul", "same tensor twice", [](const Ts& x) { return matmul(x[0], x[0].t()); },
          [](const Rs& x) { return ref_matmul(x[0], x[0].shape.size() == 1 ? x[0] : ref_transpose(x[0], 0, 1)); },
          {S({U({2, 3})}), S({U({3})}, "t() of a vector is itself")});
    b.add("cat", "same tensor twice", [](const Ts& x) { return cat({x[0], x[0] * 2.0, x[0]}, 1); },
          [](const Rs& x) { return ref_cat({x[0], ref_map(x[0], [](D a) { return 2 * a; }), x[0]}, 1); }, {S({U({2, 3})})});
}

}  // namespace

const std::vector<OpEntry>& op_registry() {
    static const std::vector<OpEntry>* registry = [] {
        Builder b;
        elementwise(b);
        unary_functions(b);
        reductions(b);
        linalg(b);
        shape_ops(b);
        softmaxes(b);
        aliased(b);
        return new std::vector<OpEntry>(std::move(b.entries));  // never destroyed: no exit-order issues
    }();
    return *registry;
}

const std::vector<PublicOp>& public_ops() {
    static const std::vector<PublicOp> ops = {
        // arithmetic.hpp
        {"operator+", {"add", "add_scalar", "add_value"}},
        {"operator-", {"sub", "sub_scalar", "rsub_scalar", "neg"}},
        {"operator*", {"mul", "mul_scalar", "mul_value"}},
        {"operator/", {"div", "div_scalar", "rdiv_scalar"}},
        {"neg", {"neg"}},
        {"pow", {"pow", "pow_scalar"}},
        {"square", {"square"}},
        {"operator+=", {"iadd"}},
        {"operator-=", {"isub"}},
        {"operator*=", {"imul"}},
        {"operator/=", {"idiv"}},
        // compare.hpp
        {"where", {"where"}},
        {"minimum", {"minimum"}},
        {"maximum", {"maximum"}},
        // linalg.hpp
        {"matmul", {"matmul"}},
        {"outer", {"outer"}},
        {"linear", {"linear"}},
        {"linear_relu", {"linear_relu"}},
        // reduce.hpp
        {"sum", {"sum"}},
        {"mean", {"mean"}},
        {"max", {"max"}},
        {"min", {"min"}},
        {"var", {"var"}},
        {"std", {"std"}},
        {"logsumexp", {"logsumexp"}},
        // shape_ops.hpp
        {"reshape", {"reshape"}},
        {"flatten", {"flatten"}},
        {"squeeze", {"squeeze"}},
        {"unsqueeze", {"unsqueeze"}},
        {"transpose", {"transpose"}},
        {"permute", {"permute"}},
        {"expand", {"expand"}},
        {"contiguous", {"contiguous"}},
        {"narrow", {"narrow"}},
        {"slice", {"slice"}},
        {"cat", {"cat"}},
        {"stack", {"stack"}},
        {"split", {"split"}},
        {"index_select", {"index_select"}},
        {"gather", {"gather"}},
        // softmax.hpp
        {"softmax", {"softmax"}},
        {"log_softmax", {"log_softmax"}},
        // unary.hpp
        {"exp", {"exp"}},
        {"log", {"log"}},
        {"log1p", {"log1p"}},
        {"sqrt", {"sqrt"}},
        {"abs", {"abs"}},
        {"sin", {"sin"}},
        {"cos", {"cos"}},
        {"tanh", {"tanh"}},
        {"sigmoid", {"sigmoid"}},
        {"relu", {"relu"}},
        {"leaky_relu", {"leaky_relu"}},
        {"gelu", {"gelu"}},
        {"softplus", {"softplus"}},
        {"clamp", {"clamp"}},
        // tensor.hpp (members and the scalar/tensor bridges)
        {"item_value", {"item_value"}},
        {"tensor_from_value", {"tensor_from_value"}},
        {"Tensor::contiguous", {"contiguous"}},
        {"Tensor::clone", {"clone"}},
        {"Tensor::to", {"to"}},
        {"Tensor::t", {"t"}},
        {"Tensor::sum", {"sum"}},
        {"Tensor::mean", {"mean"}},
        {"Tensor::reshape", {"reshape"}},
        {"Tensor::view", {"reshape"}},
    };
    return ops;
}

const std::vector<std::string>& non_differentiable_ops() {
    static const std::vector<std::string> ops = {"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_not", "argmax", "one_hot"};
    return ops;
}

}  // namespace ad::testing
