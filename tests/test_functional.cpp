// JAX-style transforms (functional.hpp) against closed forms and finite differences.
#include <autodiff/autodiff.hpp>
#include <autodiff/functional.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

using ad::Tensor;
using ad::Value;
using Vec = std::vector<double>;
using Mat = std::vector<std::vector<double>>;

namespace {

// ---- test functions and their closed forms -------------------------------------------------

Value rosenbrock(const std::vector<Value>& x) {
    Value f = Value::constant(0.0);
    for (std::size_t i = 0; i + 1 < x.size(); ++i) f = f + 100.0 * square(x[i + 1] - square(x[i])) + square(1.0 - x[i]);
    return f;
}
Vec rosenbrock_grad(const Vec& x) {
    const std::size_t n = x.size();
    Vec g(n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        if (i + 1 < n) g[i] += -400.0 * x[i] * (x[i + 1] - x[i] * x[i]) - 2.0 * (1.0 - x[i]);
        if (i > 0) g[i] += 200.0 * (x[i] - x[i - 1] * x[i - 1]);
    }
    return g;
}
Mat rosenbrock_hessian(const Vec& x) {
    const std::size_t n = x.size();
    Mat H(n, Vec(n, 0.0));
    for (std::size_t i = 0; i < n; ++i) {
        if (i + 1 < n) {
            H[i][i] += 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0;
            H[i][i + 1] = H[i + 1][i] = -400.0 * x[i];
        }
        if (i > 0) H[i][i] += 200.0;
    }
    return H;
}

const Mat kA = {{2.0, -1.0, 0.5}, {0.3, 1.5, -2.0}, {1.0, 0.25, 3.0}};  // not symmetric

Value quadratic(const std::vector<Value>& x) {  // xᵀ A x
    Value f = Value::constant(0.0);
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t j = 0; j < 3; ++j) f = f + x[i] * kA[i][j] * x[j];
    return f;
}

std::vector<Value> softmax_values(const std::vector<Value>& x) {
    Value z = Value::constant(0.0);
    std::vector<Value> e;
    for (const Value& xi : x) {
        e.push_back(exp(xi));
        z = z + e.back();
    }
    for (Value& ei : e) ei = ei / z;
    return e;
}

// A vector function R^3 → R^2 with a dense Jacobian.
std::vector<Value> vecfun(const std::vector<Value>& x) {
    return {sin(x[0]) * x[1] + x[2] * x[2], exp(x[0] / 3.0) * tanh(x[1] - x[2])};
}

// ---- finite differences -------------------------------------------------------------------

constexpr double kEps = 1e-5;

double eval(const ad::ScalarFunction& f, const Vec& x) {
    ad::NoGrad ng;
    std::vector<Value> v;
    for (double xi : x) v.push_back(Value::constant(xi));
    return f(v).value();
}
Vec eval(const ad::VectorFunction& f, const Vec& x) {
    ad::NoGrad ng;
    std::vector<Value> v;
    for (double xi : x) v.push_back(Value::constant(xi));
    Vec r;
    for (const Value& y : f(v)) r.push_back(y.value());
    return r;
}
Vec shifted(Vec x, std::size_t i, double d) {
    x[i] += d;
    return x;
}
Vec fd_grad(const ad::ScalarFunction& f, const Vec& x) {
    Vec g;
    for (std::size_t i = 0; i < x.size(); ++i)
        g.push_back((eval(f, shifted(x, i, kEps)) - eval(f, shifted(x, i, -kEps))) / (2 * kEps));
    return g;
}
Mat fd_hessian(const ad::ScalarFunction& f, const Vec& x) {  // differences of the AD gradient
    Mat H(x.size());
    for (std::size_t j = 0; j < x.size(); ++j) {
        const Vec gp = ad::grad(f, shifted(x, j, kEps)), gm = ad::grad(f, shifted(x, j, -kEps));
        for (std::size_t i = 0; i < x.size(); ++i) H[i].push_back((gp[i] - gm[i]) / (2 * kEps));
    }
    return H;
}
Mat fd_jacobian(const ad::VectorFunction& f, const Vec& x) {
    const std::size_t m = eval(f, x).size();
    Mat J(m, Vec(x.size()));
    for (std::size_t j = 0; j < x.size(); ++j) {
        const Vec p = eval(f, shifted(x, j, kEps)), q = eval(f, shifted(x, j, -kEps));
        for (std::size_t i = 0; i < m; ++i) J[i][j] = (p[i] - q[i]) / (2 * kEps);
    }
    return J;
}

