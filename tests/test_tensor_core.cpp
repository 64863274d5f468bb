// The Tensor type itself: construction, factories and seeded randomness, element access, views
// and storage sharing, in-place ops and the version counter, printing, undefined tensors, and the
// autograd plumbing (detach, requires_grad_, grad accumulation, hooks, anomaly mode, long chains,
// tape rewinding).
#include <autodiff/autodiff.hpp>
#include <doctest/doctest.h>
#include <tests/test_util.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <new>
#include <span>
#include <string>
#include <vector>

using ad::Shape;
using ad::Tensor;

using ad::test::contains;
using ad::test::error_of;

namespace {
std::vector<double> values(const Tensor& t) { return t.to_vector(); }
}  // namespace

// ---- construction ---------------------------------------------------------------------------

TEST_CASE("construction from nested lists: shape, dtype and values") {
    const Tensor a({1, 2, 3});
    CHECK(a.shape() == Shape{3});
    CHECK(a.dtype() == ad::f64);
    CHECK(values(a) == std::vector<double>{1, 2, 3});
    const Tensor b({{1, 2}, {3, 4}, {5, 6}}, ad::f32);
    CHECK(b.shape() == Shape{3, 2});
    CHECK(b.dtype() == ad::f32);
    CHECK(b.at({2, 1}) == 6);
    const Tensor c({{{1, 2}}, {{3, 4}}});
    CHECK(c.shape() == Shape{2, 1, 2});
    CHECK(values(c) == std::vector<double>{1, 2, 3, 4});
    CHECK(contains(error_of<ad::ShapeError>([] { Tensor({{1, 2}, {3}}); }), "ragged"));
    CHECK(contains(error_of<ad::ShapeError>([] { Tensor({{{1, 2}}, {{3}}}); }), "ragged"));
}

TEST_CASE("from_data copies the buffer and checks its size") {
    std::vector<float> f = {1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f};
    const Tensor t = Tensor::from_data(f, {2, 3});
    f[0] = 100;  // a copy, not a view of the caller's buffer
    CHECK(t.dtype() == ad::f32);
    CHECK(t.at({0, 0}) == 1.5);
    CHECK(t.at({1, 2}) == 6.5);
    const std::vector<double> d = {1, 2, 3, 4, 5};
    const std::string msg = error_of<ad::ShapeError>([&] { Tensor::from_data(d, {2, 3}); });
    CHECK(contains(msg, "from_data"));
    CHECK(contains(msg, "5 elements"));
    CHECK(contains(msg, "[2, 3]"));
}

TEST_CASE("factories: zeros ones full scalar eye arange linspace empty") {
    CHECK(Tensor::zeros({2, 2}).dtype() == ad::f32);  // float32 by default, like PyTorch
    CHECK(values(Tensor::zeros({2, 2})) == std::vector<double>(4, 0.0));
    CHECK(values(Tensor::ones({3}, ad::f64)) == std::vector<double>(3, 1.0));
    CHECK(values(Tensor::full({2}, -2.5)) == std::vector<double>{-2.5, -2.5});
    const Tensor s = Tensor::scalar(4.0);
    CHECK(s.dim() == 0);
    CHECK(s.numel() == 1);
    CHECK(s.item() == 4.0);
    CHECK(values(Tensor::eye(3)) == std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1});
    CHECK(values(Tensor::arange(0, 5)) == std::vector<double>{0, 1, 2, 3, 4});
    CHECK(values(Tensor::arange(1, 0, -0.25, ad::f64)) == std::vector<double>{1, 0.75, 0.5, 0.25});
    CHECK(Tensor::arange(3, 3).numel() == 0);
    CHECK(values(Tensor::linspace(0, 1, 5, ad::f64)) == std::vector<double>{0, 0.25, 0.5, 0.75, 1});
    CHECK(values(Tensor::linspace(2, 7, 1)) == std::vector<double>{2});
    CHECK(Tensor::linspace(0, 1, 0).numel() == 0);
    CHECK(Tensor::empty({2, 0, 3}).numel() == 0);
    CHECK(contains(error_of<ad::ValueError>([] { Tensor::arange(0, 1, 0); }), "arange"));
    CHECK(contains(error_of<ad::ValueError>([] { Tensor::linspace(0, 1, -1); }), "linspace"));
    CHECK(contains(error_of<ad::ShapeError>([] { Tensor::zeros({2, -1}); }), "negative dimension"));
}

