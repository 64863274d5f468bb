// One generic test over the op registry (op_registry.hpp): for every entry and every sample,
// the forward value against the reference, the gradient against finite differences (or the
// stated gradient at a kink), second derivatives, and float32 against float64. Plus the check
// that every public op has an entry.
#include "op_registry.hpp"

#include <autodiff/tensor_node.hpp>

#include <doctest/doctest.h>
#include <tests/test_util.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <set>
#include <span>

using namespace ad::testing;
using ad::Tensor;

namespace {

std::string describe(const OpEntry& e, const Sample& s) { return fmt::format("{} [{}] on {}", e.name, e.variant, s.label); }

// "" when `got` matches `want` (same shape; |got − want| ≤ atol + rtol·|want|; NaN matches NaN).
std::string mismatch(const Ref& got, const Ref& want, double atol, double rtol) {
    if (got.shape != want.shape)
        return fmt::format("shape {} but expected {}", ad::Shape(std::span<const std::int64_t>(got.shape)).str(),
                           ad::Shape(std::span<const std::int64_t>(want.shape)).str());
    for (std::size_t i = 0; i < got.v.size(); ++i) {
        const double a = got.v[i], b = want.v[i];
        if (std::isnan(a) && std::isnan(b)) continue;
        if (a == b) continue;  // equal infinities
        if (!(std::fabs(a - b) <= atol + rtol * std::fabs(b)))
            return fmt::format("element {}: {:.17g} but expected {:.17g}", i, a, b);
    }
    return "";
}

std::vector<Tensor> converted(const std::vector<Tensor>& xs, ad::DType dt, bool requires_grad) {
    std::vector<Tensor> r;
    for (const Tensor& x : xs) {
        Tensor c = x.to(dt).clone().detach();
        if (requires_grad) c.requires_grad_();
        r.push_back(c);
    }
    return r;
}

// The gradient of ⟨w, f(x)⟩ for a fixed w of f's output shape (w = 1 for one-element outputs).
std::vector<Tensor> projected_gradients(const OpEntry& e, const std::vector<Tensor>& x) {
    Tensor y = e.fn(x);
    Tensor w = Tensor::uniform(y.shape(), 0.5, 1.5, y.dtype(), 7);
    return ad::gradients(ad::sum(y * w), x);
}

// Runs check(entry, sample) for every sample; an exception fails that sample only.
template <class F>
void for_each_sample(F check) {
    for (const OpEntry& e : op_registry()) {
        for (const Sample& s : e.samples) {
            INFO(describe(e, s));
            try {
                check(e, s);
            } catch (const std::exception& ex) {
                FAIL_CHECK(fmt::format("threw: {}", ex.what()));
            }
            CHECK(ad::detail::tape().size == 0);  // the graph was released with its last handle
        }
    }
}

int samples_in_registry() {
    int n = 0;
    for (const auto& e : op_registry()) n += static_cast<int>(e.samples.size());
    return n;
}

}  // namespace

TEST_CASE("registry: the forward value of every op matches the reference") {
    MESSAGE(fmt::format("{} registry entries, {} samples", op_registry().size(), samples_in_registry()));
    for_each_sample([](const OpEntry& e, const Sample& s) {
        std::vector<Ref> refs;
        for (const Tensor& x : s.inputs) refs.push_back(to_ref(x));
        const Ref want = e.reference(refs);
        for (const bool tracked : {false, true}) {  // the recorded path must compute the same
            const Tensor y = e.fn(converted(s.inputs, ad::f64, tracked));
            CHECK(y.dtype() == ad::f64);
            CHECK(y.requires_grad() == tracked);
            const std::string bad = mismatch(to_ref(y), want, 1e-12, 1e-10);
            CHECK_MESSAGE(bad.empty(), ((tracked ? "recorded: " : "not recorded: ") + bad));
        }
    });
}

TEST_CASE("registry: gradients match finite differences, or the stated gradient at a kink") {
    for_each_sample([](const OpEntry& e, const Sample& s) {
        if (s.gradcheck) {
            const auto r = ad::gradcheck(e.fn, s.inputs, s.tolerance);
            CHECK_MESSAGE(r.ok, r.message);
        }
        if (!s.expected_grad.empty()) {
            const auto x = converted(s.inputs, ad::f64, true);
            const auto g = ad::gradients(ad::sum(e.fn(x)), x);
            REQUIRE(g.size() == s.expected_grad.size());
            for (std::size_t k = 0; k < g.size(); ++k) {
                CHECK(g[k].shape() == x[k].shape());
                const Ref want{Dims(x[k].shape().begin(), x[k].shape().end()), s.expected_grad[k]};
                const std::string bad = mismatch(to_ref(g[k]), want, 1e-12, 1e-12);
                CHECK_MESSAGE(bad.empty(), fmt::format("gradient of input {}: {}", k, bad));
            }
        }
    });
}

