// The misuse catalogue: every mistake we could think of throws its documented exception type
// (autodiff/error.hpp) with a message that names the operation and the offending shape or value,
// and the engine keeps working afterwards (a fresh computation gives the right gradients and the
// tape returns to empty). One TEST_CASE per family of mistakes; each ends with check_healthy().
#include <autodiff/autodiff.hpp>
#include <doctest/doctest.h>
#include <nn/checkpoint.hpp>
#include <nn/data.hpp>
#include <nn/linear.hpp>
#include <nn/loss.hpp>
#include <nn/optim.hpp>
#include <nn/sequential.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

using ad::Tensor;
using ad::Value;
namespace nn = ad::nn;

namespace {

// Runs f and checks that it throws exactly E (not another ad::Error) and that the message
// contains every substring in `parts`. Returns the message for further checks.
template <class E, class F>
std::string expect_error(F&& f, std::initializer_list<const char*> parts, const std::string& what) {
    std::string msg;
    bool thrown = false;
    try {
        f();
    } catch (const E& e) {
        thrown = true;
        msg = e.what();
    } catch (const std::exception& e) {
        FAIL_CHECK(what << ": threw the wrong exception type; message: " << e.what());
        return {};
    }
    if (!thrown) {
        FAIL_CHECK(what << ": did not throw");
        return {};
    }
    for (const char* p : parts) {
        INFO(what << ": message was: " << msg);
        CHECK_MESSAGE(msg.find(p) != std::string::npos, "missing '" << std::string(p) << "'");
    }
    return msg;
}
#define EXPECT_ERROR(Type, expr, ...) expect_error<Type>([&] { (void)(expr); }, {__VA_ARGS__}, #expr)

// A fresh scalar and tensor computation after an error: right gradients, and the tape rewinds to
// empty once its handles die (an error must not leave the tape half-recorded or live-counted).
void check_healthy() {
    auto& t = ad::detail::tape();
    CHECK_MESSAGE(t.recording_off == 0, "NoGrad depth leaked by an error");
    CHECK_FALSE(ad::anomaly_mode());
    {
        Value x = 1.5, y = -0.5;
        Value f = x * y + sin(x);
        f.backward();
        CHECK(x.grad() == doctest::Approx(-0.5 + std::cos(1.5)));
        CHECK(y.grad() == doctest::Approx(1.5));
    }
    CHECK(t.live == 0);
    CHECK(t.size == 0);
    {
        Tensor W = Tensor({{1.0, 2.0}, {3.0, 4.0}}).requires_grad_();
        const Tensor v({1.0, -1.0});
        Tensor loss = sum(square(matmul(W, v)));  // W v = [−1, −1]; ∂/∂W = 2 (W v) vᵀ
        loss.backward();
        CHECK(loss.item() == 2.0);
        CHECK(W.grad().to_vector() == std::vector<double>{-2.0, 2.0, -2.0, 2.0});
    }
    CHECK(t.live == 0);
    CHECK(t.size == 0);
}

Tensor leaf(std::initializer_list<double> v) { return Tensor(v).requires_grad_(); }

}  // namespace

TEST_CASE("backward twice through a released graph") {
    SUBCASE("scalar") {
        Value x = 2.0;
        Value f = x * x + sin(x);
        f.backward();
        const double g = x.grad();
        EXPECT_ERROR(ad::GraphError, f.backward(), "backward", "second time", "retain_graph");
        CHECK(x.grad() == g);  // the failed call accumulated nothing
    }
    SUBCASE("an ad::Real statement (the sweep's statement path)") {
        ad::Real x = 2.0, y = 0.5;
        ad::Real f = sin(x) * y + x * x;
        ad::Real h = f * f;
        h.backward();
        const double g = x.grad();
        CHECK(g == doctest::Approx(2.0 * f.value() * (std::cos(2.0) * 0.5 + 4.0)));
        EXPECT_ERROR(ad::GraphError, h.backward(), "backward", "second time", "retain_graph");
        CHECK(x.grad() == g);
    }
    SUBCASE("tensor") {
        Tensor x = leaf({1.0, 2.0, 3.0});
        Tensor f = sum(exp(x));
        f.backward();
        const auto g = x.grad().to_vector();
        EXPECT_ERROR(ad::GraphError, f.backward(), "backward", "'sum'", "second time", "retain_graph");
        CHECK(x.grad().to_vector() == g);
    }
    SUBCASE("retain_graph makes the second call legal") {
        Tensor x = leaf({1.0, 2.0});
        Tensor f = sum(x * x);
        f.backward({.retain_graph = true});
        f.backward();
        CHECK(x.grad().to_vector() == std::vector<double>{4.0, 8.0});
    }
    check_healthy();
}

