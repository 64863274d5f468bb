// Broadcasting: every binary elementwise op over every pair of ranks 0..3 with every pattern of
// size-1 dimensions (forward vs the NumPy-like reference of op_registry.hpp, gradient shapes and
// values), and the errors of every op family for shapes and dtypes that do not fit.
#include "op_registry.hpp"

#include <doctest/doctest.h>

using namespace ad::testing;
using ad::Shape;
using ad::Tensor;

namespace {

struct BinaryOp {
    const char* name;  // the name error messages use
    std::function<Tensor(const Tensor&, const Tensor&)> f;
    std::function<double(double, double)> ref;
    double alo, ahi, blo, bhi;  // input ranges (pow: positive base; div: denominator away from 0)
    bool differentiable = true;
};

const std::vector<BinaryOp>& binary_ops() {
    using T = const Tensor&;
    static const std::vector<BinaryOp> ops = {
        {"add", [](T a, T b) { return a + b; }, [](double a, double b) { return a + b; }, -2, 2, -2, 2},
        {"sub", [](T a, T b) { return a - b; }, [](double a, double b) { return a - b; }, -2, 2, -2, 2},
        {"mul", [](T a, T b) { return a * b; }, [](double a, double b) { return a * b; }, -2, 2, -2, 2},
        {"div", [](T a, T b) { return a / b; }, [](double a, double b) { return a / b; }, -2, 2, 0.5, 2},
        {"pow", [](T a, T b) { return ad::pow(a, b); }, [](double a, double b) { return std::pow(a, b); }, 0.5, 2, -1.5, 1.5},
        {"minimum", [](T a, T b) { return ad::minimum(a, b); }, [](double a, double b) { return std::fmin(a, b); }, -2, 2, -2, 2},
        {"maximum", [](T a, T b) { return ad::maximum(a, b); }, [](double a, double b) { return std::fmax(a, b); }, -2, 2, -2, 2},
        {"where", [](T a, T b) { return ad::where(ad::gt(a, b), a, b); }, [](double a, double b) { return a > b ? a : b; }, -2, 2,
         -2, 2},
        {"eq", [](T a, T b) { return ad::eq(a, b); }, [](double a, double b) { return double(a == b); }, -1, 1, -1, 1, false},
        {"ne", [](T a, T b) { return ad::ne(a, b); }, [](double a, double b) { return double(a != b); }, -1, 1, -1, 1, false},
        {"lt", [](T a, T b) { return ad::lt(a, b); }, [](double a, double b) { return double(a < b); }, -1, 1, -1, 1, false},
        {"le", [](T a, T b) { return ad::le(a, b); }, [](double a, double b) { return double(a <= b); }, -1, 1, -1, 1, false},
        {"gt", [](T a, T b) { return ad::gt(a, b); }, [](double a, double b) { return double(a > b); }, -1, 1, -1, 1, false},
        {"ge", [](T a, T b) { return ad::ge(a, b); }, [](double a, double b) { return double(a >= b); }, -1, 1, -1, 1, false},
        {"logical_and", [](T a, T b) { return ad::logical_and(a, b); }, [](double a, double b) { return double(a != 0 && b != 0); },
         -1, 1, -1, 1, false},
    };
    return ops;
}

// Every shape of rank 0..3 made of the trailing dims of [2, 3, 4] with any subset set to 1.
std::vector<Shape> shapes_of_rank(int r) {
    const std::int64_t full[3] = {2, 3, 4};
    std::vector<Shape> out;
    for (int mask = 0; mask < (1 << r); ++mask) {
        Shape s;
        for (int i = 0; i < r; ++i) s.push_back((mask >> i) & 1 ? 1 : full[3 - r + i]);
        out.push_back(s);
    }
    return out;
}

std::string close(const Ref& got, const Ref& want) {
    if (got.shape != want.shape) return "shape differs";
    for (std::size_t i = 0; i < got.v.size(); ++i)
        if (!(std::fabs(got.v[i] - want.v[i]) <= 1e-12 * (1 + std::fabs(want.v[i]))))
            return fmt::format("element {}: {} vs {}", i, got.v[i], want.v[i]);
    return "";
}

// Runs f, which must throw E whose message contains every one of `parts`.
template <class E, class F>
void expect_error(F f, std::initializer_list<std::string> parts) {
    try {
        f();
        FAIL_CHECK("no exception thrown; expected one mentioning " << *parts.begin());
    } catch (const E& e) {
        const std::string msg = e.what();
        for (const auto& p : parts) CHECK_MESSAGE(msg.find(p) != std::string::npos, "'" << p << "' missing from: " << msg);
    } catch (const std::exception& e) {
        FAIL_CHECK("wrong exception type: " << e.what());
    }
}

}  // namespace