TEST_CASE("registry: second derivatives match finite differences of the gradient") {
    for_each_sample([](const OpEntry& e, const Sample& s) {
        if (!s.gradcheck) return;
        const auto r = ad::gradgradcheck(e.fn, s.inputs, s.tolerance);
        CHECK_MESSAGE(r.ok, r.message);
        // f² makes the second derivative depend on the op's backward as a function of its
        // incoming gradient: a backward that is not itself recorded under create_graph
        // (harmless for the linear op alone) shows up here.
        const ad::TensorFunction sq = [f = e.fn](const std::vector<Tensor>& x) {
            const Tensor y = f(x);
            return y * y;
        };
        const auto r2 = ad::gradgradcheck(sq, s.inputs, s.tolerance);
        CHECK_MESSAGE(r2.ok, ("of f²: " + r2.message));
    });
}

TEST_CASE("registry: float32 forward and backward agree with float64") {
    for_each_sample([](const OpEntry& e, const Sample& s) {
        // Same numbers on both sides: the inputs rounded to float32 first.
        const auto x32 = converted(s.inputs, ad::f32, true);
        const auto x64 = converted(x32, ad::f64, true);
        const Tensor y32 = e.fn(x32), y64 = e.fn(x64);
        CHECK(y32.dtype() == ad::f32);
        const Ref want = to_ref(y64);
        double scale = 1;
        for (double v : want.v)
            if (std::isfinite(v)) scale = std::max(scale, std::fabs(v));
        std::string bad = mismatch(to_ref(y32), want, e.f32_tol * scale, e.f32_tol);
        CHECK_MESSAGE(bad.empty(), ("forward: " + bad));
        if (!s.gradcheck) return;
        const auto g32 = projected_gradients(e, x32), g64 = projected_gradients(e, x64);
        for (std::size_t k = 0; k < g32.size(); ++k) {
            CHECK(g32[k].dtype() == ad::f32);
            const Ref gw = to_ref(g64[k]);
            double gs = 1;
            for (double v : gw.v) gs = std::max(gs, std::fabs(v));
            bad = mismatch(to_ref(g32[k]), gw, 10 * e.f32_tol * gs, 10 * e.f32_tol);
            CHECK_MESSAGE(bad.empty(), fmt::format("gradient of input {}: {}", k, bad));
        }
    });
}

// ---- coverage: a public op without a registry entry fails here --------------------------------

TEST_CASE("registry: every public op is covered, and every entry belongs to a public op") {
    std::set<std::string> names;
    for (const auto& e : op_registry()) {
        names.insert(e.name);
        CHECK_MESSAGE(!e.samples.empty(), (e.name + " [" + e.variant + "] has no samples"));
    }
    std::set<std::string> covered;
    for (const auto& op : public_ops()) {
        CHECK_MESSAGE(!op.covered_by.empty(), op.declared);
        for (const auto& n : op.covered_by) {
            CHECK_MESSAGE(names.count(n) == 1, fmt::format("public op {} names registry entry '{}', which does not exist", op.declared, n));
            covered.insert(n);
        }
    }
    for (const auto& n : names) CHECK_MESSAGE(covered.count(n) == 1, fmt::format("registry entry '{}' is not listed in public_ops()", n));
}

namespace {
// The source tree, found from this file's path (meson passes it relative to the build directory,
// where tests run) or from the working directory.
std::filesystem::path ops_header_dir() {
    namespace fs = std::filesystem;
    const fs::path here = fs::path(__FILE__).parent_path();
    for (const fs::path& p : {here / ".." / "autodiff" / "ops", fs::path("autodiff/ops"), fs::path("../autodiff/ops")}) {
        std::error_code ec;
        if (fs::exists(p / "unary.hpp", ec)) return p;
    }
    return {};
}
// Names of the free functions declared at namespace scope of `ad` in a header (skipping
// ad::detail), e.g. "exp", "operator+=", "split".
std::set<std::string> declared_ops(const std::filesystem::path& header) {
    static const std::regex decl(R"(^(?:[A-Za-z_][\w:<>]*[&*]?\s+)+(operator\S+?|\w+)\()");
    std::set<std::string> r;
    std::ifstream in(header);
    std::string line;
    bool in_detail = false;
    while (std::getline(in, line)) {
        if (line.rfind("namespace detail", 0) == 0) in_detail = true;
        if (line.rfind("}  // namespace detail", 0) == 0) in_detail = false;
        std::smatch m;
        if (!in_detail && std::regex_search(line, m, decl)) r.insert(m[1].str());
    }
    return r;
}
}  // namespace