TEST_CASE("tensor backward seeds") {
    Tensor x = leaf({1.0, 2.0, 3.0});
    SUBCASE("non-scalar output without a seed") {
        EXPECT_ERROR(ad::GraphError, (x * 2.0).backward(), "backward", "[3]", "3 elements", "seed");
        EXPECT_ERROR(ad::GraphError, ad::gradients(x * 2.0, {x}), "gradients", "[3]", "seed");
    }
    SUBCASE("seed of the wrong shape") {
        EXPECT_ERROR(ad::ShapeError, (x * 2.0).backward(Tensor({1.0, 1.0})), "backward", "[2]", "[3]");
        EXPECT_ERROR(ad::ShapeError, (x * 2.0).backward(Tensor::ones({3, 1}, ad::f64)), "[3, 1]", "[3]");
    }
    SUBCASE("the right seed still works after the errors") {
        (x * 2.0).backward(Tensor({1.0, 0.0, -1.0}));
        CHECK(x.grad().to_vector() == std::vector<double>{2.0, 0.0, -2.0});
    }
    check_healthy();
}

TEST_CASE("handles used after their graph was released by a GraphScope") {
    SUBCASE("Value") {
        Value x = 3.0;
        Value y;
        {
            ad::GraphScope scope;
            y = x * x;
        }
        CHECK(y.value() == 9.0);  // the number stays readable
        EXPECT_ERROR(ad::GraphError, y.backward(), "Value", "released", "GraphScope");
        EXPECT_ERROR(ad::GraphError, y + 1.0, "Value", "released");
        EXPECT_ERROR(ad::GraphError, y * x, "released");
        EXPECT_ERROR(ad::GraphError, ad::gradients(y, {x}), "released");
        Value copy = y;  // copying and destroying stale handles is harmless
        CHECK(copy.value() == 9.0);
        CHECK(x.grad() == 0.0);
    }
    SUBCASE("Tensor") {
        Tensor x = leaf({1.0, 2.0});
        Tensor y;
        {
            ad::GraphScope scope;
            y = x * 3.0;
        }
        CHECK(y.to_vector() == std::vector<double>{3.0, 6.0});
        EXPECT_ERROR(ad::GraphError, sum(y).backward(), "Tensor", "released", "GraphScope");
        EXPECT_ERROR(ad::GraphError, y.backward(Tensor({1.0, 1.0})), "Tensor", "released");
        EXPECT_ERROR(ad::GraphError, exp(y), "released");
        EXPECT_ERROR(ad::GraphError, y + x, "released");
        EXPECT_ERROR(ad::GraphError, ad::cat({x, y}), "released");
        CHECK_FALSE(x.grad().defined());
    }
    SUBCASE("a graph saved by a backward closure") {
        Tensor x = leaf({1.0, 2.0});
        Tensor f;
        {
            ad::GraphScope scope;
            f = sum(exp(x));
        }
        EXPECT_ERROR(ad::GraphError, f.backward(), "released");
    }
    check_healthy();
}

TEST_CASE("gradients and requires_grad of non-leaves") {
    SUBCASE("Value") {
        Value x = 2.0;
        Value y = x * x;
        EXPECT_ERROR(ad::GraphError, y.grad(), "grad", "only leaves", "ad::gradients");
        EXPECT_ERROR(ad::GraphError, Value::constant(1.0).grad(), "grad", "only leaves");
        EXPECT_ERROR(ad::GraphError, y.set_requires_grad(false), "set_requires_grad", "leaves");
        EXPECT_ERROR(ad::GraphError, y.set_value(1.0), "set_value", "leaves");
        EXPECT_ERROR(ad::GraphError, y.zero_grad(), "zero_grad", "leaves");
        // the recommended alternative works
        CHECK(ad::gradients(y * 3.0, {y})[0].value() == 3.0);
    }
    SUBCASE("Tensor") {
        Tensor x = leaf({1.0, 2.0});
        Tensor y = x * 2.0;
        EXPECT_ERROR(ad::GraphError, y.grad(), "grad", "only leaf tensors");
        EXPECT_ERROR(ad::GraphError, y.requires_grad_(false), "requires_grad_", "only leaf tensors", "detach()");
        CHECK(y.requires_grad());  // unchanged
        Tensor d = y.detach();
        d.requires_grad_();  // a detached copy is a leaf
        CHECK(d.is_leaf());
    }
    check_healthy();
}

TEST_CASE("backward of something that does not require grad") {
    SUBCASE("a constant Value") {
        EXPECT_ERROR(ad::GraphError, Value::constant(2.5).backward(), "backward", "does not require grad", "2.5");
    }
    SUBCASE("a Value computed under NoGrad") {
        Value x = 2.0;
        Value y;
        {
            ad::NoGrad ng;
            y = x * x;
        }
        EXPECT_ERROR(ad::GraphError, y.backward(), "backward", "does not require grad", "NoGrad");
    }
    SUBCASE("a leaf with requires_grad off") {
        Value x = 2.0;
        x.set_requires_grad(false);
        EXPECT_ERROR(ad::GraphError, x.backward(), "backward", "does not require grad");
        EXPECT_ERROR(ad::GraphError, (x * 3.0).backward(), "does not require grad");
    }
    SUBCASE("a tensor that does not require grad") {
        const Tensor a({1.0, 2.0});
        EXPECT_ERROR(ad::GraphError, sum(a * a).backward(), "backward", "does not require grad", "shape []");
        EXPECT_ERROR(ad::GraphError, a.backward(Tensor({1.0, 1.0})), "backward", "shape [2]");
        Tensor x = leaf({1.0});
        Tensor y;
        {
            ad::NoGrad ng;
            y = x * 2.0;
        }
        EXPECT_ERROR(ad::GraphError, y.backward(), "does not require grad", "NoGrad");
    }
    check_healthy();
}