TEST_CASE("a shape whose element count or byte size does not fit is a ShapeError naming it, before any allocation") {
    constexpr std::int64_t k40 = std::int64_t(1) << 40;
    // 2^80 elements: numel() would wrap (to 0) and give a 64-byte tensor claiming this shape
    const std::string msg = error_of<ad::ShapeError>([] { Tensor::zeros({k40, k40}); });
    CHECK(contains(msg, "[1099511627776, 1099511627776]"));
    CHECK(contains(msg, "too many elements"));
    CHECK(contains(error_of<ad::ShapeError>([] { Tensor::empty({256, 256, 256, 256, 256, 256, 256, 256}); }),
                   "[256, 256, 256, 256, 256, 256, 256, 256]"));  // exactly 2^64
    CHECK(contains(error_of<ad::ShapeError>([] { Tensor::empty({std::int64_t(1) << 32, std::int64_t(1) << 32}, ad::f64); }),
                   "[4294967296, 4294967296]"));
    // the element count fits in int64 but the byte count does not fit in size_t (it would wrap to 0)
    const std::string bytes = error_of<ad::ShapeError>([] { Tensor::empty({std::int64_t(1) << 62}); });
    CHECK(contains(bytes, "[4611686018427387904]"));
    CHECK(contains(bytes, "float32"));
    CHECK(contains(error_of<ad::ShapeError>([] { Tensor::ones({std::int64_t(1) << 61}, ad::f64); }), "[2305843009213693952]"));
    CHECK(contains(error_of<ad::ShapeError>([] { Tensor::full({3, std::int64_t(1) << 61}, 1.0); }), "[3, 2305843009213693952]"));
    // every factory goes through the same check
    CHECK(contains(error_of<ad::ShapeError>([] { Tensor::eye(std::int64_t(1) << 32); }), "[4294967296, 4294967296]"));
    CHECK(contains(error_of<ad::ShapeError>([] { Tensor::randn({k40, k40}, ad::f32, 1); }), "[1099511627776, 1099511627776]"));
    CHECK(contains(error_of<ad::ShapeError>([] { Tensor::from_data(std::span<const double>(), Shape{k40, k40, 0, k40}); }),
                   "[1099511627776, 1099511627776, 0, 1099511627776]"));
    CHECK(contains(error_of<ad::ShapeError>([] { Tensor::arange(0, 1e30); }), "arange"));
    // negative dimensions, with the shape
    CHECK(contains(error_of<ad::ShapeError>([] { Tensor::zeros({2, -3}); }), "[2, -3]"));
    CHECK(contains(error_of<ad::ShapeError>([] { Tensor::eye(-2); }), "[-2, -2]"));
    // reshape checks the target the same way: [2^32, 2^32] would wrap to 0 elements
    const Tensor none = Tensor::zeros({0});
    CHECK(contains(error_of<ad::ShapeError>([&] { ad::reshape(none, {std::int64_t(1) << 32, std::int64_t(1) << 32}); }),
                   "[4294967296, 4294967296]"));
    CHECK(contains(error_of<ad::ShapeError>([&] { ad::reshape(none, {-1, k40, k40}); }), "[-1, 1099511627776, 1099511627776]"));
    // shapes that fit still work, including 0-element ones with a large dimension
    CHECK(Tensor::zeros({0, k40}).numel() == 0);
    CHECK(Tensor::zeros({3, 0, 5}).shape() == Shape{3, 0, 5});
    // the allocator itself refuses sizes no object can have (it would loop on wrapped size classes)
    CHECK_THROWS_AS(ad::Storage(std::numeric_limits<std::size_t>::max()), std::bad_alloc);
}

TEST_CASE("seeded random numbers: reproducible, pinned, and in range") {
    CHECK(values(Tensor::randn({50}, ad::f64, 7)) == values(Tensor::randn({50}, ad::f64, 7)));
    CHECK(values(Tensor::randn({50}, ad::f64, 7)) != values(Tensor::randn({50}, ad::f64, 8)));
    CHECK(values(Tensor::uniform({9}, -1, 1, ad::f64, 3)) == values(Tensor::uniform({9}, -1, 1, ad::f64, 3)));
    // The generator is part of the contract (checkpoints and experiments rely on it): a change
    // of these numbers must be deliberate.
    const std::vector<double> pinned = {-0.014106797381249181, -1.0085864725210538, -1.8458950876958273,
                                        1.0669282078900475,    0.78817916144876576, -0.0012458141706218938};
    CHECK(values(Tensor::randn({6}, ad::f64, 0)) == pinned);
    const std::vector<double> pinned_rand = {0.60126299941790484, 0.74777409254723981, 0.10301998939503632};
    CHECK(values(Tensor::rand({3}, ad::f64, 0)) == pinned_rand);
    // float32 draws the same numbers, rounded
    const auto f = values(Tensor::randn({6}, ad::f32, 0));
    for (std::size_t i = 0; i < f.size(); ++i) CHECK(f[i] == static_cast<double>(static_cast<float>(pinned[i])));
    // ranges and moments
    const auto u = values(Tensor::uniform({4000}, -3, 5, ad::f64, 11));
    double lo = 1e9, hi = -1e9, m = 0;
    for (double v : u) lo = std::min(lo, v), hi = std::max(hi, v), m += v / 4000;
    CHECK(lo >= -3);
    CHECK(hi < 5);
    CHECK(m == doctest::Approx(1.0).epsilon(0.1));
    const auto n = values(Tensor::randn({4000}, ad::f64, 12));
    double mean = 0, sq = 0;
    for (double v : n) mean += v / 4000, sq += v * v / 4000;
    CHECK(std::fabs(mean) < 0.06);
    CHECK(std::sqrt(sq - mean * mean) == doctest::Approx(1.0).epsilon(0.05));
}