TEST_CASE("registry: the headers declare no op missing from public_ops()") {
    const auto dir = ops_header_dir();
    if (dir.empty()) {
        WARN_MESSAGE(false, "autodiff/ops not found from " __FILE__ " or the working directory: header scan skipped");
        return;
    }
    std::set<std::string> known(non_differentiable_ops().begin(), non_differentiable_ops().end());
    for (const auto& op : public_ops()) known.insert(op.declared);
    std::set<std::string> declared;
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
        if (f.path().extension() != ".hpp") continue;
        for (const auto& name : declared_ops(f.path())) {
            declared.insert(name);
            CHECK_MESSAGE(known.count(name) == 1,
                          fmt::format("{} declares '{}': add registry entries and list it in public_ops() (or in "
                                      "non_differentiable_ops())",
                                      f.path().filename().string(), name));
        }
    }
    CHECK(declared.size() > 50);  // the scan itself works
    for (const auto& op : public_ops())
        if (op.declared.rfind("Tensor::", 0) != 0 && op.declared != "item_value" && op.declared != "tensor_from_value")
            CHECK_MESSAGE(declared.count(op.declared) == 1, ("public_ops() lists " + op.declared + ", which no header declares"));
}

// ---- specific contracts (beyond the registry's numeric checks) ---------------------------------------

using ad::test::contains;
using ad::test::error_of;

TEST_CASE("expand: -1 keeps an existing dimension, other negative sizes are ShapeErrors naming the shapes") {
    const Tensor x = ad::reshape(Tensor({1.0, 2.0, 3.0}), {3, 1});
    CHECK(ad::expand(x, {-1, 4}).shape() == ad::Shape{3, 4});
    CHECK(ad::expand(x, {2, -1, 4}).shape() == ad::Shape{2, 3, 4});
    CHECK(ad::expand(x, {-1, -1}).shape() == ad::Shape{3, 1});
    const std::string neg = error_of<ad::ShapeError>([] { ad::expand(Tensor::zeros({1}), {-3}); });
    CHECK(contains(neg, "expand"));
    CHECK(contains(neg, "[-3]"));
    CHECK(contains(neg, "[1]"));
    CHECK(contains(error_of<ad::ShapeError>([&] { ad::expand(x, {3, -2}); }), "[3, -2]"));
    CHECK(contains(error_of<ad::ShapeError>([&] { ad::expand(x, {-5, 3, 4}); }), "[-5, 3, 4]"));  // a new dimension
    // −1 cannot size a new leading dimension (PyTorch: "not allowed in a leading, non-existing dimension")
    CHECK(contains(error_of<ad::ShapeError>([&] { ad::expand(x, {-1, 3, 4}); }), "leading"));
    // a broadcast view whose element count would overflow int64
    constexpr std::int64_t k40 = std::int64_t(1) << 40;
    CHECK(contains(error_of<ad::ShapeError>([] { ad::expand(Tensor::scalar(1.0), {k40, k40}); }), "[1099511627776, 1099511627776]"));
    // the gradient through a −1 expand sums over the broadcast dimension only
    Tensor w = Tensor::full({2, 1}, 1.0, ad::f64).requires_grad_();
    ad::sum(ad::expand(w, {-1, 5})).backward();
    CHECK(w.grad().shape() == ad::Shape{2, 1});
    CHECK(w.grad().to_vector() == std::vector<double>{5, 5});
}