Vec matvec(const Mat& M, const Vec& v) {
    Vec r(M.size(), 0.0);
    for (std::size_t i = 0; i < M.size(); ++i)
        for (std::size_t j = 0; j < v.size(); ++j) r[i] += M[i][j] * v[j];
    return r;
}
Vec vecmat(const Vec& v, const Mat& M) {
    Vec r(M.empty() ? 0 : M[0].size(), 0.0);
    for (std::size_t i = 0; i < M.size(); ++i)
        for (std::size_t j = 0; j < r.size(); ++j) r[j] += v[i] * M[i][j];
    return r;
}

void check_close(const Vec& a, const Vec& b, double tol) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(b[i]).epsilon(tol).scale(1.0));
}
void check_close(const Mat& a, const Mat& b, double tol) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) check_close(a[i], b[i], tol);
}

Tensor t64(const Vec& v) { return Tensor::from_data(std::span<const double>(v), ad::Shape{static_cast<std::int64_t>(v.size())}); }
Mat to_mat(const Tensor& t) {
    REQUIRE(t.dim() == 2);
    Mat m(static_cast<std::size_t>(t.size(0)));
    for (std::int64_t i = 0; i < t.size(0); ++i)
        for (std::int64_t j = 0; j < t.size(1); ++j) m[i].push_back(t.at({i, j}));
    return m;
}

}  // namespace

TEST_CASE("functional: Rosenbrock gradient and Hessian match closed forms (n = 2 and n = 5)") {
    const std::vector<Vec> points = {{-1.2, 1.0}, {1.0, 1.0}, {0.3, -0.7}, {-1.2, 1.0, 0.5, 2.0, -0.3}, {1, 1, 1, 1, 1}};
    for (const Vec& x : points) {
        CAPTURE(x.size());
        const auto [f, g] = ad::value_and_grad(rosenbrock, x);
        CHECK(f == doctest::Approx(eval(rosenbrock, x)));
        check_close(g, rosenbrock_grad(x), 1e-12);
        check_close(ad::grad(rosenbrock, x), rosenbrock_grad(x), 1e-12);
        check_close(g, fd_grad(rosenbrock, x), 1e-6);
        const Mat H = ad::hessian(rosenbrock, x);
        check_close(H, rosenbrock_hessian(x), 1e-12);
        check_close(H, fd_hessian(rosenbrock, x), 1e-6);
    }
    // At the minimum the gradient is exactly zero.
    for (double gi : ad::grad(rosenbrock, {1.0, 1.0, 1.0})) CHECK(gi == 0.0);
}

TEST_CASE("functional: quadratic form xᵀAx has gradient (A+Aᵀ)x and Hessian A+Aᵀ") {
    const Vec x = {0.7, -1.3, 2.1};
    Mat S(3, Vec(3));
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) S[i][j] = kA[i][j] + kA[j][i];
    check_close(ad::grad(quadratic, x), matvec(S, x), 1e-12);
    check_close(ad::hessian(quadratic, x), S, 1e-12);

    // The same in the tensor world.
    const Tensor A({{2.0, -1.0, 0.5}, {0.3, 1.5, -2.0}, {1.0, 0.25, 3.0}});
    auto qf = [A](const Tensor& v) { return ad::sum(v * ad::matmul(A, v)); };
    const Tensor xt = t64(x);
    check_close(ad::grad(qf, xt).to_vector(), matvec(S, x), 1e-12);
    const Tensor H = ad::hessian(qf, xt);
    CHECK(H.shape() == ad::Shape{3, 3});
    check_close(to_mat(H), S, 1e-12);
    const auto [val, g] = ad::value_and_grad(qf, xt);
    CHECK(val.item() == doctest::Approx(eval(quadratic, x)));
    check_close(g.to_vector(), matvec(S, x), 1e-12);
}

