// Tests of nn/activation, nn/dropout, nn/sequential (Sequential and MLP) and nn/init.
// PyTorch strings and numbers below were computed with PyTorch 1.13 (/usr/bin/python3); each
// block gives the snippet.
#include <nn/activation.hpp>
#include <nn/dropout.hpp>
#include <nn/init.hpp>
#include <nn/sequential.hpp>

#include <autodiff/autodiff.hpp>

#include <doctest/doctest.h>
#include <tests/test_util.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

using namespace ad;
using namespace ad::nn;
using ad::test::contains;

namespace {

void check_values(const Tensor& got, const std::vector<double>& want, double tol) {
    const std::vector<double> g = got.to_vector();
    REQUIRE(g.size() == want.size());
    for (std::size_t i = 0; i < g.size(); ++i) {
        INFO("element " << i << ": got " << g[i] << ", want " << want[i]);
        CHECK(std::abs(g[i] - want[i]) <= tol * (1 + std::abs(want[i])));
    }
}

struct Stats {
    double mean = 0, std = 0, max_abs = 0;
    std::size_t n = 0;
};
Stats stats_of(const Tensor& t) {
    const std::vector<double> v = t.to_vector();
    Stats s;
    s.n = v.size();
    for (double x : v) {
        s.mean += x;
        s.max_abs = std::max(s.max_abs, std::abs(x));
    }
    s.mean /= static_cast<double>(v.size());
    for (double x : v) s.std += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(s.std / static_cast<double>(v.size()));
    return s;
}

// Samples of U(−a, a) (n = 500 000 here): every |w| ≤ a (up to float32 rounding of the samples,
// a relative 6e-8), the largest within 0.1% of a, the
// standard deviation within 1% of a/√3 (its relative standard error is 0.9/√n ≈ 0.13%), the
// mean within 0.01·a (standard error a/√(3n) ≈ 0.0008·a).
void check_uniform(const Tensor& w, double a) {
    const Stats s = stats_of(w);
    INFO("bound " << a << ": max |w| " << s.max_abs << ", std " << s.std << ", mean " << s.mean);
    CHECK(s.max_abs <= a * (1 + 1e-7));
    CHECK(s.max_abs >= 0.999 * a);
    CHECK(std::abs(s.std - a / std::sqrt(3.0)) <= 0.01 * a / std::sqrt(3.0));
    CHECK(std::abs(s.mean) <= 0.01 * a);
}
// Samples of N(0, σ²): the standard deviation within `rel` of σ (its relative standard error is
// 1/√(2n): 0.1% for n = 500 000, 1.1% for n = 4000), the mean within 4σ/√n.
void check_normal(const Tensor& w, double sigma, double rel = 0.01) {
    const Stats s = stats_of(w);
    INFO("sigma " << sigma << ": std " << s.std << ", mean " << s.mean << ", n " << s.n);
    CHECK(std::abs(s.std - sigma) <= rel * sigma);
    CHECK(std::abs(s.mean) <= 4 * sigma / std::sqrt(static_cast<double>(s.n)));
}

Tensor big_weight(DType dt = f64) { return Tensor::zeros(Shape{400, 1250}, dt); }  // fan_in 1250, fan_out 400

const std::vector<double> kActivationInput{-1.5, -0.2, 0.0, 0.7, 2.5};

}  // namespace