TEST_CASE("broadcast: every binary op over every rank pair 0..3 and every size-1 pattern") {
    std::uint64_t seed = 1;
    int pairs = 0;
    for (int ra = 0; ra <= 3; ++ra)
        for (int rb = 0; rb <= 3; ++rb)
            for (const Shape& sa : shapes_of_rank(ra))
                for (const Shape& sb : shapes_of_rank(rb)) {
                    ++pairs;
                    for (const BinaryOp& op : binary_ops()) {
                        INFO(op.name << " " << sa.str() << " with " << sb.str());
                        const Tensor a = Tensor::uniform(sa, op.alo, op.ahi, ad::f64, seed++);
                        const Tensor b = Tensor::uniform(sb, op.blo, op.bhi, ad::f64, seed++);
                        const Tensor y = op.f(a, b);
                        const Ref want = ref_zip(to_ref(a), to_ref(b), op.ref);
                        const std::string bad = close(to_ref(y), want);
                        CHECK_MESSAGE(bad.empty(), bad);
                        if (!op.differentiable) continue;
                        // gradient shapes are the input shapes (sum_to undid the broadcast)
                        Tensor la = a.clone().requires_grad_(), lb = b.clone().requires_grad_();
                        Tensor w = Tensor::uniform(y.shape(), 0.5, 1.5, ad::f64, 99);
                        const auto g = ad::gradients(ad::sum(op.f(la, lb) * w), {la, lb});
                        CHECK(g[0].shape() == sa);
                        CHECK(g[1].shape() == sb);
                        const auto r = ad::gradcheck([&op](const std::vector<Tensor>& x) { return op.f(x[0], x[1]); }, {a, b});
                        CHECK_MESSAGE(r.ok, r.message);
                    }
                }
    CHECK(pairs == 225);
    CHECK(ad::detail::tape().size == 0);
}

TEST_CASE("broadcast: views as operands (transposed, strided, offset, expanded)") {
    const Tensor base = Tensor::uniform({4, 6}, -2, 2, ad::f64, 5);
    using Fn = std::function<Tensor(const Tensor&)>;
    const std::vector<std::pair<const char*, Fn>> views = {
        {"transposed", [](const Tensor& x) { return x.t(); }},                                  // [6, 4]
        {"strided", [](const Tensor& x) { return ad::slice(x, 1, 1, 6, 2); }},                  // [4, 3]
        {"offset row", [](const Tensor& x) { return ad::narrow(x, 0, 2, 1); }},                 // [1, 6]
        {"expanded", [](const Tensor& x) { return ad::expand(ad::narrow(x, 0, 1, 1), {3, 6}); }},  // [3, 6]
        {"column", [](const Tensor& x) { return ad::narrow(x, 1, 3, 1); }},                     // [4, 1]
    };
    const std::vector<Tensor> others = {Tensor::uniform({4}, 0.5, 2, ad::f64, 6), Tensor::uniform({3, 1}, 0.5, 2, ad::f64, 7),
                                        Tensor::uniform({}, 0.5, 2, ad::f64, 8), Tensor::uniform({6}, 0.5, 2, ad::f64, 9)};
    for (const BinaryOp& op : binary_ops()) {
        if (!op.differentiable) continue;
        for (const auto& [name, view] : views)
            for (const Tensor& other : others) {
                const Tensor v = view(base);
                try {
                    ref_broadcast_shape({to_ref(v).shape, to_ref(other).shape});
                } catch (const std::invalid_argument&) {
                    continue;  // not broadcastable: the error tests below cover that
                }
                INFO(op.name << " " << name << " " << v.shape().str() << " with " << other.shape().str());
                const Tensor lhs = op.name == std::string("pow") ? ad::abs(v) + 0.5 : v;
                const Ref want = ref_zip(to_ref(lhs), to_ref(other), op.ref);
                CHECK(close(to_ref(op.f(lhs, other)), want).empty());
                CHECK(close(to_ref(op.f(other, lhs)), ref_zip(to_ref(other), to_ref(lhs), op.ref)).empty());
                // gradients through the view back to the base tensor
                const auto r = ad::gradcheck(
                    [&](const std::vector<Tensor>& x) {
                        const Tensor w = view(x[0]);
                        return op.f(op.name == std::string("pow") ? ad::abs(w) + 0.5 : w, x[1]);
                    },
                    {base, other});
                CHECK_MESSAGE(r.ok, r.message);
            }
    }
}

TEST_CASE("broadcast: a float32 op broadcasts like the float64 one") {
    const Tensor a = Tensor::uniform({2, 1, 4}, -1, 1, ad::f32, 3), b = Tensor::uniform({3, 1}, -1, 1, ad::f32, 4);
    const Tensor y = a * b;
    CHECK(y.shape() == Shape{2, 3, 4});
    CHECK(y.dtype() == ad::f32);
    const Ref want = ref_zip(to_ref(a), to_ref(b), [](double x, double z) { return double(float(x) * float(z)); });
    CHECK(close(to_ref(y), want).empty());
}