// ---- element access -----------------------------------------------------------------------------

TEST_CASE("element access: at, set, item, data, with bounds errors") {
    Tensor t({{1, 2, 3}, {4, 5, 6}});
    CHECK(t.at({1, 2}) == 6);
    CHECK(t.at({-1, -3}) == 4);  // negative indices count from the end
    t.set({0, 1}, 20);
    CHECK(t.at({0, 1}) == 20);
    std::string msg = error_of<ad::ShapeError>([&] { t.at({2, 0}); });
    CHECK(contains(msg, "at: index 2 is out of range for dimension 0 of shape [2, 3]"));
    msg = error_of<ad::ShapeError>([&] { t.set({0, -4}, 1); });
    CHECK(contains(msg, "set: index -4"));
    CHECK(contains(error_of<ad::ShapeError>([&] { t.at({1}); }), "1 indices given for a tensor of shape [2, 3]"));
    CHECK(contains(error_of<ad::ShapeError>([&] { t.item(); }), "item: a tensor of shape [2, 3] has 6 elements"));
    CHECK(Tensor::full({1, 1}, 7.0).item() == 7.0);
    CHECK(contains(error_of<ad::ShapeError>([&] { t.data<float>(); }), "float64, not float32"));
    CHECK(t.data<double>()[5] == 6);
    CHECK(ad::transpose(t, 0, 1).at({2, 1}) == 6);  // through strides
    CHECK(values(ad::transpose(t, 0, 1)) == std::vector<double>{1, 4, 20, 5, 3, 6});
}

// ---- views ------------------------------------------------------------------------------------------

TEST_CASE("views share storage with their base; copies do not") {
    Tensor base = Tensor::arange(0, 12, 1, ad::f64).reshape({3, 4});
    const std::vector<std::pair<const char*, Tensor>> views = {
        {"t", base.t()},
        {"transpose", ad::transpose(base, 0, 1)},
        {"permute", ad::permute(base, {1, 0})},
        {"slice", ad::slice(base, 1, 0, 4, 2)},
        {"narrow", ad::narrow(base, 0, 1, 2)},
        {"reshape", ad::reshape(base, {2, 6})},
        {"flatten", ad::flatten(base)},
        {"unsqueeze", ad::unsqueeze(base, 0)},
        {"squeeze", ad::squeeze(ad::unsqueeze(base, 1))},
        {"expand", ad::expand(ad::narrow(base, 0, 0, 1), {5, 4})},
        {"split", ad::split(base, 2, 0)[1]},
        {"detach", base.detach()},
        {"contiguous of contiguous", base.contiguous()},
    };
    for (const auto& [name, v] : views) {
        INFO(name);
        CHECK(v.storage() == base.storage());
    }
    CHECK(!base.t().is_contiguous());
    CHECK(base.t().strides() == Shape{1, 4});
    CHECK(ad::slice(base, 1, 0, 4, 2).strides() == Shape{4, 2});
    CHECK(ad::expand(ad::narrow(base, 0, 0, 1), {5, 4}).strides() == Shape{0, 1});
    // a write through the base is visible in the views, and the other way round
    base.set({2, 3}, -1);
    CHECK(base.t().at({3, 2}) == -1);
    CHECK(ad::narrow(base, 0, 1, 2).at({1, 3}) == -1);
    ad::slice(base, 1, 0, 4, 2).set({0, 1}, 99);
    CHECK(base.at({0, 2}) == 99);
    // copies
    CHECK(base.clone().storage() != base.storage());
    CHECK(base.t().contiguous().storage() != base.storage());
    CHECK(base.t().contiguous().is_contiguous());
    CHECK(ad::reshape(base.t(), {12}).storage() != base.storage());  // a non-contiguous reshape copies
    CHECK(ad::index_select(base, 0, Tensor({0.0})).storage() != base.storage());
}