TEST_CASE("activation modules: forward is the engine function, repr is PyTorch's") {
    // torch: x = torch.tensor([-1.5, -0.2, 0.0, 0.7, 2.5], dtype=torch.float64); print(repr(m), m(x).tolist())
    struct Case {
        std::shared_ptr<Module> module;
        std::function<Tensor(const Tensor&)> engine;
        const char* repr;
        std::vector<double> torch;
    };
    const std::vector<Case> cases{
        {std::make_shared<ReLU>(), [](const Tensor& x) { return relu(x); }, "ReLU()", {0.0, 0.0, 0.0, 0.7, 2.5}},
        {std::make_shared<LeakyReLU>(), [](const Tensor& x) { return leaky_relu(x, 0.01); },
         "LeakyReLU(negative_slope=0.01)", {-0.015, -0.002, 0.0, 0.7, 2.5}},
        {std::make_shared<LeakyReLU>(0.2), [](const Tensor& x) { return leaky_relu(x, 0.2); },
         "LeakyReLU(negative_slope=0.2)", {-0.30000000000000004, -0.04000000000000001, 0.0, 0.7, 2.5}},
        {std::make_shared<Sigmoid>(), [](const Tensor& x) { return sigmoid(x); }, "Sigmoid()",
         {0.18242552380635635, 0.45016600268752216, 0.5, 0.6681877721681662, 0.9241418199787566}},
        {std::make_shared<Tanh>(), [](const Tensor& x) { return tanh(x); }, "Tanh()",
         {-0.9051482536448664, -0.197375320224904, 0.0, 0.6043677771171635, 0.9866142981514303}},
        {std::make_shared<GELU>(), [](const Tensor& x) { return gelu(x); }, "GELU(approximate='none')",
         {-0.10021080190328704, -0.0841480581121794, 0.0, 0.5306254434438489, 2.4844758366855597}},
        {std::make_shared<Softmax>(), [](const Tensor& x) { return softmax(x, -1); }, "Softmax(dim=-1)",
         {0.013741143112268213, 0.05042033063112488, 0.06158353090020364, 0.12401400208587682, 0.7502409932705265}},
        {std::make_shared<LogSoftmax>(), [](const Tensor& x) { return log_softmax(x, -1); }, "LogSoftmax(dim=-1)",
         {-4.287360799704695, -2.987360799704695, -2.787360799704695, -2.0873607997046952, -0.2873607997046951}},
    };
    const Tensor x = Tensor::from_data(std::span<const double>(kActivationInput), Shape{5});
    const Tensor batch = Tensor::randn(Shape{3, 4}, f64, 5);
    for (const Case& c : cases) {
        INFO(c.repr);
        CHECK(c.module->repr() == c.repr);
        CHECK(fmt::format("{}", *c.module) == c.repr);
        CHECK(c.module->parameters().empty());
        check_values((*c.module)(x), c.torch, 1e-14);
        CHECK((*c.module)(batch).to_vector() == c.engine(batch).to_vector());
        // The module's gradient is the function's: the module adds nothing to the graph.
        Tensor a = batch.clone().detach().requires_grad_(), b = batch.clone().detach().requires_grad_();
        sum(square((*c.module)(a))).backward();
        sum(square(c.engine(b))).backward();
        CHECK(a.grad().to_vector() == b.grad().to_vector());
    }
    // dim is honoured: along axis 0 of a [3, 4] batch each column sums to 1.
    Softmax over_rows(0);
    CHECK(over_rows.repr() == "Softmax(dim=0)");
    check_values(sum(over_rows(batch), Axes{0}), {1.0, 1.0, 1.0, 1.0}, 1e-15);
    CHECK(LogSoftmax(1)(batch).to_vector() == log_softmax(batch, 1).to_vector());
    CHECK(LogSoftmax(0).repr() == "LogSoftmax(dim=0)");
    // Python's float repr (torch: repr(nn.LeakyReLU(1.0)), nn.LeakyReLU(1e16), nn.LeakyReLU(1e15)).
    CHECK(LeakyReLU(1.0).repr() == "LeakyReLU(negative_slope=1.0)");
    CHECK(LeakyReLU(1e16).repr() == "LeakyReLU(negative_slope=1e+16)");
    CHECK(LeakyReLU(1e15).repr() == "LeakyReLU(negative_slope=1000000000000000.0)");
    CHECK(python_float(1e-5) == "1e-05");
    CHECK(python_float(0.0001) == "0.0001");
    CHECK(python_float(-2.0) == "-2.0");
}