TEST_CASE("relu keeps NaNs and passes their gradient, as PyTorch (first order and under create_graph)") {
    for (bool create_graph : {false, true}) {
        Tensor x = Tensor({std::nan(""), -1.0, 0.0, 2.0}).requires_grad_();
        const Tensor y = ad::relu(x);
        const std::vector<double> v = y.to_vector();
        CHECK(std::isnan(v[0]));
        CHECK(v[1] == 0.0);
        CHECK(v[2] == 0.0);
        CHECK(v[3] == 2.0);
        ad::sum(y * Tensor({3.0, 3.0, 3.0, 3.0})).backward({.create_graph = create_graph});
        CHECK(x.grad().to_vector() == std::vector<double>{3, 0, 0, 3});
    }
}

// relu's loops are compiled per instruction set (ops/unary.cpp): whichever clone runs, every
// element must follow the rule, including the vector body and its tail, −0, NaN and ±inf, and a
// gradient that arrives as a broadcast view (the general path).
TEST_CASE("relu's vectorized loops: every element, both dtypes, forward and first-order backward") {
    for (const ad::DType dt : {ad::f32, ad::f64}) {
        const std::int64_t n = 1037;  // a vector body and an odd tail for every width
        std::vector<double> xs(static_cast<std::size_t>(n)), gs(xs.size());
        for (std::size_t i = 0; i < xs.size(); ++i) {
            xs[i] = std::sin(0.7 * static_cast<double>(i)) * 3.0;
            gs[i] = 1.0 + static_cast<double>(i % 13);
        }
        xs[5] = -0.0;
        xs[6] = 0.0;
        xs[7] = std::nan("");
        xs[8] = std::numeric_limits<double>::infinity();
        xs[n - 1] = -std::numeric_limits<double>::infinity();
        xs[n - 2] = 1e-30;
        Tensor x = Tensor::from_data(std::span<const double>(xs), ad::Shape{n}).to(dt).requires_grad_();
        const Tensor g = Tensor::from_data(std::span<const double>(gs), ad::Shape{n}).to(dt);
        const Tensor y = ad::relu(x);
        ad::sum(y * g).backward();
        const std::vector<double> yv = y.to_vector(), dv = x.grad().to_vector();
        const std::vector<double> xr = x.detach().to_vector(), gr = g.to_vector();  // as rounded to dt
        int bad = 0;
        for (std::size_t i = 0; i < xs.size(); ++i) {
            const double want_y = xr[i] <= 0 ? 0.0 : xr[i], want_d = want_y <= 0 ? 0.0 : gr[i];
            const bool y_ok = std::isnan(want_y) ? std::isnan(yv[i]) : yv[i] == want_y && !std::signbit(yv[i]) ;
            if (!y_ok || dv[i] != want_d) ++bad;
        }
        CHECK(bad == 0);
        // A gradient that reaches relu as a broadcast (expanded) view takes the general path.
        Tensor x2 = Tensor::from_data(std::span<const double>(xs), ad::Shape{n}).to(dt).requires_grad_();
        ad::sum(ad::relu(x2)).backward();
        const std::vector<double> d2 = x2.grad().to_vector();
        int bad2 = 0;
        for (std::size_t i = 0; i < xs.size(); ++i)
            if (d2[i] != (xr[i] > 0 || std::isnan(xr[i]) ? 1.0 : 0.0)) ++bad2;
        CHECK(bad2 == 0);
    }
}