TEST_CASE("in-place modification of a tensor saved for backward (version counter)") {
    Tensor x = leaf({1.0, 2.0, 3.0});
    SUBCASE("a constant operand modified in place") {
        Tensor a({4.0, 5.0, 6.0});
        Tensor f = sum(x * a);  // mul saved a
        a.add_(Tensor({1.0, 1.0, 1.0}));
        EXPECT_ERROR(ad::GraphError, f.backward(), "backward of 'mul'", "[3]", "modified in place", "version 0 -> 1",
                     "clone()");
        CHECK_FALSE(x.grad().defined());
    }
    SUBCASE("an interior result modified in place") {
        Tensor y = exp(x);  // exp saved its output
        y.mul_(2.0);
        EXPECT_ERROR(ad::GraphError, sum(y).backward(), "backward of 'exp'", "modified in place");
    }
    SUBCASE("a view of the saved tensor modified in place") {
        Tensor a({4.0, 5.0, 6.0});
        Tensor f = sum(x * a);
        ad::narrow(a, 0, 1, 1).fill_(0.0);  // shares a's storage
        EXPECT_ERROR(ad::GraphError, f.backward(), "'mul'", "modified in place");
    }
    SUBCASE("set() counts as an in-place modification") {
        Tensor a({4.0, 5.0, 6.0});
        Tensor f = sum(a * x);
        a.set({0}, 1.0);
        EXPECT_ERROR(ad::GraphError, f.backward(), "modified in place");
    }
    SUBCASE("modifying before recording is fine") {
        Tensor a({4.0, 5.0, 6.0});
        a.add_(Tensor({1.0, 1.0, 1.0}));
        sum(x * a).backward();
        CHECK(x.grad().to_vector() == std::vector<double>{5.0, 6.0, 7.0});
    }
    check_healthy();
}

TEST_CASE("in-place ops on a leaf that requires grad while recording") {
    Tensor w = leaf({1.0, 2.0});
    const Tensor g({0.5, 0.5});
    EXPECT_ERROR(ad::GraphError, w.add_(g), "add_", "in-place", "leaf", "ad::NoGrad");
    EXPECT_ERROR(ad::GraphError, w.mul_(2.0), "mul_", "leaf");
    EXPECT_ERROR(ad::GraphError, w.zero_(), "fill_", "leaf");
    EXPECT_ERROR(ad::GraphError, w.fill_(1.0), "fill_", "leaf");
    EXPECT_ERROR(ad::GraphError, w.copy_(g), "copy_", "leaf");
    CHECK(w.to_vector() == std::vector<double>{1.0, 2.0});  // untouched
    CHECK(w.version() == 0);
    {
        ad::NoGrad ng;  // what optimizers do
        w.add_(g, -2.0);
    }
    CHECK(w.to_vector() == std::vector<double>{0.0, 1.0});
    check_healthy();
}