TEST_CASE("parse_activation, activation_name, make_activation") {
    const std::pair<const char*, Activation> names[] = {{"relu", Activation::ReLU},       {"ReLU", Activation::ReLU},
                                                         {"LEAKYRELU", Activation::LeakyReLU}, {"sigmoid", Activation::Sigmoid},
                                                         {"Tanh", Activation::Tanh},       {"gelu", Activation::GELU}};
    for (const auto& [text, a] : names) {
        CAPTURE(text);
        CHECK(parse_activation(text) == a);
    }
    for (Activation a : {Activation::ReLU, Activation::LeakyReLU, Activation::Sigmoid, Activation::Tanh, Activation::GELU}) {
        CAPTURE(activation_name(a));
        CHECK(parse_activation(activation_name(a)) == a);
        // make_activation's module prints as the activation's name followed by its arguments
        CHECK(make_activation(a)->repr().rfind(std::string(activation_name(a)) + "(", 0) == 0);
    }
    CHECK(make_activation(Activation::GELU)->repr() == "GELU(approximate='none')");
    CHECK(make_activation(Activation::LeakyReLU)->repr() == "LeakyReLU(negative_slope=0.01)");
    CHECK_THROWS_WITH_AS(parse_activation("swish"), doctest::Contains("parse_activation: unknown activation 'swish'"),
                         ValueError);
    CHECK_THROWS_AS(parse_activation(""), ValueError);
    CHECK_THROWS_AS(parse_activation("relu "), ValueError);
}

TEST_CASE("Dropout: eval is the identity; training drops ~p and scales the rest by 1/(1 − p)") {
    // torch: repr(nn.Dropout()), repr(nn.Dropout(0.0)), repr(nn.Dropout(1e-5))
    CHECK(Dropout().repr() == "Dropout(p=0.5, inplace=False)");
    CHECK(Dropout(0.2).repr() == "Dropout(p=0.2, inplace=False)");
    CHECK(Dropout(0.0).repr() == "Dropout(p=0.0, inplace=False)");
    CHECK(Dropout(1e-5).repr() == "Dropout(p=1e-05, inplace=False)");
    const Tensor x = Tensor::randn(Shape{7, 9}, f64, 3);
    SUBCASE("eval is the identity") {
        Dropout d(0.5, 1);
        d.eval();
        CHECK_FALSE(d.is_training());
        CHECK(d(x).to_vector() == x.to_vector());
    }
    SUBCASE("training: the fraction dropped is p within 1%, the others are multiplied by 1/(1 − p)") {
        // 100 000 elements: the dropped fraction's standard error is √(p(1−p)/n) ≈ 0.0015.
        for (DType dt : {f64, f32}) {
            for (double p : {0.1, 0.3, 0.5, 0.9}) {
                CAPTURE(dtype_name(dt));
                CAPTURE(p);
                Dropout d(p, 11);
                CHECK(d.is_training());
                const std::vector<double> y = d(Tensor::ones(Shape{200, 500}, dt)).to_vector();
                const double scale = dt == f64 ? 1.0 / (1.0 - p) : static_cast<double>(static_cast<float>(1.0 / (1.0 - p)));
                const auto zeros = std::count(y.begin(), y.end(), 0.0);
                const auto scaled = std::count(y.begin(), y.end(), scale);
                CHECK(zeros + scaled == static_cast<std::ptrdiff_t>(y.size()));
                CHECK(std::abs(static_cast<double>(zeros) / static_cast<double>(y.size()) - p) <= 0.01);
            }
        }
    }
    SUBCASE("same seed, same mask; a new call or another seed, another mask") {
        Dropout a(0.5, 7), b(0.5, 7), c(0.5, 8);
        const std::vector<double> ya = a(x).to_vector();
        CHECK(ya == b(x).to_vector());
        CHECK(ya != c(x).to_vector());
        CHECK(ya != a(x).to_vector());  // the generator moved on
    }
    SUBCASE("the gradient is the mask") {
        const double p = 0.4;
        Dropout masker(p, 21), drop(p, 21);
        const Tensor mask = masker(Tensor::ones(x.shape(), f64));  // the same draws as drop's
        Tensor leaf = x.clone().detach().requires_grad_();
        const Tensor y = drop(leaf);
        CHECK(y.to_vector() == (x * mask).to_vector());
        sum(y).backward();
        CHECK(leaf.grad().to_vector() == mask.to_vector());
        const auto m = mask.to_vector();
        CHECK(std::count(m.begin(), m.end(), 0.0) > 0);
        CHECK(std::count(m.begin(), m.end(), 1.0 / (1.0 - p)) > 0);
    }
    SUBCASE("p = 0 is the identity in training, p = 1 zeroes everything") {
        Dropout none(0.0, 3);
        CHECK(none(x).to_vector() == x.to_vector());
        Dropout all(1.0, 3);
        Tensor leaf = x.clone().detach().requires_grad_();
        const Tensor y = all(leaf);
        for (double v : y.to_vector()) CHECK(v == 0.0);
        sum(y).backward();
        for (double v : leaf.grad().to_vector()) CHECK(v == 0.0);
    }
    SUBCASE("p outside [0, 1] is a ValueError naming p") {
        CHECK_THROWS_WITH_AS(Dropout(1.5), "Dropout: p must be in [0, 1], got 1.5", ValueError);
        CHECK_THROWS_WITH_AS(Dropout(-0.1), doctest::Contains("got -0.1"), ValueError);
        CHECK_THROWS_WITH_AS(Dropout(NAN), doctest::Contains("got nan"), ValueError);
    }
}