TEST_CASE("broadcast errors: elementwise ops name the op and both shapes") {
    const Tensor a = Tensor::ones({2, 3}, ad::f64), b = Tensor::ones({4}, ad::f64), c = Tensor::ones({2, 1, 5}, ad::f64);
    for (const BinaryOp& op : binary_ops()) {
        INFO(op.name);
        expect_error<ad::ShapeError>([&] { op.f(a, b); }, {op.name == std::string("where") ? "gt" : op.name, "[2, 3]", "[4]"});
        expect_error<ad::ShapeError>([&] { op.f(c, a); }, {"[2, 1, 5]", "[2, 3]"});
    }
    expect_error<ad::ShapeError>([&] { ad::where(Tensor::ones({4}, ad::f64), a, a); }, {"where", "[4]", "[2, 3]"});
    expect_error<ad::ShapeError>([&] { Tensor x = a.clone(); x.add_(b); }, {"add_", "[2, 3]", "[4]"});
    expect_error<ad::ShapeError>([&] { Tensor x = a.clone(); x.copy_(c); }, {"copy_", "[2, 3]"});
    expect_error<ad::ShapeError>([&] { ad::expand(b, {2, 3}); }, {"expand", "[4]", "[2, 3]"});
}

TEST_CASE("shape errors: reductions and softmax name the op, the axis and the shape") {
    const Tensor x = Tensor::ones({2, 3}, ad::f64);
    using Fn = std::function<Tensor()>;
    const std::vector<std::pair<const char*, Fn>> cases = {
        {"sum", [&] { return ad::sum(x, 2); }},
        {"mean", [&] { return ad::mean(x, -3); }},
        {"max", [&] { return ad::max(x, 5); }},
        {"min", [&] { return ad::min(x, {0, 2}); }},
        {"var", [&] { return ad::var(x, ad::Axes(2)); }},
        {"logsumexp", [&] { return ad::logsumexp(x, 2, true); }},
        {"argmax", [&] { return ad::argmax(x, 2); }},
        {"softmax", [&] { return ad::softmax(x, 2); }},
        {"log_softmax", [&] { return ad::log_softmax(x, -3); }},
        {"squeeze", [&] { return ad::squeeze(x, 2); }},
        {"unsqueeze", [&] { return ad::unsqueeze(x, 4); }},
        {"transpose", [&] { return ad::transpose(x, 0, 2); }},
        {"narrow", [&] { return ad::narrow(x, 2, 0, 1); }},
        {"slice", [&] { return ad::slice(x, -3, 0, 1); }},
        {"index_select", [&] { return ad::index_select(x, 2, Tensor({0.0})); }},
    };
    for (const auto& [name, f] : cases) {
        INFO(name);
        expect_error<ad::ShapeError>(f, {name, "[2, 3]", "out of range"});
    }
    expect_error<ad::ShapeError>([&] { ad::sum(x, {1, -1}); }, {"sum", "repeated"});
    expect_error<ad::ShapeError>([&] { ad::sum(Tensor::scalar(1.0), 1); }, {"sum", "axis 1", "[]"});
    expect_error<ad::ShapeError>([&] { ad::narrow(Tensor::scalar(1.0), 0, 0, 1); }, {"narrow", "[]"});
    expect_error<ad::ShapeError>([&] { x.size(2); }, {"size", "[2, 3]"});
}

TEST_CASE("shape errors: matmul, linear and outer name both shapes") {
    const Tensor a = Tensor::ones({2, 3}, ad::f64), b = Tensor::ones({4, 5}, ad::f64);
    expect_error<ad::ShapeError>([&] { ad::matmul(a, b); }, {"matmul", "[2, 3]", "[4, 5]", "3 vs 4"});
    expect_error<ad::ShapeError>([&] { ad::matmul(Tensor::ones({3}, ad::f64), Tensor::ones({4}, ad::f64)); }, {"matmul", "[3]", "[4]"});
    expect_error<ad::ShapeError>([&] { ad::matmul(Tensor::ones({2, 2, 3}, ad::f64), Tensor::ones({3, 3, 1}, ad::f64)); },
                                 {"matmul", "[2, 2, 3]", "[3, 3, 1]", "batch"});
    expect_error<ad::ShapeError>([&] { ad::matmul(Tensor::scalar(1.0, ad::f64), a); }, {"matmul", "[]", "[2, 3]"});
    expect_error<ad::ShapeError>([&] { ad::linear(a, b, Tensor()); }, {"linear", "[2, 3]", "[4, 5]"});
    expect_error<ad::ShapeError>([&] { ad::linear(a, Tensor::ones({4, 3}, ad::f64), Tensor::ones({5}, ad::f64)); },
                                 {"linear", "[5]", "[4, 3]"});
    expect_error<ad::ShapeError>([&] { ad::outer(a, Tensor::ones({3}, ad::f64)); }, {"outer", "[2, 3]", "[3]"});
}