TEST_CASE("shape mismatches in every op family") {
    const Tensor a = Tensor::ones({2, 3}, ad::f64);
    const Tensor b = Tensor::ones({4}, ad::f64);
    Tensor x = Tensor::ones({2, 3}, ad::f64).requires_grad_();
    SUBCASE("elementwise broadcasting") {
        EXPECT_ERROR(ad::ShapeError, a + b, "add", "[2, 3]", "[4]", "cannot be broadcast");
        EXPECT_ERROR(ad::ShapeError, x - b, "sub", "[2, 3]", "[4]");
        EXPECT_ERROR(ad::ShapeError, x * b, "mul", "[4]");
        EXPECT_ERROR(ad::ShapeError, x / b, "div", "[4]");
        EXPECT_ERROR(ad::ShapeError, ad::pow(x, b), "[2, 3]", "[4]");
        EXPECT_ERROR(ad::ShapeError, ad::maximum(x, b), "[2, 3]", "[4]");
        EXPECT_ERROR(ad::ShapeError, ad::where(ad::gt(a, a), x, b), "[2, 3]", "[4]");
        EXPECT_ERROR(ad::ShapeError, ad::lt(a, b), "[2, 3]", "[4]");
        EXPECT_ERROR(ad::ShapeError, Tensor::zeros({2, 3}, ad::f64).copy_(b), "copy_", "[4]", "[2, 3]");
        EXPECT_ERROR(ad::ShapeError, Tensor::zeros({3}, ad::f64).copy_(a), "copy_", "[2, 3]", "[3]");
    }
    SUBCASE("matmul, outer, linear") {
        EXPECT_ERROR(ad::ShapeError, ad::matmul(x, Tensor::ones({4, 5}, ad::f64)), "matmul", "[2, 3]", "[4, 5]",
                     "inner dimensions 3 vs 4");
        EXPECT_ERROR(ad::ShapeError, ad::matmul(b, Tensor::ones({3}, ad::f64)), "matmul", "[4]", "[3]");
        EXPECT_ERROR(ad::ShapeError, ad::matmul(x, Tensor::scalar(1.0, ad::f64)), "matmul", "at least 1 dimension");
        EXPECT_ERROR(ad::ShapeError, ad::matmul(Tensor::ones({5, 2, 3}, ad::f64), Tensor::ones({4, 3, 2}, ad::f64)),
                     "matmul", "[5]", "[4]");
        EXPECT_ERROR(ad::ShapeError, ad::outer(x, b), "outer", "1-d", "[2, 3]");
        const Tensor W = Tensor::ones({5, 4}, ad::f64);
        EXPECT_ERROR(ad::ShapeError, ad::linear(x, W, Tensor()), "linear", "input [2, 3]", "weight [5, 4]",
                     "[batch, 4]");
        EXPECT_ERROR(ad::ShapeError, ad::linear(Tensor::ones({2, 4}, ad::f64), W, Tensor::ones({4}, ad::f64)),
                     "linear", "bias of shape [4]", "expected [5]");
        EXPECT_ERROR(ad::ShapeError, ad::linear(b, W, Tensor()), "linear", "input [4]");
    }
    SUBCASE("reductions with bad axes") {
        EXPECT_ERROR(ad::ShapeError, ad::sum(x, 2), "sum", "axis 2", "[2, 3]");
        EXPECT_ERROR(ad::ShapeError, ad::mean(x, -3), "mean", "axis -3", "[2, 3]");
        EXPECT_ERROR(ad::ShapeError, ad::max(x, 5), "max", "axis 5");
        EXPECT_ERROR(ad::ShapeError, ad::var(x, ad::Axes(7)), "var", "axis 7");
        EXPECT_ERROR(ad::ShapeError, ad::logsumexp(x, 9), "logsumexp", "axis 9");
        EXPECT_ERROR(ad::ShapeError, ad::softmax(x, 2), "softmax", "axis 2");
        EXPECT_ERROR(ad::ShapeError, ad::log_softmax(x, -4), "log_softmax", "axis -4");
        EXPECT_ERROR(ad::ShapeError, ad::argmax(x, 3), "argmax", "axis 3");
        EXPECT_ERROR(ad::ShapeError, ad::sum(x, {0, 0}), "sum", "repeated");
        EXPECT_ERROR(ad::ShapeError, ad::sum(x, {1, -1}), "sum", "repeated");
        EXPECT_ERROR(ad::ShapeError, ad::max(Tensor::zeros({0, 3}, ad::f64)), "max", "empty", "[0, 3]");
        EXPECT_ERROR(ad::ShapeError, ad::argmax(Tensor::zeros({0}, ad::f64)), "argmax", "empty", "[0]");
    }
    SUBCASE("reshape and friends") {
        EXPECT_ERROR(ad::ShapeError, ad::reshape(x, {4}), "reshape", "[2, 3]", "6 elements", "[4]");
        EXPECT_ERROR(ad::ShapeError, ad::reshape(x, {-1, -1}), "reshape", "more than one -1");
        EXPECT_ERROR(ad::ShapeError, ad::reshape(x, {4, -1}), "reshape", "[2, 3]", "[4, -1]");
        EXPECT_ERROR(ad::ShapeError, x.view({7}), "reshape", "[7]");
        EXPECT_ERROR(ad::ShapeError, ad::flatten(x, 1, 0), "flatten", "start axis 1", "end axis 0");
        EXPECT_ERROR(ad::ShapeError, ad::squeeze(x, 2), "squeeze", "axis 2");
        EXPECT_ERROR(ad::ShapeError, ad::unsqueeze(x, 4), "unsqueeze", "axis 4", "[2, 3]");
        EXPECT_ERROR(ad::ShapeError, ad::transpose(x, 0, 2), "transpose", "axis 2");
        EXPECT_ERROR(ad::ShapeError, ad::permute(x, {0}), "permute", "1 axes", "[2, 3]");
        EXPECT_ERROR(ad::ShapeError, ad::permute(x, {1, 1}), "permute", "repeated");
        EXPECT_ERROR(ad::ShapeError, ad::expand(x, {2, 4}), "expand", "[2, 3]", "[2, 4]");
        EXPECT_ERROR(ad::ShapeError, ad::expand(x, {3}), "expand", "fewer dimensions");
        EXPECT_ERROR(ad::ShapeError, Tensor::zeros({2, -1}), "negative dimension", "[2, -1]");
        EXPECT_ERROR(ad::ShapeError, Tensor({{1.0, 2.0}, {3.0}}), "ragged");
        EXPECT_ERROR(ad::ShapeError, Tensor::from_data(std::vector<double>{1.0, 2.0, 3.0}, {2, 2}), "from_data",
                     "3 elements", "[2, 2]");
        EXPECT_ERROR(ad::ShapeError, Tensor::zeros({1, 1, 1, 1, 1, 1, 1, 1, 1}), "at most 8 dimensions");
    }
    SUBCASE("cat, stack, split") {
        EXPECT_ERROR(ad::ShapeError, ad::cat({x, Tensor::ones({2, 4}, ad::f64)}, 0), "cat", "[2, 3]", "[2, 4]",
                     "outside axis 0");
        EXPECT_ERROR(ad::ShapeError, ad::cat({x, b}, 0), "cat", "[4]");
        EXPECT_ERROR(ad::ShapeError, ad::cat({x, x}, 2), "cat", "axis 2");
        EXPECT_ERROR(ad::ShapeError, ad::cat({}, 0), "cat", "no tensors");
        EXPECT_ERROR(ad::ShapeError, ad::stack({x, Tensor::ones({3, 2}, ad::f64)}), "stack", "[2, 3]", "[3, 2]");
        EXPECT_ERROR(ad::ShapeError, ad::stack({}), "stack", "no tensors");
        EXPECT_ERROR(ad::ShapeError, ad::stack({x, x}, 3), "axis 3");
        EXPECT_ERROR(ad::ValueError, ad::split(x, 0, 1), "split", "chunk size", "0");
        EXPECT_ERROR(ad::ShapeError, ad::split(x, 1, 2), "split", "axis 2");
    }
    SUBCASE("index_select, gather, one_hot with bad indices") {
        EXPECT_ERROR(ad::ValueError, ad::index_select(x, 1, Tensor({0.0, 3.0})), "index_select", "index 3",
                     "size 3");
        EXPECT_ERROR(ad::ValueError, ad::index_select(x, 0, Tensor({-1.0})), "index_select", "index -1", "size 2");
        EXPECT_ERROR(ad::ValueError, ad::index_select(x, 0, Tensor({0.5})), "index_select", "0.5");
        EXPECT_ERROR(ad::ValueError, ad::index_select(x, 0, Tensor({std::nan("")})), "index_select", "nan");
        EXPECT_ERROR(ad::ShapeError, ad::index_select(x, 0, Tensor::zeros({1, 1}, ad::f64)), "index_select", "1-d", "[1, 1]");
        EXPECT_ERROR(ad::ShapeError, ad::index_select(x, 2, Tensor({0.0})), "index_select", "axis 2");
        EXPECT_ERROR(ad::ValueError, ad::gather(x, 1, Tensor::from_data(std::vector<double>{0.0, 3.0}, {2, 1})), "gather", "index 3", "size 3");
        EXPECT_ERROR(ad::ShapeError, ad::gather(x, 1, Tensor({0.0, 1.0})), "gather", "rank", "[2]", "[2, 3]");
        EXPECT_ERROR(ad::ShapeError, ad::gather(x, 1, Tensor::zeros({3, 1}, ad::f64)), "gather", "[3, 1]",
                     "exceeds", "[2, 3]");
        EXPECT_ERROR(ad::ValueError, ad::one_hot(Tensor({0.0, 4.0}), 4), "one_hot", "index 4", "size 4");
        EXPECT_ERROR(ad::ValueError, ad::one_hot(Tensor({-2.0}), 4), "one_hot", "index -2");
        EXPECT_ERROR(ad::ValueError, ad::one_hot(Tensor({0.0}), 0), "one_hot", "num_classes", "0");
    }
    SUBCASE("narrow and slice out of range") {
        EXPECT_ERROR(ad::ShapeError, ad::narrow(x, 1, 2, 2), "narrow", "[2, 4)", "dimension 1", "[2, 3]");
        EXPECT_ERROR(ad::ShapeError, ad::narrow(x, 0, -1, 1), "narrow", "[-1, 0)");
        EXPECT_ERROR(ad::ShapeError, ad::narrow(x, 0, 0, -1), "narrow");
        EXPECT_ERROR(ad::ShapeError, ad::narrow(x, 2, 0, 1), "narrow", "axis 2");
        EXPECT_ERROR(ad::ValueError, ad::slice(x, 1, 0, 2, 0), "slice", "step", "0");
        CHECK(ad::slice(x, 1, 5, 9).numel() == 0);  // Python semantics: out-of-range slices are empty
    }
    SUBCASE("dtype mismatch") {
        const Tensor f = Tensor::ones({2, 3}, ad::f32);
        EXPECT_ERROR(ad::ShapeError, f + x, "add", "float32", "float64", ".to()");
        EXPECT_ERROR(ad::ShapeError, x * f, "mul", "float64", "float32");
        EXPECT_ERROR(ad::ShapeError, ad::matmul(f, ad::transpose(x, 0, 1)), "matmul", "float32", "float64");
        EXPECT_ERROR(ad::ShapeError, ad::linear(f, Tensor::ones({4, 3}, ad::f64), Tensor()), "linear", "float32");
        EXPECT_ERROR(ad::ShapeError, ad::cat({x, f}), "cat", "float64", "float32");
        EXPECT_ERROR(ad::ShapeError, Tensor::zeros({2, 3}, ad::f64).add_(f), "add_", "float32");
        EXPECT_ERROR(ad::ShapeError, x.data<float>(), "data", "float64", "float32");
        CHECK((f.to(ad::f64) + x).dtype() == ad::f64);  // the suggested fix works
    }
    check_healthy();
}