TEST_CASE("Sequential: PyTorch names, indexing, forward, train/eval, repr") {
    auto l0 = std::make_shared<Linear>(3, 4, LinearOptions{.dtype = f64, .seed = 1});
    auto l2 = std::make_shared<Linear>(4, 2, LinearOptions{.dtype = f64, .seed = 2});
    Sequential seq{l0, std::make_shared<Tanh>(), l2};
    CHECK(seq.size() == 3);
    std::vector<std::string> names;
    for (const auto& [n, t] : seq.named_parameters()) names.push_back(n);
    CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
    CHECK(seq.named_parameters()[2].second.impl() == l2->weight.impl());
    CHECK(seq.parameter_count() == 3 * 4 + 4 + 4 * 2 + 2);
    CHECK(&seq.at<Linear>(2) == l2.get());
    CHECK(seq[1].repr() == "Tanh()");
    CHECK_THROWS_WITH_AS(seq.at<Linear>(1), "Sequential::at(1): module is Tanh()", ValueError);
    CHECK_THROWS_WITH_AS(seq[3], "Sequential: index 3 out of range for 3 modules", ValueError);
    CHECK_THROWS_WITH_AS(seq.add(nullptr), "Sequential::add: null module at index 3", ValueError);

    const Tensor x = Tensor::randn(Shape{5, 3}, f64, 9);
    CHECK(seq(x).to_vector() == l2->forward(tanh(l0->forward(x))).to_vector());

    // add appends under the next index; train/eval reach every child.
    seq.add(std::make_shared<Dropout>(0.5, 1));
    CHECK(seq.size() == 4);
    seq.eval();
    CHECK_FALSE(seq[3].is_training());
    CHECK_FALSE(l0->is_training());
    CHECK(seq(x).to_vector() == l2->forward(tanh(l0->forward(x))).to_vector());
    seq.train();
    CHECK(seq[3].is_training());

    // Nested: names "1.0.weight", repr indented as PyTorch's
    // (torch: print(nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Linear(3, 3), nn.ReLU()), nn.Linear(3, 1)))).
    Sequential outer{std::make_shared<Linear>(2, 3), std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<Module>>{
                                                         std::make_shared<Linear>(3, 3), std::make_shared<ReLU>()}),
                     std::make_shared<Linear>(3, 1)};
    names.clear();
    for (const auto& [n, t] : outer.named_parameters()) names.push_back(n);
    CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "1.0.weight", "1.0.bias", "2.weight", "2.bias"});
    CHECK(outer.repr() == "Sequential(\n"
                          "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
                          "  (1): Sequential(\n"
                          "    (0): Linear(in_features=3, out_features=3, bias=True)\n"
                          "    (1): ReLU()\n"
                          "  )\n"
                          "  (2): Linear(in_features=3, out_features=1, bias=True)\n"
                          ")");
}