TEST_CASE("functional: softmax Jacobian is diag(p) − p pᵀ (scalar and tensor)") {
    const Vec x = {0.5, -1.0, 2.0, 0.1};
    Vec p;
    double z = 0;
    for (double xi : x) z += std::exp(xi);
    for (double xi : x) p.push_back(std::exp(xi) / z);
    Mat expected(4, Vec(4));
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) expected[i][j] = (i == j ? p[i] : 0.0) - p[i] * p[j];

    const Mat J = ad::jacobian(softmax_values, x);
    check_close(J, expected, 1e-12);
    check_close(J, fd_jacobian(softmax_values, x), 1e-6);

    const Tensor Jt = ad::jacobian([](const Tensor& v) { return ad::softmax(v, 0); }, t64(x));
    CHECK(Jt.shape() == ad::Shape{4, 4});
    check_close(to_mat(Jt), expected, 1e-12);
}

TEST_CASE("functional: hvp equals hessian·v without forming the Hessian") {
    const Vec x = {-1.2, 1.0, 0.5, 2.0, -0.3};
    const Vec v = {0.3, -1.0, 2.0, 0.5, 1.5};
    const Vec expected = matvec(rosenbrock_hessian(x), v);
    check_close(ad::hvp(rosenbrock, x, v), expected, 1e-12);
    check_close(ad::hvp(rosenbrock, x, v), matvec(fd_hessian(rosenbrock, x), v), 1e-6);

    // Tensor: f(x) = Σ sin(x) x² + (Σ x)³ with H = diag((2 − x²) sin x + 4x cos x) + 6 Σx · 11ᵀ.
    auto f = [](const Tensor& t) { return ad::sum(ad::sin(t) * t * t) + ad::pow(ad::sum(t), 3.0); };
    const Tensor xt = t64(x);
    const Tensor vt = t64(v);
    double s = 0, sv = 0;
    for (std::size_t i = 0; i < x.size(); ++i) s += x[i], sv += v[i];
    Vec hv;
    for (std::size_t i = 0; i < x.size(); ++i)
        hv.push_back(((2 - x[i] * x[i]) * std::sin(x[i]) + 4 * x[i] * std::cos(x[i])) * v[i] + 6 * s * sv);
    check_close(ad::hvp(f, xt, vt).to_vector(), hv, 1e-12);
    check_close(ad::hvp(f, xt, vt).to_vector(), matvec(to_mat(ad::hessian(f, xt)), v), 1e-12);
}

TEST_CASE("functional: hvp scales to dimensions where a Hessian would not fit") {
    // Tensor: f = Σ x⁴ over 10^6 elements: H v = 12 x² ⊙ v (a dense Hessian would be 8 TB).
    const std::int64_t n = 1'000'000;
    const Tensor x = Tensor::uniform({n}, -1, 1, ad::f64, 11), v = Tensor::randn({n}, ad::f64, 12);
    const Tensor hv = ad::hvp([](const Tensor& t) { return ad::sum(ad::pow(t, 4.0)); }, x, v);
    const Vec xs = x.to_vector(), vs = v.to_vector(), got = hv.to_vector();
    REQUIRE(got.size() == static_cast<std::size_t>(n));
    double worst = 0;
    for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - 12 * xs[i] * xs[i] * vs[i]));
    CHECK(worst < 1e-12);
    // Scalar: Rosenbrock in 2000 variables against its tridiagonal Hessian.
    Vec p(2000), d(2000);
    for (std::size_t i = 0; i < p.size(); ++i) {
        p[i] = std::sin(0.1 * double(i));
        d[i] = std::cos(0.3 * double(i));
    }
    const Mat H = rosenbrock_hessian(p);
    check_close(ad::hvp(rosenbrock, p, d), matvec(H, d), 1e-12);
}