TEST_CASE("element access") {
    const Tensor m({{1.0, 2.0}, {3.0, 4.0}});
    EXPECT_ERROR(ad::ShapeError, m.item(), "item", "[2, 2]", "4 elements");
    EXPECT_ERROR(ad::ShapeError, Tensor::zeros({0}).item(), "item", "[0]", "0 elements");
    EXPECT_ERROR(ad::ShapeError, m.at({2, 0}), "at", "index 2", "dimension 0", "[2, 2]");
    EXPECT_ERROR(ad::ShapeError, m.at({0, -3}), "at", "index -3", "dimension 1");
    EXPECT_ERROR(ad::ShapeError, m.at({0}), "at", "1 indices", "[2, 2]");
    Tensor s = m.clone();
    EXPECT_ERROR(ad::ShapeError, s.set({0, 2}, 1.0), "set", "index 2");
    CHECK(s.version() == 0);  // the failed set wrote nothing
    CHECK(m.at({1, -1}) == 4.0);  // negative indices count from the end
    EXPECT_ERROR(ad::ShapeError, m.size(2), "size", "axis 2");
    EXPECT_ERROR(ad::ValueError, Tensor::arange(0, 1, 0), "arange", "step=0");
    EXPECT_ERROR(ad::ValueError, Tensor::linspace(0, 1, -1), "linspace", "-1");
    EXPECT_ERROR(ad::ValueError, ad::clamp(m, 1.0, 0.0), "clamp", "1", "0");
    check_healthy();
}