// Sequential runs a Linear followed by a ReLU (exactly these two types, on a batch of the Linear's
// dtype) as one linear_relu node: the same numbers and gradients as the modules one by one.
TEST_CASE("Sequential: a Linear followed by a ReLU is one linear_relu node, the same bits") {
    auto net = MLP({5, 8, 6, 3}, Activation::ReLU, {.seed = 3});
    const Tensor x = Tensor::randn(Shape{9, 5}, f32, 4);
    const Tensor y = (*net)(x);
    CHECK(contains(net->forward(x).str(), "grad_fn=<linear>"));  // the output layer has no ReLU
    auto& l0 = net->at<Linear>(0);
    const Tensor h = (*net)[1].forward(l0.forward(x));
    CHECK(contains(Sequential{net->children()[0].second, net->children()[1].second}(x).str(), "grad_fn=<linear_relu>"));
    const Tensor by_modules = (*net)[4].forward((*net)[3].forward(net->at<Linear>(2).forward(h)));
    CHECK(y.to_vector() == by_modules.to_vector());

    const std::vector<Tensor> params = net->parameters();
    sum(y * y).backward();
    std::vector<std::vector<double>> fused;
    for (const Tensor& p : params) fused.push_back(p.grad().to_vector());
    for (Tensor p : params) p.zero_grad();
    sum(by_modules * by_modules).backward();
    for (std::size_t i = 0; i < params.size(); ++i) CHECK(params[i].grad().to_vector() == fused[i]);

    // A 1-d input takes the modules one by one.
    CHECK(contains(Sequential{net->children()[0].second, net->children()[1].second}(Tensor::randn(Shape{5}, f32, 1)).str(),
                   "grad_fn=<relu>"));
}