TEST_CASE("functional: jvp equals J·v and vjp equals vᵀ·J (scalar world)") {
    const Vec x = {0.4, -0.8, 1.3};
    const Mat J = ad::jacobian(vecfun, x);
    check_close(J, fd_jacobian(vecfun, x), 1e-6);
    // Closed form of the first row: [cos x0 · x1, sin x0, 2 x2].
    check_close(J[0], {std::cos(0.4) * -0.8, std::sin(0.4), 2.6}, 1e-12);

    const Vec u = {0.5, -2.0, 1.0};
    const auto [y1, Ju] = ad::jvp(vecfun, x, u);
    check_close(y1, eval(vecfun, x), 1e-15);
    check_close(Ju, matvec(J, u), 1e-12);

    const Vec w = {1.5, -0.5};
    const auto [y2, wJ] = ad::vjp(vecfun, x, w);
    check_close(y2, eval(vecfun, x), 1e-15);
    check_close(wJ, vecmat(w, J), 1e-12);
    check_close(wJ, vecmat(w, fd_jacobian(vecfun, x)), 1e-6);
}

TEST_CASE("functional: jvp, vjp and jacobian of tensor functions") {
    // f(x) = tanh(W x) ⊙ x[0:2]... a map R^3 → R^2 written with tensor ops.
    const Tensor W({{0.5, -1.0, 0.25}, {1.5, 0.3, -0.7}});
    auto f = [W](const Tensor& x) { return ad::tanh(ad::matmul(W, x)) * ad::exp(ad::narrow(x, 0, 0, 2)); };
    const Vec x = {0.4, -0.8, 1.3};
    const Tensor xt = t64(x);
    const Tensor J = ad::jacobian(f, xt);
    REQUIRE(J.shape() == ad::Shape{2, 3});
    // Finite differences of f.
    const Mat Jm = to_mat(J);
    for (std::int64_t j = 0; j < 3; ++j) {
        Vec xp = x, xm = x;
        xp[j] += kEps;
        xm[j] -= kEps;
        Tensor fp, fm;
        {
            ad::NoGrad ng;
            fp = f(t64(xp));
            fm = f(t64(xm));
        }
        for (std::int64_t i = 0; i < 2; ++i)
            CHECK(Jm[i][j] == doctest::Approx((fp.at({i}) - fm.at({i})) / (2 * kEps)).epsilon(1e-6));
    }
    const Vec u = {0.5, -2.0, 1.0};
    const auto [y, Ju] = ad::jvp(f, xt, t64(u));
    CHECK(y.shape() == ad::Shape{2});
    CHECK(Ju.shape() == ad::Shape{2});
    check_close(Ju.to_vector(), matvec(Jm, u), 1e-12);
    const Vec w = {1.5, -0.5};
    const auto [y2, wJ] = ad::vjp(f, xt, t64(w));
    CHECK(wJ.shape() == ad::Shape{3});
    check_close(wJ.to_vector(), vecmat(w, Jm), 1e-12);
    CHECK(y2.to_vector() == y.to_vector());

    // Shapes compose: a [2, 2] → [2] map has a [2, 2, 2] Jacobian.
    const Tensor M({{1.0, 2.0}, {3.0, 4.0}});
    const Tensor JM = ad::jacobian([](const Tensor& m) { return ad::sum(m * m, 1); }, M);
    CHECK(JM.shape() == ad::Shape{2, 2, 2});
    CHECK(JM.at({0, 0, 1}) == doctest::Approx(4.0));
    CHECK(JM.at({1, 1, 0}) == doctest::Approx(6.0));
    CHECK(JM.at({0, 1, 0}) == 0.0);
}

