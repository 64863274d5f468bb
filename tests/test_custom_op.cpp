// Custom ops (custom_op.hpp): user-defined forward/backward pairs, validated by gradcheck.
#include <autodiff/autodiff.hpp>
#include <autodiff/custom_op.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

using ad::CustomContext;
using ad::Tensor;
using ad::Value;
using Tensors = std::vector<Tensor>;
using Vec = std::vector<double>;

namespace {

Tensor my_square(const Tensor& x) {
    return ad::custom_op(
        "my_square", {x}, [](const Tensors& in) { return in[0] * in[0]; },
        [](CustomContext& ctx, const Tensor& g) -> Tensors { return {g * 2.0 * ctx.input(0)}; });
}

Tensor wrong_square(const Tensor& x) {  // backward off by a factor 1.5
    return ad::custom_op(
        "wrong_square", {x}, [](const Tensors& in) { return in[0] * in[0]; },
        [](CustomContext& ctx, const Tensor& g) -> Tensors { return {g * 3.0 * ctx.input(0)}; });
}

// a ⊙ b + c with c broadcast along rows: the backward reduces c's gradient itself.
Tensor mul_add(const Tensor& a, const Tensor& b, const Tensor& c) {
    return ad::custom_op(
        "mul_add", {a, b, c}, [](const Tensors& in) { return in[0] * in[1] + in[2]; },
        [](CustomContext& ctx, const Tensor& g) -> Tensors {
            return {g * ctx.input(1), g * ctx.input(0), ad::sum(g, 0)};
        });
}

// exp whose backward uses the op's output (differentiable: second derivatives come for free).
Tensor my_exp(const Tensor& x) {
    return ad::custom_op(
        "my_exp", {x}, [](const Tensors& in) { return ad::exp(in[0]); },
        [](CustomContext& ctx, const Tensor& g) -> Tensors { return {g * ctx.output()}; });
}

// softplus whose forward saves σ(x) for backward (a constant for second derivatives).
Tensor my_softplus(const Tensor& x) {
    return ad::custom_op(
        "my_softplus", {x},
        [](CustomContext& ctx, const Tensors& in) {
            ctx.save_for_backward(ad::sigmoid(in[0]));
            return ad::softplus(in[0]);
        },
        [](CustomContext& ctx, const Tensor& g) -> Tensors {
            CHECK(ctx.num_saved() == 1);
            return {g * ctx.saved(0)};
        });
}

Value scalar_softclip(const Value& x) {  // tanh with a hand-written backward
    return ad::custom_op(
        "softclip", {x}, [](const Vec& v) { return std::tanh(v[0]); },
        [](const std::vector<Value>&, const Value& y, const Value& g) { return std::vector<Value>{g * (1.0 - y * y)}; });
}

Value scalar_hypot(const Value& x, const Value& y, double wrong = 1.0) {
    return ad::custom_op(
        "my_hypot", {x, y}, [](const Vec& v) { return std::hypot(v[0], v[1]); },
        [wrong](const std::vector<Value>& in, const Value& h, const Value& g) {
            return std::vector<Value>{g * in[0] / h * wrong, g * in[1] / h};
        });
}

const Tensor kX = Tensor({{0.5, -1.2, 2.0}, {1.1, 0.3, -0.7}});

}  // namespace

TEST_CASE("custom op: a correct custom op computes the right value and passes gradcheck") {
    Tensor x = kX.clone().requires_grad_();
    Tensor y = my_square(x);
    CHECK(y.requires_grad());
    CHECK(y.to_vector() == (kX * kX).to_vector());
    ad::sum(y).backward();
    CHECK(x.grad().to_vector() == (kX * 2.0).to_vector());

    const auto r = ad::gradcheck([](const Tensors& in) { return my_square(in[0]); }, {kX});
    INFO(r.message);
    CHECK(r.ok);
    // Its backward is written in tensor ops of ctx.input(): second derivatives are right too.
    const auto rr = ad::gradgradcheck([](const Tensors& in) { return my_square(in[0]) * in[0]; }, {kX});
    INFO(rr.message);
    CHECK(rr.ok);
}

TEST_CASE("custom op: gradcheck catches a wrong backward") {
    const auto r = ad::gradcheck([](const Tensors& in) { return wrong_square(in[0]); }, {kX});
    CHECK_FALSE(r.ok);
    CHECK(r.message.find("FAILED") != std::string::npos);
    CHECK(std::fabs(r.analytic / r.numeric - 1.5) < 1e-6);

    const auto s = ad::gradcheck([](const std::vector<Value>& v) { return scalar_hypot(v[0], v[1], 1.01); }, {0.3, -1.2});
    CHECK_FALSE(s.ok);
}

TEST_CASE("custom op: several inputs, broadcasting handled by the backward") {
    const Tensor a = Tensor::randn({2, 3}, ad::f64, 5), b = Tensor::randn({2, 3}, ad::f64, 6);
    const Tensor c({0.1, 0.2, 0.3});
    const auto r = ad::gradcheck([](const Tensors& in) { return mul_add(in[0], in[1], in[2]); }, {a, b, c});
    INFO(r.message);
    CHECK(r.ok);
    CHECK(r.checked == 15u);
    CHECK(mul_add(a, b, c).to_vector() == (a * b + c).to_vector());
}