// linear_relu is relu(linear(x, W, b)) as one node (nn::Sequential's Linear + ReLU): the same
// bits forward and in every gradient, both dtypes, with and without bias, first order and under
// create_graph, with a gradient that arrives as a transposed view and products that are exactly 0
// (relu'(0) = 0: the zero rows of x, without bias).
TEST_CASE("linear_relu: relu(linear(x, W, b)) to the bit, forward and gradients") {
    for (const ad::DType dt : {ad::f32, ad::f64}) {
        for (const bool bias : {true, false}) {
            for (const bool create_graph : {false, true}) {
                CAPTURE(bias);
                CAPTURE(create_graph);
                const auto leaves = [&] {
                    Tensor x = Tensor::randn(ad::Shape{37, 19}, dt, 1);
                    for (std::int64_t j = 0; j < 19; ++j) {
                        x.set({3, j}, 0.0);
                        x.set({20, j}, 0.0);
                    }
                    return std::array<Tensor, 3>{x.requires_grad_(), Tensor::randn(ad::Shape{23, 19}, dt, 2).requires_grad_(),
                                                 bias ? Tensor::randn(ad::Shape{23}, dt, 3).requires_grad_() : Tensor()};
                };
                const auto [x1, W1, b1] = leaves();
                const auto [x2, W2, b2] = leaves();
                const Tensor g = Tensor::randn(ad::Shape{23, 37}, dt, 4);
                const Tensor y1 = ad::relu(ad::linear(x1, W1, b1)), y2 = ad::linear_relu(x2, W2, b2);
                CHECK(y1.to_vector() == y2.to_vector());
                CHECK(contains(y2.str(), "grad_fn=<linear_relu>"));
                ad::sum(ad::transpose(y1, 0, 1) * g).backward({.create_graph = create_graph});
                ad::sum(ad::transpose(y2, 0, 1) * g).backward({.create_graph = create_graph});
                CHECK(x1.grad().to_vector() == x2.grad().to_vector());
                CHECK(W1.grad().to_vector() == W2.grad().to_vector());
                if (bias) CHECK(b1.grad().to_vector() == b2.grad().to_vector());
                CHECK(x2.grad().requires_grad() == create_graph);
            }
        }
    }
    // Errors name linear_relu.
    const Tensor x = Tensor::randn(ad::Shape{2, 3}, ad::f64, 1), W = Tensor::randn(ad::Shape{4, 5}, ad::f64, 2);
    CHECK(error_of<ad::ShapeError>([&] { ad::linear_relu(x, W, Tensor()); }) ==
          "linear_relu: input [2, 3] does not fit weight [4, 5] (expected input [batch, 5])");
}

// linear's epilogue adds the bias after the product, as matmul(x, Wᵀ) + b does, including a
// product OpenBLAS sums in blocks of k (64 × 1000 × 64: its packed path), where a bias put into
// the output first (beta = 1) was rounded in with the first block and gave other bits.
TEST_CASE("linear: the same bits as matmul(x, Wᵀ) + b") {
    for (const ad::DType dt : {ad::f32, ad::f64}) {
        for (const auto [batch, in, out] : {std::array<std::int64_t, 3>{37, 19, 23}, std::array<std::int64_t, 3>{64, 1000, 64}}) {
            CAPTURE(in);
            const Tensor x = Tensor::randn(ad::Shape{batch, in}, dt, 5), W = Tensor::randn(ad::Shape{out, in}, dt, 6);
            const Tensor b = Tensor::randn(ad::Shape{out}, dt, 7);
            const Tensor want = ad::matmul(x, ad::transpose(W, 0, 1)) + b;
            CHECK(ad::linear(x, W, b).to_vector() == want.to_vector());
            CHECK(ad::linear_relu(x, W, b).to_vector() == ad::relu(want).to_vector());
            CHECK(ad::linear(x, W, Tensor()).to_vector() == ad::matmul(x, ad::transpose(W, 0, 1)).to_vector());
        }
    }
}

// linear_relu's backward masks its output's gradient in place when nothing else refers to it
// (GradContext::writable_out): never the caller's seed, a gradient a hook kept, or one tensor that
// an add sent to two inputs; and in place when it is the backward's alone.
TEST_CASE("linear_relu: the output's gradient is overwritten only when nothing else holds it") {
    const auto leaves = [](std::uint64_t seed) {
        return std::array<Tensor, 3>{Tensor::randn(ad::Shape{9, 7}, ad::f64, seed).requires_grad_(),
                                     Tensor::randn(ad::Shape{5, 7}, ad::f64, seed + 1).requires_grad_(),
                                     Tensor::randn(ad::Shape{5}, ad::f64, seed + 2).requires_grad_()};
    };
    const Tensor seed = Tensor::randn(ad::Shape{9, 5}, ad::f64, 20);
    const std::vector<double> seed_before = seed.to_vector();
    {  // the caller's seed, and what a hook saw, keep their values; the gradients match the composite
        const auto [x1, W1, b1] = leaves(1);
        const auto [x2, W2, b2] = leaves(1);
        Tensor seen;
        Tensor y2 = ad::linear_relu(x2, W2, b2);
        y2.register_hook([&](const Tensor& g) {
            seen = g;
            return Tensor();
        });
        ad::relu(ad::linear(x1, W1, b1)).backward(seed);
        y2.backward(seed);
        CHECK(seed.to_vector() == seed_before);
        CHECK(seen.to_vector() == seed_before);
        CHECK(x1.grad().to_vector() == x2.grad().to_vector());
        CHECK(W1.grad().to_vector() == W2.grad().to_vector());
        CHECK(b1.grad().to_vector() == b2.grad().to_vector());
    }
    {  // one gradient tensor sent to two linear_relu nodes by an add
        const auto [x1, W1, b1] = leaves(3);
        const auto [x2, W2, b2] = leaves(3);
        const auto [u1, V1, c1] = leaves(6);
        const auto [u2, V2, c2] = leaves(6);
        ad::sum((ad::relu(ad::linear(x1, W1, b1)) + ad::relu(ad::linear(u1, V1, c1))) * seed).backward();
        ad::sum((ad::linear_relu(x2, W2, b2) + ad::linear_relu(u2, V2, c2)) * seed).backward();
        for (const auto& [a, b] : {std::pair{x1, x2}, {W1, W2}, {b1, b2}, {u1, u2}, {V1, V2}, {c1, c2}})
            CHECK(a.grad().to_vector() == b.grad().to_vector());
    }
    {  // a gradient that is the backward's alone is handed over, not copied
        const Tensor x = Tensor::randn(ad::Shape{3, 4}, ad::f64, 30).requires_grad_();
        const Tensor s = Tensor::randn(ad::Shape{3, 4}, ad::f64, 31);
        const void* arrived = nullptr;
        const void* handed = nullptr;
        const Tensor y = ad::detail::record("probe", x.detach() * 2.0, {x}, [&](ad::detail::GradContext& g) {
            arrived = g.out().data<double>();
            const Tensor w = g.writable_out(ad::f64);
            handed = w.data<double>();
            g.add(0, w * 2.0);
        });
        ad::sum(y * s).backward();
        CHECK(arrived != nullptr);
        CHECK(handed == arrived);
        CHECK(x.grad().to_vector() == (s * 2.0).to_vector());
    }
}