TEST_CASE("functional: random directional derivatives agree with finite differences (as JAX's check_grads)") {
    ad::Rng rng(2024);
    const std::vector<ad::ScalarFunction> fs = {
        rosenbrock, quadratic,
        [](const std::vector<Value>& v) { return log(1.0 + exp(v[0] * v[1])) + sin(v[2]) / (2.0 + cos(v[0])); },
        [](const std::vector<Value>& v) { return pow(v[0] * v[0] + 1.0, 1.5) * atan2(v[1], v[2] + 3.0); },
    };
    for (std::size_t k = 0; k < fs.size(); ++k) {
        CAPTURE(k);
        for (int trial = 0; trial < 5; ++trial) {
            Vec x, d;
            for (int i = 0; i < 3; ++i) {
                x.push_back(rng.uniform(-1.5, 1.5));
                d.push_back(rng.normal());
            }
            const Vec g = ad::grad(fs[k], x);
            double gd = 0;
            Vec xp = x, xm = x;
            for (int i = 0; i < 3; ++i) {
                gd += g[i] * d[i];
                xp[i] += kEps * d[i];
                xm[i] -= kEps * d[i];
            }
            CHECK(gd == doctest::Approx((eval(fs[k], xp) - eval(fs[k], xm)) / (2 * kEps)).epsilon(1e-6).scale(1.0));
            // Second order along d: dᵀHd against differences of ⟨∇f, d⟩.
            const Vec Hd = ad::hvp(fs[k], x, d);
            double dHd = 0, gp = 0, gm = 0;
            const Vec gxp = ad::grad(fs[k], xp), gxm = ad::grad(fs[k], xm);
            for (int i = 0; i < 3; ++i) {
                dHd += d[i] * Hd[i];
                gp += gxp[i] * d[i];
                gm += gxm[i] * d[i];
            }
            CHECK(dHd == doctest::Approx((gp - gm) / (2 * kEps)).epsilon(1e-5).scale(1.0));
        }
    }
    // Vector function: jvp along random directions against differences of f.
    for (int trial = 0; trial < 5; ++trial) {
        Vec x, d;
        for (int i = 0; i < 3; ++i) {
            x.push_back(rng.uniform(-1, 1));
            d.push_back(rng.normal());
        }
        Vec xp = x, xm = x;
        for (int i = 0; i < 3; ++i) xp[i] += kEps * d[i], xm[i] -= kEps * d[i];
        const Vec fp = eval(vecfun, xp), fm = eval(vecfun, xm);
        const Vec Jd = ad::jvp(vecfun, x, d).second;
        for (std::size_t i = 0; i < Jd.size(); ++i) CHECK(Jd[i] == doctest::Approx((fp[i] - fm[i]) / (2 * kEps)).epsilon(1e-6).scale(1.0));
    }
}

TEST_CASE("functional: variables f ignores get exact zeros; constants too") {
    auto f = [](const std::vector<Value>& v) { return v[0] * v[0]; };
    const Vec g = ad::grad(f, {3.0, 5.0});
    CHECK(g == Vec{6.0, 0.0});
    const Mat H = ad::hessian(f, {3.0, 5.0});
    CHECK(H == Mat{{2.0, 0.0}, {0.0, 0.0}});
    auto c = [](const std::vector<Value>&) { return Value::constant(4.0); };
    CHECK(ad::value_and_grad(c, {1.0, 2.0}) == std::pair<double, Vec>{4.0, {0.0, 0.0}});
    CHECK(ad::hessian(c, {1.0}) == Mat{{0.0}});
    CHECK(ad::hvp(c, {1.0}, {1.0}) == Vec{0.0});
    auto linear = [](const std::vector<Value>& v) { return 3.0 * v[0] - v[1]; };
    CHECK(ad::hessian(linear, {1.0, 2.0}) == Mat{{0.0, 0.0}, {0.0, 0.0}});
    CHECK(ad::grad(linear, {1.0, 2.0}) == Vec{3.0, -1.0});
    // f returning a variable itself.
    CHECK(ad::grad([](const std::vector<Value>& v) { return v[1]; }, {1.0, 2.0}) == Vec{0.0, 1.0});
    // Tensor: a linear map has a zero Hessian and jvp of a constant map is zero.
    const Tensor x = t64({1.0, 2.0});
    CHECK(ad::hessian([](const Tensor& t) { return ad::sum(t * 2.0); }, x).to_vector() == Vec{0, 0, 0, 0});
    const Tensor k = t64({7.0});
    CHECK(ad::jvp([k](const Tensor&) { return k; }, x, x).second.to_vector() == Vec{0.0});
    // The identity: J = I, jvp(v) = v.
    CHECK(ad::jvp([](const Tensor& t) { return t; }, x, t64({3.0, -4.0})).second.to_vector() == Vec{3.0, -4.0});
}