TEST_CASE("undefined tensors") {
    const Tensor u;
    const Tensor x = leaf({1.0, 2.0});
    CHECK_FALSE(u.defined());
    EXPECT_ERROR(ad::GraphError, u.shape(), "undefined");
    EXPECT_ERROR(ad::GraphError, u.item(), "undefined");
    EXPECT_ERROR(ad::GraphError, u.to_vector(), "undefined");
    EXPECT_ERROR(ad::GraphError, u + x, "undefined");
    EXPECT_ERROR(ad::GraphError, x * u, "undefined");
    EXPECT_ERROR(ad::GraphError, exp(u), "undefined");
    EXPECT_ERROR(ad::GraphError, ad::sum(u), "undefined");
    EXPECT_ERROR(ad::GraphError, ad::matmul(u, x), "undefined");
    EXPECT_ERROR(ad::GraphError, u.backward(), "undefined");
    EXPECT_ERROR(ad::GraphError, x.grad().item(), "undefined", "never computed");  // grad before any backward
    check_healthy();
}

TEST_CASE("anomaly mode names the op that produced a NaN or inf") {
    SUBCASE("scalar NaN input") {
        Value x = -1.0;
        Value y = sqrt(x).set_label("root");  // NaN forward; its derivative is NaN too
        Value f = y * 2.0;
        {
            ad::AnomalyMode on;
            EXPECT_ERROR(ad::AnomalyError, f.backward({.retain_graph = true}), "anomaly", "'sqrt'", "label 'root'",
                         "non-finite", "nan");
        }
        CHECK_FALSE(ad::anomaly_mode());  // the guard restored it
        f.backward();  // without anomaly mode the NaN just propagates
        CHECK(std::isnan(x.grad()));
    }
    SUBCASE("scalar log at 0 (inf)") {
        Value x = 0.0;
        Value f = log(x) + x;
        ad::AnomalyMode on;
        EXPECT_ERROR(ad::AnomalyError, f.backward(), "'log'", "inf");
    }
    SUBCASE("tensor NaN input") {
        Tensor x = leaf({1.0, std::nan(""), 3.0});
        Tensor f = sum(ad::sin(x) * 3.0);
        ad::AnomalyMode on;
        EXPECT_ERROR(ad::AnomalyError, f.backward(), "anomaly", "'sin'", "non-finite");
        CHECK_FALSE(x.grad().defined());
    }
    SUBCASE("tensor log at 0 with a label") {
        Tensor x = leaf({1.0, 0.0});
        Tensor y = ad::log(x);
        y.set_label("logits");
        ad::AnomalyMode on;
        EXPECT_ERROR(ad::AnomalyError, sum(y).backward(), "'log'", "label 'logits'");
    }
    check_healthy();
}