TEST_CASE("MLP({784, 256, 128, 10}): PyTorch's parameter count, names and repr") {
    auto model = MLP({784, 256, 128, 10});
    // torch: sum(p.numel() for p in net.parameters()) for the nn.Sequential printed below
    CHECK(model->parameter_count() == 235146);
    const std::string want = "Sequential(\n"
                             "  (0): Linear(in_features=784, out_features=256, bias=True)\n"
                             "  (1): ReLU()\n"
                             "  (2): Linear(in_features=256, out_features=128, bias=True)\n"
                             "  (3): ReLU()\n"
                             "  (4): Linear(in_features=128, out_features=10, bias=True)\n"
                             ")";
    CHECK(model->repr() == want);
    CHECK(fmt::format("{}", *model) == want);
    const auto params = model->named_parameters();
    REQUIRE(params.size() == 6);
    const char* names[] = {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"};
    const Shape shapes[] = {Shape{256, 784}, Shape{256}, Shape{128, 256}, Shape{128}, Shape{10, 128}, Shape{10}};
    for (std::size_t i = 0; i < 6; ++i) {
        CHECK(params[i].first == names[i]);
        CHECK(params[i].second.shape() == shapes[i]);
        CHECK(params[i].second.dtype() == f32);
        CHECK(params[i].second.requires_grad());
    }
    // PyTorch's default init: U(−1/√in, 1/√in) for weight and bias.
    CHECK(stats_of(model->at<Linear>(0).weight).max_abs <= 1.0 / std::sqrt(784.0));
    CHECK(stats_of(model->at<Linear>(4).bias).max_abs <= 1.0 / std::sqrt(128.0));
    const Tensor out = (*model)(Tensor::randn(Shape{2, 784}, f32, 1));
    CHECK(out.shape() == Shape{2, 10});
}

TEST_CASE("MLP options: activation, bias, dtype, dropout, seed; bad sizes") {
    // torch: print(nn.Sequential(nn.Linear(3, 4, bias=False), nn.Tanh(), nn.Dropout(0.1), nn.Linear(4, 2, bias=False)))
    auto net = MLP({3, 4, 2}, Activation::Tanh, {.dtype = f64, .bias = false, .dropout = 0.1});
    CHECK(net->repr() == "Sequential(\n"
                         "  (0): Linear(in_features=3, out_features=4, bias=False)\n"
                         "  (1): Tanh()\n"
                         "  (2): Dropout(p=0.1, inplace=False)\n"
                         "  (3): Linear(in_features=4, out_features=2, bias=False)\n"
                         ")");
    CHECK(net->parameter_count() == 3 * 4 + 4 * 2);
    for (const Tensor& p : net->parameters()) CHECK(p.dtype() == f64);
    CHECK(net->named_parameters()[1].first == "3.weight");
    // Dropout is active in training and off in eval.
    const Tensor x = Tensor::randn(Shape{64, 3}, f64, 2);
    net->eval();
    const Tensor y_eval = (*net)(x);
    CHECK(y_eval.to_vector() == net->at<Linear>(3)(tanh(net->at<Linear>(0)(x))).to_vector());
    net->train();
    CHECK((*net)(x).to_vector() != y_eval.to_vector());

    auto deep = MLP({5, 6, 7, 8, 2}, Activation::GELU, {.dropout = 0.5});
    CHECK(deep->size() == 4 + 3 + 3);
    CHECK(deep->repr().find("(2): Dropout(p=0.5, inplace=False)\n  (3): Linear(in_features=6, out_features=7") !=
          std::string::npos);
    CHECK(deep->repr().find("(8): Dropout") != std::string::npos);
    CHECK(MLP({4, 2})->size() == 1);  // a single layer: no activation

    // Seeds: the same seed gives the same weights; another seed, others.
    const auto w = [](std::uint64_t seed) { return MLP({6, 5, 3}, Activation::ReLU, {.seed = seed})->parameters()[0].to_vector(); };
    CHECK(w(3) == w(3));
    CHECK(w(3) != w(4));

    CHECK_THROWS_WITH_AS(MLP({784}), "MLP: need at least input and output sizes, got 1 sizes", ValueError);
    CHECK_THROWS_AS(MLP({}), ValueError);
    CHECK_THROWS_WITH_AS(MLP({784, 0, 10}), "MLP: layer sizes must be positive, got 784-0-10", ValueError);
    CHECK_THROWS_WITH_AS(MLP({-3, 10}), doctest::Contains("got -3-10"), ValueError);
    CHECK_THROWS_WITH_AS(MLP({4, 2}, Activation::ReLU, {.dropout = 1.0}), "MLP: dropout must be in [0, 1), got 1",
                         ValueError);
    CHECK_THROWS_AS(MLP({4, 2}, Activation::ReLU, {.dropout = -0.5}), ValueError);
}

TEST_CASE("init: fans and calculate_gain (PyTorch's table)") {
    CHECK(init::fans(Tensor::zeros(Shape{400, 1250})) == std::pair<std::int64_t, std::int64_t>{1250, 400});
    // torch: nn.init._calculate_fan_in_and_fan_out(torch.empty(8, 3, 5, 5)) == (75, 200)
    CHECK(init::fans(Tensor::zeros(Shape{8, 3, 5, 5})) == std::pair<std::int64_t, std::int64_t>{75, 200});
    CHECK_THROWS_WITH_AS(init::fans(Tensor::zeros(Shape{5})), doctest::Contains("at least 2 dimensions, got [5]"), ValueError);
    CHECK_THROWS_AS(init::fans(Tensor()), ValueError);
    // torch: [nn.init.calculate_gain(n) for n in ('linear', 'sigmoid', 'tanh', 'relu')], ('leaky_relu'), ('leaky_relu', 0.2)
    CHECK(init::linear_gain() == 1.0);
    CHECK(init::calculate_gain(Activation::Sigmoid) == 1.0);
    CHECK(init::calculate_gain(Activation::Tanh) == 1.6666666666666667);
    CHECK(init::calculate_gain(Activation::ReLU) == 1.4142135623730951);
    CHECK(init::calculate_gain(Activation::LeakyReLU) == doctest::Approx(1.4141428569978354).epsilon(1e-15));
    CHECK(init::calculate_gain(Activation::LeakyReLU, 0.2) == doctest::Approx(1.3867504905630728).epsilon(1e-15));
    CHECK(init::calculate_gain(Activation::GELU) == std::sqrt(2.0));  // no PyTorch entry: ReLU's
}

TEST_CASE("init: bounds and standard deviations of the schemes (500 000 samples, float64 and float32)") {
    const double in = 1250, out = 400;
    for (DType dt : {f64, f32}) {
        CAPTURE(dtype_name(dt));
        Tensor w = big_weight(dt);
        init::xavier_uniform_(w, 1.0, 1);
        check_uniform(w, std::sqrt(6.0 / (in + out)));
        init::xavier_uniform_(w, 5.0 / 3.0, 2);
        check_uniform(w, 5.0 / 3.0 * std::sqrt(6.0 / (in + out)));
        init::xavier_normal_(w, 1.0, 3);
        check_normal(w, std::sqrt(2.0 / (in + out)));
        init::kaiming_uniform_(w);  // gain √2, fan_in
        check_uniform(w, std::sqrt(2.0) * std::sqrt(3.0 / in));
        init::kaiming_uniform_(w, 1.0, init::FanMode::FanOut, 5);
        check_uniform(w, std::sqrt(3.0 / out));
        init::kaiming_normal_(w, std::sqrt(2.0), init::FanMode::FanIn, 6);
        check_normal(w, std::sqrt(2.0 / in));
        init::kaiming_normal_(w, 1.0, init::FanMode::FanOut, 7);
        check_normal(w, 1.0 / std::sqrt(out));
        init::uniform_(w, 2.0, 4.0, 8);  // U(2, 4): mean 3, std 2/√12
        check_uniform(w - 3.0, 1.0);
        init::normal_(w, -1.0, 0.5, 9);
        check_normal(w + 1.0, 0.5);
        init::constant_(w, 0.25);
        const std::vector<double> c = w.to_vector();
        CHECK(std::count(c.begin(), c.end(), 0.25) == static_cast<std::ptrdiff_t>(c.size()));
        init::zeros_(w);
        CHECK(stats_of(w).max_abs == 0.0);
    }
}

TEST_CASE("init: seeded, in place outside the graph, only on leaves") {
    auto draw = [](std::uint64_t seed) {
        Tensor w = Tensor::zeros(Shape{30, 20}, f64);
        init::kaiming_normal_(w, std::sqrt(2.0), init::FanMode::FanIn, seed);
        return w.to_vector();
    };
    CHECK(draw(5) == draw(5));
    CHECK(draw(5) != draw(6));
    Linear lin(20, 30, LinearOptions{.dtype = f64});
    const std::uint32_t v0 = lin.weight.version();
    init::xavier_uniform_(lin.weight, 1.0, 5);
    CHECK(lin.weight.version() > v0);
    CHECK(lin.weight.requires_grad());
    CHECK(lin.weight.is_leaf());
    CHECK(lin.weight.to_vector() != draw(5));
    Tensor interior = lin.weight * 2.0;
    CHECK_THROWS_WITH_AS(init::normal_(interior, 0, 1, 0), doctest::Contains("init::normal_: only leaf tensors"), GraphError);
    Tensor strided = Tensor::zeros(Shape{4, 6}, f64).t();
    CHECK_THROWS_WITH_AS(init::uniform_(strided, 0, 1, 0), "init::uniform_: tensor must be contiguous", ValueError);
    Tensor undefined;
    CHECK_THROWS_WITH_AS(init::zeros_(undefined), "init::constant_: undefined tensor", ValueError);
}

TEST_CASE("MLP with each Init scheme: gains of the following activation, zero biases") {
    // Layer 0 is [400, 600] followed by ReLU (gain √2); layer 1 is the output [10, 400] (gain 1).
    const double in0 = 600, out0 = 400, in1 = 400, out1 = 10, relu_gain = std::sqrt(2.0);
    for (Init scheme : {Init::PyTorchDefault, Init::XavierUniform, Init::XavierNormal, Init::KaimingUniform, Init::KaimingNormal}) {
        CAPTURE(static_cast<int>(scheme));
        auto net = MLP({600, 400, 10}, Activation::ReLU, {.dtype = f64, .seed = 3, .init = scheme});
        const Tensor& w0 = net->at<Linear>(0).weight;
        const Tensor& w1 = net->at<Linear>(2).weight;
        const Tensor& b0 = net->at<Linear>(0).bias;
        switch (scheme) {
            case Init::PyTorchDefault:
                check_uniform(w0, 1.0 / std::sqrt(in0));
                CHECK(stats_of(w1).max_abs <= 1.0 / std::sqrt(in1));
                CHECK(stats_of(b0).max_abs > 0.0);  // U(−1/√in, 1/√in), not zero
                break;
            case Init::XavierUniform:
                check_uniform(w0, relu_gain * std::sqrt(6.0 / (in0 + out0)));
                CHECK(stats_of(w1).max_abs <= std::sqrt(6.0 / (in1 + out1)));
                CHECK(stats_of(w1).max_abs >= 0.99 * std::sqrt(6.0 / (in1 + out1)));
                break;
            case Init::XavierNormal:
                check_normal(w0, relu_gain * std::sqrt(2.0 / (in0 + out0)));
                check_normal(w1, std::sqrt(2.0 / (in1 + out1)), 0.05);
                break;
            case Init::KaimingUniform:
                check_uniform(w0, relu_gain * std::sqrt(3.0 / in0));
                CHECK(stats_of(w1).max_abs <= std::sqrt(3.0 / in1));
                CHECK(stats_of(w1).max_abs >= 0.99 * std::sqrt(3.0 / in1));
                break;
            case Init::KaimingNormal:
                check_normal(w0, relu_gain / std::sqrt(in0));
                check_normal(w1, 1.0 / std::sqrt(in1), 0.05);
                break;
        }
        if (scheme != Init::PyTorchDefault)
            for (const auto& [n, p] : net->named_parameters())
                if (n.ends_with("bias")) CHECK(stats_of(p).max_abs == 0.0);
        // reproducible, and the layers differ from each other
        CHECK(MLP({600, 400, 10}, Activation::ReLU, {.dtype = f64, .seed = 3, .init = scheme})->parameters()[0].to_vector() ==
              w0.to_vector());
    }
    // Tanh's gain 5/3 reaches the hidden layer.
    auto tanh_net = MLP({600, 400, 10}, Activation::Tanh, {.dtype = f64, .init = Init::XavierUniform});
    check_uniform(tanh_net->at<Linear>(0).weight, 5.0 / 3.0 * std::sqrt(6.0 / 1000.0));
    // bias = false works with every scheme
    auto no_bias = MLP({6, 5, 2}, Activation::ReLU, {.bias = false, .init = Init::KaimingNormal});
    CHECK(no_bias->parameter_count() == 6 * 5 + 5 * 2);
}