TEST_CASE("functional: dtype, multi-input grad, and the caller's variables untouched") {
    const Tensor x32 = Tensor({1.0, 2.0, 3.0}).to(ad::f32);
    const Tensor g32 = ad::grad([](const Tensor& t) { return ad::sum(t * t); }, x32);
    CHECK(g32.dtype() == ad::f32);
    CHECK(g32.to_vector() == Vec{2.0, 4.0, 6.0});
    CHECK(ad::jacobian([](const Tensor& t) { return t * 3.0; }, x32).dtype() == ad::f32);

    Tensor a = t64({1.0, 2.0}).requires_grad_();
    const Tensor b = t64({3.0, -1.0});
    const auto [v, gs] = ad::value_and_grad(
        [](const std::vector<Tensor>& in) { return ad::sum(in[0] * in[1]) + ad::sum(ad::exp(in[1])); }, std::vector<Tensor>{a, b});
    CHECK(v.item() == doctest::Approx(1.0 + std::exp(3.0) + std::exp(-1.0)));
    REQUIRE(gs.size() == 2);
    CHECK(gs[0].to_vector() == Vec{3.0, -1.0});
    check_close(gs[1].to_vector(), {1.0 + std::exp(3.0), 2.0 + std::exp(-1.0)}, 1e-12);
    CHECK_FALSE(a.grad().defined());  // the transform works on copies: no accumulation in a

    // Nothing is left on the tape once the results are numbers.
    (void)ad::hessian(rosenbrock, {0.5, 0.5, 0.5});
    (void)ad::hvp([](const Tensor& t) { return ad::sum(ad::exp(t)); }, b, b);
    CHECK(ad::detail::tape().size == 0);
}

TEST_CASE("functional: mismatched sizes and non-scalar outputs are reported") {
    CHECK_THROWS_AS(ad::hvp(rosenbrock, {1.0, 2.0}, {1.0}), ad::ShapeError);
    CHECK_THROWS_AS(ad::jvp(vecfun, {1.0, 2.0, 3.0}, {1.0}), ad::ShapeError);
    CHECK_THROWS_AS(ad::vjp(vecfun, {1.0, 2.0, 3.0}, {1.0, 2.0, 3.0}), ad::ShapeError);
    const Tensor x = t64({1.0, 2.0});
    auto id = [](const Tensor& t) { return t * 2.0; };
    CHECK_THROWS_AS(ad::grad(id, x), ad::ShapeError);
    CHECK_THROWS_AS(ad::hessian(id, x), ad::ShapeError);
    CHECK_THROWS_AS(ad::vjp(id, x, t64({1.0})), ad::ShapeError);
    CHECK_THROWS_AS(ad::jvp(id, x, t64({1.0, 2.0, 3.0})), ad::ShapeError);
    try {
        (void)ad::grad(id, x);
    } catch (const ad::ShapeError& e) {
        CHECK(std::string(e.what()).find("grad: f(x) has shape [2]") != std::string::npos);
    }
}

// ---- grad and value_and_grad: inputs recorded as tape entries, ad::Real functions ------------