TEST_CASE("shape errors: reshape, cat, stack, gather name the shapes") {
    const Tensor x = Tensor::ones({2, 3}, ad::f64);
    expect_error<ad::ShapeError>([&] { ad::reshape(x, {4}); }, {"reshape", "[2, 3]", "6 elements", "[4]"});
    expect_error<ad::ShapeError>([&] { ad::reshape(x, {-1, 4}); }, {"reshape", "[2, 3]", "[-1, 4]"});
    expect_error<ad::ShapeError>([&] { ad::reshape(x, {-1, -1}); }, {"reshape", "-1"});
    expect_error<ad::ShapeError>([&] { ad::cat({x, Tensor::ones({2, 4}, ad::f64)}, 0); }, {"cat", "[2, 3]", "[2, 4]"});
    expect_error<ad::ShapeError>([&] { ad::cat({x, Tensor::ones({3}, ad::f64)}, 0); }, {"cat", "[2, 3]", "[3]"});
    expect_error<ad::ShapeError>([&] { ad::cat({Tensor::scalar(1.0), Tensor::scalar(2.0)}, 0); }, {"cat", "[]"});
    expect_error<ad::ShapeError>([&] { ad::cat({}, 0); }, {"cat"});
    expect_error<ad::ShapeError>([&] { ad::stack({x, Tensor::ones({3, 2}, ad::f64)}); }, {"stack", "[2, 3]", "[3, 2]"});
    expect_error<ad::ShapeError>([&] { ad::gather(x, 1, Tensor({0.0, 1.0})); }, {"gather", "[2]", "[2, 3]"});
    expect_error<ad::ShapeError>([&] { ad::permute(x, {0}); }, {"permute", "[2, 3]"});
    expect_error<ad::ShapeError>([&] { ad::flatten(Tensor::ones({2, 3, 4}), 2, 1); }, {"flatten", "2", "1"});
}

TEST_CASE("value errors: out-of-range indices name the op and the index") {
    const Tensor x = Tensor::ones({2, 3}, ad::f64);
    expect_error<ad::ValueError>([&] { ad::index_select(x, 0, Tensor({0.0, 2.0})); }, {"index_select", "index 2", "size 2"});
    expect_error<ad::ValueError>([&] { ad::index_select(x, 1, Tensor({-1.0})); }, {"index_select", "-1"});
    expect_error<ad::ValueError>([&] { ad::index_select(x, 1, Tensor({0.5})); }, {"index_select", "0.5"});
    expect_error<ad::ValueError>([&] { ad::gather(x, 1, Tensor::from_data(std::vector<double>{0, 3}, {2, 1})); }, {"gather", "index 3", "size 3"});
    expect_error<ad::ValueError>([&] { ad::one_hot(Tensor({0.0, 4.0}), 4); }, {"one_hot", "4"});
    expect_error<ad::ValueError>([&] { ad::slice(x, 0, 0, 2, 0); }, {"slice", "step"});
    expect_error<ad::ValueError>([&] { ad::split(x, 0, 0); }, {"split", "0"});
    expect_error<ad::ValueError>([&] { ad::clamp(x, 1.0, 0.0); }, {"clamp", "1", "0"});
}

TEST_CASE("dtype errors: mixing float32 and float64 names the op and both dtypes") {
    const Tensor a = Tensor::ones({2, 2}, ad::f32), b = Tensor::ones({2, 2}, ad::f64);
    using Fn = std::function<void()>;
    const std::vector<std::pair<const char*, Fn>> cases = {
        {"add", [&] { (void)(a + b); }},
        {"mul", [&] { (void)(a * b); }},
        {"pow", [&] { ad::pow(a, b); }},
        {"maximum", [&] { ad::maximum(a, b); }},
        {"where", [&] { ad::where(a, a, b); }},
        {"matmul", [&] { ad::matmul(a, b); }},
        {"linear", [&] { ad::linear(a, b, Tensor()); }},
        {"cat", [&] { ad::cat({a, b}, 0); }},
        {"copy_", [&] { Tensor x = a.clone(); x.copy_(b); }},
        {"add_", [&] { Tensor x = a.clone(); x.add_(b); }},
        {"data", [&] { a.data<double>(); }},
    };
    for (const auto& [name, f] : cases) {
        INFO(name);
        expect_error<ad::ShapeError>(f, {name, "float32", "float64"});
    }
}