TEST_CASE("square records its own op, named 'square'") {
    Tensor x = Tensor({1.0, -2.0}).requires_grad_();
    const Tensor y = ad::square(x);
    CHECK(contains(y.str(), "grad_fn=<square>"));
    ad::sum(y).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{2, -4});
    CHECK(ad::square(Tensor({3.0}, ad::f32)).dtype() == ad::f32);
}

namespace {
// var(x, true) would otherwise pick Axes(int) and mean axis 1.
template <class X>
concept var_accepts_bool = requires(X x) { ad::var(x, true); };
}  // namespace
static_assert(!var_accepts_bool<Tensor>, "an Axes must not be made from a bool");

TEST_CASE("var and std read as in PyTorch: var(x) over all elements, var(x, 1) over axis 1, correction only after the axes") {
    const Tensor x = Tensor({{1.0, 2.0, 3.0, 10.0}, {4.0, 4.0, 4.0, 4.0}, {0.0, 2.0, 0.0, 2.0}});  // [3, 4]
    // axis 1: row variances with Bessel's correction
    const Tensor v1 = ad::var(x, 1);
    CHECK(v1.shape() == ad::Shape{3});
    CHECK(v1.at({0}) == doctest::Approx(((-3) * (-3) + 2 * 2 + 1 + 6 * 6) / 3.0));  // mean 4
    CHECK(v1.at({1}) == 0.0);
    CHECK(v1.at({2}) == doctest::Approx(4.0 / 3.0));
    CHECK(ad::var(x, 1, true).shape() == ad::Shape{3, 1});
    CHECK(ad::std(x, 0).shape() == ad::Shape{4});
    CHECK(ad::std(x, 1).at({2}) == doctest::Approx(std::sqrt(4.0 / 3.0)));
    // all elements: correction 1 by default, any correction through the axes overload
    const std::vector<double> v = x.to_vector();
    double m = 0;
    for (double e : v) m += e / 12.0;
    double ss = 0;
    for (double e : v) ss += (e - m) * (e - m);
    CHECK(ad::var(x).item() == doctest::Approx(ss / 11.0));
    CHECK(ad::var(x, ad::Axes::all(), false, 0).item() == doctest::Approx(ss / 12.0));
    CHECK(ad::std(x, ad::Axes::all(), false, 0).item() == doctest::Approx(std::sqrt(ss / 12.0)));
    CHECK(ad::var(x, 1, false, 0).at({2}) == doctest::Approx(1.0));
    // an out-of-range int is an axis error now, not a silent correction
    CHECK(contains(error_of<ad::ShapeError>([&] { ad::var(x, 7); }), "axis 7"));
    CHECK(contains(error_of<ad::ShapeError>([&] { ad::std(x, 2); }), "axis 2"));
}