namespace {
ad::Real rosenbrock_real(const std::vector<ad::Real>& x) {
    ad::Real f = ad::Real::constant(0.0);
    for (std::size_t i = 0; i + 1 < x.size(); ++i) f = f + 100.0 * square(x[i + 1] - square(x[i])) + square(1.0 - x[i]);
    return f;
}
}  // namespace

TEST_CASE("functional: value_and_grad of an ad::Real function matches the closed form and the Value path") {
    const std::vector<Vec> points = {{-1.2, 1.0}, {0.3, -0.7}, {-1.2, 1.0, 0.5, 2.0, -0.3}, {1, 1, 1, 1, 1}};
    for (const Vec& x : points) {
        CAPTURE(x.size());
        const auto [f, g] = ad::value_and_grad(rosenbrock_real, x);
        CHECK(f == doctest::Approx(eval(rosenbrock, x)));
        check_close(g, rosenbrock_grad(x), 1e-12);
        check_close(g, ad::grad(rosenbrock, x), 1e-13);
        CHECK(ad::grad(rosenbrock_real, x) == g);
        check_close(g, fd_grad(rosenbrock, x), 1e-6);
    }
    // A lambda over Reals, with dot() over the inputs: ∇(x·x + 3 x₀) = 2x + 3e₀.
    auto f = [](const std::vector<ad::Real>& v) -> ad::Real { return ad::dot(v, v) + 3.0 * v[0]; };
    CHECK(ad::grad(f, {1.0, -2.0, 0.5}) == Vec{5.0, -4.0, 1.0});
    CHECK(ad::detail::tape().size == 0);  // nothing left on the tape
}

TEST_CASE("functional: value_and_grad's inputs are entries of the tape, not leaves: edge cases") {
    // f returning an input, a constant, or nothing of its inputs; no inputs at all.
    CHECK(ad::grad([](const std::vector<ad::Real>& v) { return v[1]; }, {1.0, 2.0}) == Vec{0.0, 1.0});
    CHECK(ad::value_and_grad([](const std::vector<ad::Real>&) { return ad::Real::constant(4.0); }, {1.0}) ==
          std::pair<double, Vec>{4.0, {0.0}});
    CHECK(ad::value_and_grad([](const std::vector<Value>& v) { return ad::sum(v) + 1.0; }, {}) ==
          std::pair<double, Vec>{1.0, {}});
    // Jacobian rows (one sweep each over the same graph) for an input, a constant and a product.
    auto rows = [](const std::vector<Value>& v) { return std::vector<Value>{v[1], Value::constant(2.0), v[0] * v[1]}; };
    CHECK(ad::jacobian(rows, {3.0, 5.0}) == Mat{{0.0, 1.0}, {0.0, 0.0}, {5.0, 3.0}});
    CHECK(ad::vjp(rows, {3.0, 5.0}, {1.0, 7.0, 2.0}) == std::pair<Vec, Vec>{{5.0, 2.0, 15.0}, {10.0, 7.0}});
    // Inside f the inputs are not leaves.
    CHECK(ad::grad([](const std::vector<Value>& v) {
              CHECK_FALSE(v[0].is_leaf());
              CHECK(v[0].requires_grad());
              return v[0] * 2.0;
          }, {1.0}) == Vec{2.0});

    // A variable of the caller that f uses gets no gradient, and the caller's graph stays usable.
    Value w = 3.0;
    const Value u = w * 2.0;  // recorded before the transform's inputs
    CHECK(ad::grad([&](const std::vector<Value>& v) { return u * v[0] + w * v[1]; }, {2.0, 5.0}) == Vec{6.0, 3.0});
    CHECK(ad::grad([&](const std::vector<Value>&) { return w; }, {2.0}) == Vec{0.0});
    CHECK(ad::grad([&](const std::vector<Value>&) { return u; }, {2.0}) == Vec{0.0});
    CHECK(w.grad() == 0.0);
    u.backward();
    CHECK(w.grad() == 2.0);

    // Under NoGrad nothing is recorded: the value, and a zero gradient.
    {
        ad::NoGrad ng;
        CHECK(ad::value_and_grad(rosenbrock_real, {0.0, 0.0}) == std::pair<double, Vec>{1.0, {0.0, 0.0}});
    }

    // A hook registered on an input inside f runs on its gradient.
    auto hooked = [](const std::vector<Value>& v) {
        Value a = v[0];
        a.register_hook([](double g) { return 10.0 * g; });
        return a * v[1];
    };
    CHECK(ad::grad(hooked, {2.0, 3.0}) == Vec{30.0, 2.0});

    // A handle from a released graph is an error, as anywhere else.
    Value stale;
    {
        ad::GraphScope scope;
        Value k = 3.0;
        stale = k * 2.0;
    }
    CHECK_THROWS_AS(ad::grad([&](const std::vector<Value>& v) { return stale * v[0]; }, {1.0}), ad::GraphError);
    // f releasing the graph that holds its own inputs: an error, not the gradient of other entries.
    auto scoped = [](const std::vector<Value>&) {
        Value k = 2.0;
        {
            ad::GraphScope scope;  // rewinds the tape, inputs included, when it ends
            (void)(k * 3.0);
        }
        return k * 4.0;  // recorded in the new graph, where the inputs' entries are gone
    };
    CHECK_THROWS_WITH_AS(ad::grad(scoped, {1.0, 2.0, 3.0}),
                         doctest::Contains("value_and_grad: the graph holding f's inputs was released while f ran"),
                         ad::GraphError);
}