// ---- in place and the version counter --------------------------------------------------------

TEST_CASE("in-place ops bump the version counter (shared by views)") {
    Tensor t = Tensor::zeros({2, 3}, ad::f64);
    Tensor view = t.t();
    std::uint32_t v = t.version();
    auto bumped = [&] {
        const bool ok = t.version() == v + 1 && view.version() == t.version();
        v = t.version();
        return ok;
    };
    t.fill_(2);
    CHECK(bumped());
    t.add_(Tensor::ones({3}, ad::f64), 0.5);  // broadcast source, alpha
    CHECK(bumped());
    CHECK(values(t) == std::vector<double>(6, 2.5));
    t.mul_(2);
    CHECK(bumped());
    t.copy_(Tensor({1, 2, 3}));
    CHECK(bumped());
    CHECK(values(t) == std::vector<double>{1, 2, 3, 1, 2, 3});
    t.set({0, 0}, 5);
    CHECK(bumped());
    view.add_(Tensor::ones({3, 2}, ad::f64));  // through a non-contiguous view
    CHECK(bumped());
    CHECK(values(t) == std::vector<double>{6, 3, 4, 2, 3, 4});
    view.mul_(-1);
    CHECK(bumped());
    CHECK(values(t) == std::vector<double>{-6, -3, -4, -2, -3, -4});
    t.zero_();
    CHECK(bumped());
    CHECK(values(t) == std::vector<double>(6, 0.0));
}

TEST_CASE("modifying a tensor saved by mul makes backward throw GraphError naming the op") {
    Tensor x = Tensor({1, 2, 3}).requires_grad_();
    Tensor a = x * 2.0;  // interior
    Tensor y = a * a;    // mul saves a
    {
        ad::NoGrad ng;
        a.add_(Tensor::ones({3}, ad::f64));
    }
    const std::string msg = error_of<ad::GraphError>([&] { ad::sum(y).backward(); });
    CHECK(contains(msg, "'mul'"));
    CHECK(contains(msg, "modified in place"));
}

TEST_CASE("in place on a leaf that requires grad: GraphError while recording, fine under NoGrad") {
    Tensor w = Tensor({1, 2}).requires_grad_();
    CHECK(contains(error_of<ad::GraphError>([&] { w.add_(Tensor({1, 1})); }), "add_"));
    CHECK(contains(error_of<ad::GraphError>([&] { w.zero_(); }), "NoGrad"));
    {
        ad::NoGrad ng;
        w.mul_(3);
    }
    CHECK(values(w) == std::vector<double>{3, 6});
}

// ---- printing ---------------------------------------------------------------------------------------