TEST_CASE("errors inside a backward leave the tape usable") {
    // Errors half-way through a long sweep, with and without create_graph: the part of the graph
    // already visited was partly released, adjoints were half accumulated.
    auto failing_graph = [](const Tensor& x, Tensor& a) {
        Tensor h = x;
        for (int i = 0; i < 25; ++i) h = ad::tanh(h) + x;
        h = h * a;  // saves a
        for (int i = 0; i < 25; ++i) h = ad::tanh(h) + x;
        return sum(h);
    };
    for (bool create_graph : {false, true}) {
        CAPTURE(create_graph);
        Tensor x = leaf({1.0, 2.0});
        Tensor a({3.0, 4.0});
        Tensor f = failing_graph(x, a);
        a.mul_(2.0);
        EXPECT_ERROR(ad::GraphError, f.backward({.create_graph = create_graph}), "'mul'", "modified in place");
        CHECK(ad::detail::tape().recording_off == 0);
        CHECK_FALSE(x.grad().defined());
    }
    {
        Value v = 0.5;
        Value g = sin(v) * v;
        ad::AnomalyMode on;
        Value bad = g * log(v - 0.5) + g;  // log(0) = −inf: the mul's backward gives −inf
        EXPECT_ERROR(ad::AnomalyError, bad.backward({.create_graph = true}), "anomaly", "'mul'", "-inf");
    }
    check_healthy();
}

// ---- the nn library ---------------------------------------------------------------------------

TEST_CASE("optimizer misuse") {
    nn::Linear layer(3, 2, {.dtype = ad::f64, .seed = 1});
    SUBCASE("zero parameters") {
        EXPECT_ERROR(ad::ValueError, nn::SGD({}, {.lr = 0.1}), "SGD", "empty parameter list");
        EXPECT_ERROR(ad::ValueError, nn::Adam({}), "Adam", "empty parameter list");
    }
    SUBCASE("bad parameters and options") {
        EXPECT_ERROR(ad::ValueError, nn::Adam({layer.weight * 2.0}), "Adam", "parameter 0", "[2, 3]", "leaf");
        EXPECT_ERROR(ad::ValueError, nn::SGD({Tensor::ones({2})}), "SGD", "parameter 0", "requires grad");
        EXPECT_ERROR(ad::ValueError, nn::SGD({layer.weight, layer.weight}), "SGD", "parameter 1", "more than once");
        EXPECT_ERROR(ad::ValueError, nn::SGD({Tensor()}), "SGD", "undefined");
        EXPECT_ERROR(ad::ValueError, nn::SGD(layer.parameters(), {.lr = -0.1}), "SGD", "learning rate", "-0.1");
        EXPECT_ERROR(ad::ValueError, nn::Adam(layer.parameters(), {.betas = {0.9, 1.0}}), "Adam", "1");
        nn::SGD opt(layer.parameters(), {.lr = 0.1});
        EXPECT_ERROR(ad::ValueError, opt.set_lr(std::nan("")), "SGD", "nan");
        CHECK(opt.lr() == 0.1);
    }
    SUBCASE("a step between forward and a second backward") {
        nn::SGD opt(layer.parameters(), {.lr = 0.1});
        const Tensor x = Tensor::ones({4, 3}, ad::f64);
        // An L2 penalty saves the weight itself for its backward.
        Tensor loss = ad::sum(layer(x)) + ad::sum(ad::square(layer.weight)) * 0.01;
        loss.backward({.retain_graph = true});
        opt.step();  // changes the weight that the graph saved
        EXPECT_ERROR(ad::GraphError, loss.backward(), "modified in place");
    }
    check_healthy();
}