TEST_CASE("functional: the checked sweep of value_and_grad leaves no adjoints behind") {
    // With hooks or anomaly mode on, the sweep takes the checked path; the next gradient's
    // entries land where the previous graph's were (the tape rewound in between).
    REQUIRE(ad::detail::tape().size == 0);
    auto hooked = [](const std::vector<Value>& v) {
        Value a = v[0];
        a.register_hook([](double g) { return 10.0 * g; });
        return a * v[1] * v[0];
    };
    auto chain3 = [](const std::vector<Value>& v) { return v[0] * v[1] * v[0] * v[1]; };
    CHECK(ad::grad(hooked, {2.0, 3.0}) == Vec{120.0, 4.0});  // a IS v₀: the hook scales all of ∂f/∂v₀ = 2v₀v₁
    CHECK(ad::grad(chain3, {2.0, 3.0}) == Vec{36.0, 24.0});
    {
        ad::AnomalyMode on;
        CHECK(ad::grad(chain3, {2.0, 3.0}) == Vec{36.0, 24.0});
    }
    CHECK(ad::grad(chain3, {2.0, 3.0}) == Vec{36.0, 24.0});
}

TEST_CASE("functional: an error in value_and_grad's sweep leaves the next gradients right") {
    // Anomaly mode: √x at 0 has an infinite derivative; the sweep throws halfway.
    {
        ad::AnomalyMode on;
        CHECK_THROWS_AS(ad::grad([](const std::vector<ad::Real>& v) { return ad::Real(sqrt(v[0]) * v[1]); }, {0.0, 2.0}),
                        ad::AnomalyError);
        CHECK_THROWS_AS(ad::grad([](const std::vector<Value>& v) { return sqrt(v[0]) * v[1]; }, {0.0, 2.0}),
                        ad::AnomalyError);
    }
    // The adjoints the failed sweeps left were cleared: the same and other gradients are exact.
    CHECK(ad::grad([](const std::vector<Value>& v) { return sqrt(v[0]) * v[1]; }, {4.0, 2.0}) == Vec{0.5, 2.0});
    const Vec x = {0.3, -0.7, 1.1};
    check_close(ad::grad(rosenbrock_real, x), rosenbrock_grad(x), 1e-12);
    CHECK(ad::detail::tape().size == 0);
}