TEST_CASE("fmt formatting matches PyTorch's repr") {
    CHECK(fmt::format("{}", Tensor({1, 2, 3})) == "tensor([1., 2., 3.], dtype=float64)");
    CHECK(Tensor({1.5, -2.25}, ad::f32).str() == "tensor([ 1.5000, -2.2500])");
    CHECK(fmt::format("{}", Tensor({{1, 2}, {3, 40}}, ad::f32)) == "tensor([[ 1.,  2.],\n        [ 3., 40.]])");
    CHECK(fmt::format("{}", Tensor({{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}, ad::f32)) ==
          "tensor([[[1., 2.],\n         [3., 4.]],\n\n        [[5., 6.],\n         [7., 8.]]])");
    CHECK(fmt::format("{}", Tensor::scalar(3.5)) == "tensor(3.5000)");
    CHECK(fmt::format("{}", Tensor::scalar(-2, ad::f64)) == "tensor(-2., dtype=float64)");
    CHECK(fmt::format("{}", Tensor({1e-5, 1.0}, ad::f32)) == "tensor([1.0000e-05, 1.0000e+00])");
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    CHECK(fmt::format("{}", Tensor({1, nan, -inf}, ad::f32)) == "tensor([1., nan, -inf])");
    CHECK(fmt::format("{}", Tensor::zeros({0})) == "tensor([])");
    CHECK(fmt::format("{}", Tensor::zeros({0, 3})) == "tensor([], size=[0, 3])");
    // long rows wrap at 80 columns; big tensors show 3 edge items around "..."
    CHECK(fmt::format("{}", Tensor::arange(0, 2000)) ==
          "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])");
    const std::string row = "[1., 1., 1.,  ..., 1., 1., 1.]";
    CHECK(fmt::format("{}", Tensor::ones({40, 40})) == "tensor([" + row + ",\n        " + row + ",\n        " + row +
                                                           ",\n        ...,\n        " + row + ",\n        " + row +
                                                           ",\n        " + row + "])");
    CHECK(fmt::format("{}", Tensor::arange(0, 20, 1, ad::f64) / 8.0) ==
          "tensor([0.0000, 0.1250, 0.2500, 0.3750, 0.5000, 0.6250, 0.7500, 0.8750, 1.0000,\n"
          "        1.1250, 1.2500, 1.3750, 1.5000, 1.6250, 1.7500, 1.8750, 2.0000, 2.1250,\n"
          "        2.2500, 2.3750], dtype=float64)");
    // a suffix that does not fit on the last line goes on its own line
    CHECK(fmt::format("{}", Tensor::arange(0, 9, 1, ad::f64) / 8.0) ==
          "tensor([0.0000, 0.1250, 0.2500, 0.3750, 0.5000, 0.6250, 0.7500, 0.8750, 1.0000],\n"
          "       dtype=float64)");
    Tensor x = Tensor({1, 2}).requires_grad_();
    CHECK(fmt::format("{}", x) == "tensor([1., 2.], dtype=float64, requires_grad=True)");
    CHECK(fmt::format("{}", x * x) == "tensor([1., 4.], dtype=float64, grad_fn=<mul>)");
    CHECK(fmt::format("{:>20}", Tensor::scalar(1)) == "          tensor(1.)");
    CHECK(fmt::format("{}", ad::square(x)) == "tensor([1., 4.], dtype=float64, grad_fn=<square>)");
}

TEST_CASE("Tensor::str() is the same text as fmt::format(\"{}\", t)") {
    Tensor x = Tensor({1, 2}).requires_grad_();
    const std::vector<Tensor> ts = {Tensor({1.5, -2.25}, ad::f32), Tensor::scalar(-2, ad::f64), Tensor::zeros({0, 3}),
                                    Tensor::ones({40, 40}), Tensor::arange(0, 9, 1, ad::f64) / 8.0, x, x * x,
                                    ad::transpose(Tensor({{1, 2}, {3, 4}}), 0, 1), Tensor()};
    for (const Tensor& t : ts) {
        const std::string expected = fmt::format("{}", t);
        CAPTURE(expected);
        CHECK(t.str() == expected);
    }
    CHECK(Tensor().str() == "tensor(undefined)");
    CHECK(Tensor({3.0}).str() == "tensor([3.], dtype=float64)");
}

// ---- undefined, detach, requires_grad_ ----------------------------------------------------------------

TEST_CASE("undefined tensors: defined() is false, use throws GraphError, printing works") {
    const Tensor u;
    CHECK_FALSE(u.defined());
    CHECK(fmt::format("{}", u) == "tensor(undefined)");
    CHECK(contains(error_of<ad::GraphError>([&] { (void)u.shape(); }), "undefined"));
    CHECK(contains(error_of<ad::GraphError>([&] { ad::exp(u); }), "undefined"));
    CHECK(contains(error_of<ad::GraphError>([&] { (void)(u + Tensor({1.0})); }), "undefined"));
    const Tensor leaf = Tensor({1.0}).requires_grad_();
    CHECK_FALSE(leaf.grad().defined());  // no backward yet
}

TEST_CASE("detach: same data, no graph, a leaf") {
    Tensor x = Tensor({1, 2, 3}).requires_grad_();
    const Tensor d = (x * 2.0).detach();
    CHECK(d.is_leaf());
    CHECK_FALSE(d.requires_grad());
    CHECK(values(d) == std::vector<double>{2, 4, 6});
    // no gradient flows through a detached branch: d/dx Σ x·stop(x) = stop(x)
    const auto g = ad::gradients(ad::sum(x * x.detach()), {x});
    CHECK(values(g[0]) == std::vector<double>{1, 2, 3});
    CHECK_FALSE(ad::exp(x.detach()).requires_grad());
}

TEST_CASE("requires_grad_ on an interior tensor throws GraphError") {
    Tensor x = Tensor({1.0}).requires_grad_();
    Tensor y = x * 2.0;
    CHECK(contains(error_of<ad::GraphError>([&] { y.requires_grad_(); }), "leaf"));
    CHECK(contains(error_of<ad::GraphError>([&] { (void)y.grad(); }), "leaf"));
}

// ---- gradients: accumulation and hooks ---------------------------------------------------------------

TEST_CASE("grad() accumulates across two backward calls until zero_grad") {
    Tensor x = Tensor({1, -2}).requires_grad_();
    ad::sum(x * x).backward();
    CHECK(values(x.grad()) == std::vector<double>{2, -4});
    ad::sum(x * 3.0).backward();
    CHECK(values(x.grad()) == std::vector<double>{5, -1});
    // the same graph twice needs retain_graph
    Tensor y = ad::sum(ad::exp(x));
    y.backward(ad::BackwardOptions{.retain_graph = true});
    y.backward();
    CHECK(x.grad().at({0}) == doctest::Approx(5 + 2 * std::exp(1.0)));
    x.zero_grad();
    CHECK_FALSE(x.grad().defined());
    CHECK(x.grad().defined() == false);
}

TEST_CASE("leaves that receive the same gradient buffer get gradients of their own") {
    // a + b passes one gradient tensor to both leaves; the first leaf reached must copy it, the
    // last may keep it (nothing else sees it), and neither may alias the other or the seed.
    Tensor a = Tensor({1, 2}).requires_grad_();
    Tensor b = Tensor({3, 4}).requires_grad_();
    Tensor seed = Tensor({10, 20});
    (a + b).backward(seed);
    CHECK(values(a.grad()) == std::vector<double>{10, 20});
    CHECK(values(b.grad()) == std::vector<double>{10, 20});
    CHECK(a.grad().data<double>() != b.grad().data<double>());
    CHECK(a.grad().data<double>() != seed.data<double>());
    CHECK(b.grad().data<double>() != seed.data<double>());
    {
        ad::NoGrad off;
        a.grad().mul_(2.0);
    }
    CHECK(values(b.grad()) == std::vector<double>{10, 20});
    CHECK(values(seed) == std::vector<double>{10, 20});
    // a leaf's gradient taken without a copy still accumulates in place on the next backward
    (b * 1.0).backward(Tensor({1, 1}));
    CHECK(values(b.grad()) == std::vector<double>{11, 21});
    CHECK(values(a.grad()) == std::vector<double>{20, 40});
}

TEST_CASE("hooks on tensor gradients: leaf and interior") {
    Tensor x = Tensor({1, 2}).requires_grad_();
    std::vector<double> seen_leaf, seen_mid;
    x.register_hook([&](const Tensor& g) {
        seen_leaf = values(g);
        return g * 10.0;  // replaces the gradient before it is accumulated
    });
    Tensor mid = x * 3.0;
    mid.register_hook([&](const Tensor& g) {
        seen_mid = values(g);
        return Tensor();  // undefined: keep the gradient
    });
    ad::sum(mid * mid).backward();
    CHECK(seen_mid == std::vector<double>{6, 12});    // 2·mid
    CHECK(seen_leaf == std::vector<double>{18, 36});  // 3·2·mid
    CHECK(values(x.grad()) == std::vector<double>{180, 360});
    // an interior hook that replaces the gradient changes what reaches the leaf
    x.zero_grad();
    Tensor m2 = x * 1.0;
    m2.register_hook([](const Tensor& g) { return g * 0.0; });
    ad::sum(m2).backward();
    CHECK(values(x.grad()) == std::vector<double>{0, 0});
    Tensor c = Tensor({1.0});
    CHECK(contains(error_of<ad::GraphError>([&] { c.register_hook([](const Tensor& g) { return g; }); }), "require"));
}

TEST_CASE("a tensor hook that changes the gradient's shape or dtype is a GraphError naming the tensor and both shapes") {
    Tensor x = Tensor({1, 2}).requires_grad_();
    x.set_label("w");
    x.register_hook([](const Tensor&) { return Tensor({1.0, 2.0, 3.0}); });
    const std::string leaf = error_of<ad::GraphError>([&] { ad::sum(x * 2.0).backward(); });
    CHECK(contains(leaf, "hook"));
    CHECK(contains(leaf, "'w'"));
    CHECK(contains(leaf, "[3]"));
    CHECK(contains(leaf, "[2]"));
    CHECK_FALSE(x.grad().defined());  // nothing of the wrong shape was accumulated

    Tensor y = Tensor({1, 2, 3}).requires_grad_();
    Tensor mid = y * 3.0;
    mid.set_label("mid");
    mid.register_hook([](const Tensor& g) { return ad::sum(g); });  // [3] → []
    const std::string interior = error_of<ad::GraphError>([&] { ad::sum(mid * mid).backward(); });
    CHECK(contains(interior, "'mid'"));
    CHECK(contains(interior, "'mul_scalar'"));
    CHECK(contains(interior, "shape []"));
    CHECK(contains(interior, "shape [3]"));
    CHECK_FALSE(y.grad().defined());

    // same shape, other dtype
    Tensor z = Tensor({1.0, 2.0}, ad::f32).requires_grad_();
    z.register_hook([](const Tensor& g) { return g.to(ad::f64); });
    const std::string dt = error_of<ad::GraphError>([&] { ad::sum(z).backward(); });
    CHECK(contains(dt, "float64"));
    CHECK(contains(dt, "float32"));
    CHECK(contains(dt, "a leaf tensor of shape [2]"));
    // a broadcastable but different shape is still wrong (e.g. [1] for [2])
    Tensor u = Tensor({1.0, 2.0}).requires_grad_();
    Tensor um = u * 1.0;
    um.register_hook([](const Tensor&) { return Tensor({5.0}); });
    CHECK(contains(error_of<ad::GraphError>([&] { ad::sum(um).backward(); }), "[1]"));
}

TEST_CASE("anomaly mode names the op that produced a non-finite gradient") {
    Tensor x = Tensor({0.0, 1.0}).requires_grad_();
    {
        ad::AnomalyMode on;
        const std::string msg = error_of<ad::AnomalyError>([&] { ad::sum(ad::sqrt(x)).backward(); });
        CHECK(contains(msg, "'sqrt'"));
        const std::string msg2 = error_of<ad::AnomalyError>([&] { ad::sum(ad::log(x) * 2.0).backward(); });
        CHECK(contains(msg2, "'log'"));
        // square is its own op (it used to be recorded, and named, as 'pow_scalar')
        const Tensor big = Tensor({1.0, std::numeric_limits<double>::infinity()}).requires_grad_();
        const std::string msg3 = error_of<ad::AnomalyError>([&] { ad::sum(ad::square(big)).backward(); });
        CHECK(contains(msg3, "'square'"));
        CHECK_FALSE(contains(msg3, "pow"));
    }
    CHECK_FALSE(ad::anomaly_mode());
    x.zero_grad();
    ad::sum(ad::sqrt(x)).backward();  // off: IEEE inf, no exception
    CHECK(std::isinf(x.grad().at({0})));
}

// ---- the tape ----------------------------------------------------------------------------------------

TEST_CASE("a chain of 10^6 tensor ops backpropagates (a loop, no recursion)") {
    Tensor x = Tensor::scalar(0.5, ad::f64).requires_grad_();
    {
        Tensor y = x;
        for (int i = 0; i < 1000000; ++i) y = y + 1e-6;
        CHECK(ad::detail::tape().size >= 1000000u);
        y.backward();
        CHECK(y.item() == doctest::Approx(1.5));
    }
    CHECK(x.grad().item() == 1.0);
    CHECK(ad::detail::tape().size == 0);
}

TEST_CASE("one tape entry per op, also on non-contiguous inputs") {
    Tensor x = Tensor::ones({2, 3}, ad::f64).requires_grad_();
    {
        const Tensor v = x.t();  // entries: leaf x, transpose
        const auto before = ad::detail::tape().size;
        const Tensor y = ad::exp(v);
        CHECK(ad::detail::tape().size == before + 1);
        const Tensor z = v.to(ad::f32);
        CHECK(ad::detail::tape().size == before + 2);
        (void)v.to_vector();  // reading data records nothing
        (void)fmt::format("{}", v);
        CHECK(ad::detail::tape().size == before + 2);
    }
    CHECK(ad::detail::tape().size == 0);
}

TEST_CASE("the tape rewinds when a loop of tensor computations ends") {
    Tensor W = Tensor::randn({4, 3}, ad::f64, 1).requires_grad_();
    const Tensor X = Tensor::randn({5, 3}, ad::f64, 2);
    for (int step = 0; step < 20; ++step) {
        const Tensor h = ad::relu(ad::matmul(X, W.t()));
        const Tensor loss = ad::mean(ad::log_softmax(h, -1) * -1.0);
        loss.backward();
        CHECK(ad::detail::tape().size > 0);
        CHECK(ad::detail::tape().live > 0);
    }
    CHECK(ad::detail::tape().size == 0);
    CHECK(ad::detail::tape().live == 0);
    CHECK(W.grad().shape() == Shape{4, 3});
}

// Checks c = x·y (2-d, float) against sums in double, entry by entry.
static void check_product(const Tensor& c_in, const Tensor& x_in, const Tensor& y_in) {
    const Tensor c = c_in.contiguous(), x = x_in.contiguous(), y = y_in.contiguous();
    const std::int64_t rows = x.shape()[0], inner = x.shape()[1], cols = y.shape()[1];
    REQUIRE(c.shape() == Shape{rows, cols});
    const float *cp = c.data<float>(), *xp = x.data<float>(), *yp = y.data<float>();
    int bad = 0;
    for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j) {
            double s = 0, mag = 0;
            for (std::int64_t q = 0; q < inner; ++q) {
                const double t = static_cast<double>(xp[i * inner + q]) * yp[q * cols + j];
                s += t;
                mag += std::fabs(t);
            }
            if (!(std::fabs(cp[i * cols + j] - s) <= 1e-5 * mag + 1e-6)) ++bad;
        }
    CHECK(bad == 0);
}