TEST_CASE("checkpoint misuse") {
    const auto dir = std::filesystem::temp_directory_path() / ("ad_misuse_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "model.safetensors").string();
    nn::Linear saved(3, 2, {.dtype = ad::f64, .seed = 1});
    nn::save_checkpoint(path, saved);
    SUBCASE("a model of another shape") {
        nn::Linear other(4, 2, {.dtype = ad::f64, .seed = 2});
        const auto before = other.weight.to_vector();
        EXPECT_ERROR(ad::ShapeError, nn::load_checkpoint(path, other), "load_checkpoint", "model.safetensors",
                     "'weight'", "[2, 3]", "[2, 4]");
        CHECK(other.weight.to_vector() == before);  // unchanged
    }
    SUBCASE("a model of another dtype or without a bias") {
        nn::Linear f32model(3, 2, {.dtype = ad::f32});
        EXPECT_ERROR(ad::ShapeError, nn::load_checkpoint(path, f32model), "'weight'", "F64", "float32");
        nn::Linear nobias(3, 2, {.bias = false, .dtype = ad::f64});
        EXPECT_ERROR(ad::IOError, nn::load_checkpoint(path, nobias), "model.safetensors", "unexpected tensor", "'bias'");
    }
    SUBCASE("a missing, truncated or corrupt file") {
        nn::Linear m(3, 2, {.dtype = ad::f64, .seed = 3});
        const auto before = m.weight.to_vector();
        EXPECT_ERROR(ad::IOError, nn::load_checkpoint((dir / "nope.safetensors").string(), m), "nope.safetensors");
        const auto size = std::filesystem::file_size(path);
        std::string bytes(size, '\0');
        std::ifstream(path, std::ios::binary).read(bytes.data(), static_cast<std::streamsize>(size));
        auto write = [&](const std::string& name, const std::string& content) {
            const std::string p = (dir / name).string();
            std::ofstream(p, std::ios::binary).write(content.data(), static_cast<std::streamsize>(content.size()));
            return p;
        };
        EXPECT_ERROR(ad::IOError, nn::load_checkpoint(write("trunc.safetensors", bytes.substr(0, size - 5)), m),
                     "trunc.safetensors");
        EXPECT_ERROR(ad::IOError, nn::load_checkpoint(write("empty.safetensors", ""), m), "empty.safetensors");
        std::string lying = bytes;
        lying[5] = '\x7f';  // the 8-byte header length now claims far more than the file holds
        EXPECT_ERROR(ad::IOError, nn::load_checkpoint(write("lying.safetensors", lying), m), "lying.safetensors");
        std::string garbled = bytes;
        garbled[10] = '#';  // inside the JSON header
        EXPECT_ERROR(ad::IOError, nn::load_checkpoint(write("garbled.safetensors", garbled), m), "garbled.safetensors");
        CHECK(m.weight.to_vector() == before);
    }
    std::filesystem::remove_all(dir);
    check_healthy();
}

TEST_CASE("data set and loader misuse") {
    EXPECT_ERROR(ad::ShapeError, nn::TensorDataset(Tensor::ones({4, 2}), Tensor::ones({3})), "TensorDataset", "[4, 2]",
                 "[3]");
    EXPECT_ERROR(ad::ShapeError, nn::TensorDataset(Tensor::scalar(1.0), Tensor::ones({1})), "TensorDataset");
    auto empty = std::make_shared<nn::TensorDataset>(Tensor::zeros({0, 2}), Tensor::zeros({0}));
    EXPECT_ERROR(ad::ValueError, nn::DataLoader(empty), "DataLoader", "empty");
    auto data = std::make_shared<nn::TensorDataset>(Tensor::ones({4, 2}), Tensor::zeros({4}));
    EXPECT_ERROR(ad::ValueError, nn::DataLoader(data, {.batch_size = 0}), "DataLoader", "batch_size", "0");
    Tensor f = Tensor::zeros({1, 2}), l = Tensor::zeros({1});
    const std::vector<std::int64_t> bad = {4};
    EXPECT_ERROR(ad::ValueError, data->get_batch(bad, f, l), "index 4", "4 samples");
    Tensor wrong = Tensor::zeros({1, 3});
    const std::vector<std::int64_t> ok = {0};
    EXPECT_ERROR(ad::ShapeError, data->get_batch(ok, wrong, l), "[1, 3]");
    EXPECT_ERROR(ad::ValueError, nn::ByteImageDataset({1, 2, 3}, {2}, {0, 1}, 2), "ByteImageDataset", "3 pixels");
    EXPECT_ERROR(ad::ValueError, nn::ByteImageDataset({1, 2}, {1}, {0, 5}, 2), "ByteImageDataset", "label 5");
    check_healthy();
}

TEST_CASE("loss and model-building misuse") {
    const Tensor logits = Tensor({{0.5, -0.5, 1.0}, {2.0, 0.0, -1.0}}).requires_grad_();
    EXPECT_ERROR(ad::ValueError, nn::cross_entropy(logits, Tensor({0.0, 3.0})), "cross_entropy", "label 3", "index 1",
                 "3 classes");
    EXPECT_ERROR(ad::ValueError, nn::cross_entropy(logits, Tensor({std::nan(""), 0.0})), "cross_entropy", "label nan");
    EXPECT_ERROR(ad::ShapeError, nn::cross_entropy(logits, Tensor({0.0, 1.0, 2.0})), "cross_entropy", "[2, 3]", "[3]");
    EXPECT_ERROR(ad::ValueError, nn::MLP({784, 0, 10}), "MLP", "positive", "784-0-10");
    const auto model = nn::MLP({4, 3, 2});
    EXPECT_ERROR(ad::ValueError, (*model)[3], "Sequential", "index 3", "3 modules");
    EXPECT_ERROR(ad::ValueError, model->at<nn::Linear>(1), "Sequential::at(1)", "ReLU()");
    check_healthy();
}