TEST_CASE("custom op: ctx.output() and ctx.save_for_backward") {
    const auto r1 = ad::gradcheck([](const Tensors& in) { return my_exp(in[0]); }, {kX});
    CHECK(r1.ok);
    const auto r2 = ad::gradgradcheck([](const Tensors& in) { return my_exp(in[0]); }, {kX});
    INFO(r2.message);
    CHECK(r2.ok);
    const auto r3 = ad::gradcheck([](const Tensors& in) { return my_softplus(in[0]); }, {kX});
    INFO(r3.message);
    CHECK(r3.ok);
    // σ saved in forward is a constant of the graph, so the second derivative is (documented) 0.
    Tensor x = kX.clone().requires_grad_();
    Tensor g = ad::gradients(ad::sum(my_softplus(x)), {x}, {}, {.create_graph = true})[0];
    CHECK_FALSE(g.requires_grad());
}

TEST_CASE("custom op: inputs without grad, float32, NoGrad and graph release") {
    Tensor x = kX.to(ad::f32).requires_grad_();
    const Tensor w = Tensor({1.0, 2.0, 3.0}).to(ad::f32);  // does not require grad
    bool asked_w = true;
    {
        Tensor y = ad::custom_op(
            "scale", {x, w}, [](const Tensors& in) { return in[0] * in[1]; },
            [&asked_w](CustomContext& ctx, const Tensor& g) -> Tensors {
                asked_w = ctx.needs_input_grad(1);
                return {g * ctx.input(1), Tensor()};
            });
        ad::sum(y).backward();
        CHECK(ad::detail::tape().size > 0);
    }
    CHECK(ad::detail::tape().size == 0);  // every handle to the graph died: released
    CHECK_FALSE(asked_w);
    CHECK(x.grad().dtype() == ad::f32);
    CHECK(x.grad().to_vector() == Vec{1, 2, 3, 1, 2, 3});
    {
        ad::NoGrad ng;
        Tensor z = my_square(x);
        CHECK_FALSE(z.requires_grad());
    }
}

TEST_CASE("custom op: the op is one named entry on the tape") {
    Tensor x = kX.clone().requires_grad_();
    const std::string name = std::string("my_") + "op";  // a temporary name: interned by custom_op
    Tensor y = ad::custom_op(
        name, {x}, [](const Tensors& in) { return in[0] * 1.0; },
        [](CustomContext&, const Tensor& g) -> Tensors { return {g}; });
    auto& t = ad::detail::tape();
    const std::uint32_t e = y.node(t);
    REQUIRE(t.op[e] == ad::detail::Op::Tensor);
    CHECK(std::string(t.tensor_nodes[t.arg_a[e]]->name) == "my_op");
    CHECK(t.tensor_nodes[t.arg_a[e]]->inputs.size() == 1u);
}

TEST_CASE("custom op: misuse is reported with the op's name") {
    Tensor x = kX.clone().requires_grad_();
    Tensor few = ad::custom_op(
        "too_few", {x, x}, [](const Tensors& in) { return in[0] + in[1]; },
        [](CustomContext&, const Tensor& g) -> Tensors { return {g}; });
    try {
        ad::sum(few).backward();
        FAIL("expected GraphError");
    } catch (const ad::GraphError& e) {
        CHECK(std::string(e.what()).find("too_few") != std::string::npos);
        CHECK(std::string(e.what()).find("1 gradients for 2 inputs") != std::string::npos);
    }
    Tensor bad = ad::custom_op(
        "bad_shape", {x}, [](const Tensors& in) { return in[0] * 2.0; },
        [](CustomContext&, const Tensor& g) -> Tensors { return {ad::sum(g, 0)}; });
    CHECK_THROWS_AS(ad::sum(bad).backward(), ad::ShapeError);
    Tensor oob = ad::custom_op(
        "out_of_range", {x}, [](const Tensors& in) { return in[0] * 2.0; },
        [](CustomContext& ctx, const Tensor& g) -> Tensors { return {g * ctx.input(1)}; });
    CHECK_THROWS_AS(ad::sum(oob).backward(), ad::ValueError);
    CHECK_THROWS_AS(ad::custom_op("undefined", {x}, [](const Tensors&) { return Tensor(); },
                                  [](CustomContext&, const Tensor& g) -> Tensors { return {g}; }),
                    ad::ValueError);
    // An input modified in place after the op: backward refuses instead of using the new data.
    Tensor v = kX.clone();
    Tensor vx = v * x;
    Tensor z2 = my_square(vx);
    {
        ad::NoGrad ng;
        vx.mul_(2.0);
    }
    CHECK_THROWS_AS(ad::sum(z2).backward(), ad::GraphError);
}

TEST_CASE("custom op: scalar custom ops on Values") {
    Value x = 0.7;
    Value y = scalar_softclip(x);
    CHECK(y.value() == doctest::Approx(std::tanh(0.7)));
    y.backward();
    CHECK(x.grad() == doctest::Approx(1 - std::tanh(0.7) * std::tanh(0.7)));

    CHECK(ad::gradcheck([](const std::vector<Value>& v) { return scalar_softclip(v[0]) * v[0]; }, {0.4}).ok);
    CHECK(ad::gradgradcheck([](const std::vector<Value>& v) { return scalar_softclip(v[0]) * v[0]; }, {0.4}).ok);
    const auto r = ad::gradcheck([](const std::vector<Value>& v) { return scalar_hypot(v[0], v[1]) * v[0]; }, {0.3, -1.2});
    INFO(r.message);
    CHECK(r.ok);
    CHECK(ad::gradgradcheck([](const std::vector<Value>& v) { return scalar_hypot(v[0], v[1]); }, {0.3, -1.2}).ok);
    // Constant inputs: just a number.
    CHECK(scalar_softclip(Value::constant(0.5)).is_constant());
}