// A product cut into blocks over the engine's threads (ops/linalg.cpp) writes each block of a fresh,
// recycled buffer: whatever the buffer held before must not leak into the result. Checked for
// matmul's forward, the 3-d batched path, and linear's backward (∂W = Gᵀx), against sums in
// double, after filling same-sized buffers with NaN.
TEST_CASE("threaded products into recycled buffers ignore what the buffers held") {
    const ad::test::BlasThreads threads(2);
    const std::int64_t m = 96, k = 300, n = 256;  // 7.4M multiply-adds: above the single-thread bound
    const Tensor a = Tensor::randn(Shape{m, k}, ad::f32, 11), b = Tensor::randn(Shape{k, n}, ad::f32, 12);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    { Tensor junk = Tensor::full(Shape{m, n}, nan, ad::f32); }
    check_product(ad::matmul(a, b), a, b);

    { Tensor junk = Tensor::full(Shape{2, m, n}, nan, ad::f32); }
    const Tensor c3 = ad::matmul(ad::stack({a, a * 0.5}), b);
    check_product(ad::squeeze(ad::narrow(c3, 0, 0, 1), 0), a, b);
    check_product(ad::squeeze(ad::narrow(c3, 0, 1, 1), 0), a * 0.5, b);

    const Tensor W = Tensor::randn(Shape{n, k}, ad::f32, 13).requires_grad_();
    { Tensor junk = Tensor::full(Shape{n, k}, nan, ad::f32); }
    const Tensor G = ad::narrow(b, 0, 0, m);  // [m, n]
    ad::sum(ad::linear(a, W, Tensor()) * G).backward();  // ∂W = Gᵀ a
    check_product(W.grad(), ad::transpose(G, 0, 1), a);
}

// With OpenBLAS's AVX-512 kernel sets, A·Bᵀ of up to 10^6 multiply-adds whose C has more than 1200
// entries or whose k is below 32 is multiplied as A·(a copy of Bᵀ) (ops/linalg.cpp,
// transpose_b_first); with other kernel sets directly. Either way the products must be right:
// linear's forward (x·Wᵀ, with and without bias), matmul with a transposed view, and a B whose rows
// are strided (a column slice), in float against sums in double and in double against gradcheck.
TEST_CASE("A·Bᵀ products, through a copy of Bᵀ or not, agree with sums in double") {
    const Tensor x = Tensor::randn(Shape{64, 64}, ad::f32, 21), W = Tensor::randn(Shape{128, 64}, ad::f32, 22);
    const Tensor b = Tensor::randn(Shape{128}, ad::f32, 23);
    check_product(ad::linear(x, W, Tensor()), x, ad::transpose(W, 0, 1));  // 64·128 entries, k = 64
    check_product(ad::linear(x, W, b) - b, x, ad::transpose(W, 0, 1));     // the bias path (beta = 1)
    const Tensor small_k = Tensor::randn(Shape{5, 7}, ad::f32, 24), Bk = Tensor::randn(Shape{3, 7}, ad::f32, 25);
    check_product(ad::matmul(small_k, ad::transpose(Bk, 0, 1)), small_k, ad::transpose(Bk, 0, 1));  // k = 7 < 32
    const Tensor wide = Tensor::randn(Shape{40, 100}, ad::f32, 26);
    const Tensor strided = ad::narrow(wide, 1, 10, 64);  // [40, 64], rows 100 apart
    check_product(ad::matmul(x, ad::transpose(strided, 0, 1)), x, ad::transpose(strided, 0, 1));
    const Tensor xd = Tensor::randn(Shape{6, 5}, ad::f64, 27).requires_grad_();
    const Tensor Wd = Tensor::randn(Shape{4, 5}, ad::f64, 28).requires_grad_();
    const Tensor bd = Tensor::randn(Shape{4}, ad::f64, 29).requires_grad_();
    CHECK(ad::gradcheck([](const std::vector<Tensor>& in) { return ad::linear(in[0], in[1], in[2]); }, {xd, Wd, bd}));
}
