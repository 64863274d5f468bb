// Graph pictures (dot.hpp): the DOT text names the expected nodes and edges, big graphs export
// without recursion, files are written and rendered.
#include <autodiff/autodiff.hpp>
#include <autodiff/dot.hpp>
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

using ad::Tensor;
using ad::Value;

namespace {

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + what.size())) ++n;
    return n;
}
bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

// The node id of the first record whose label contains `what` ("n12"), or "" if none.
std::string node_with(const std::string& dot, const std::string& what) {
    const std::size_t p = dot.find(what);
    if (p == std::string::npos) return {};
    const std::size_t line = dot.rfind('\n', p) + 1;
    const std::size_t space = dot.find(' ', line + 2);
    return dot.substr(line + 2, space - line - 2);
}

std::filesystem::path scratch_dir() {
    auto p = std::filesystem::temp_directory_path() / ("ad_test_dot_" + std::to_string(::getpid()));
    std::filesystem::remove_all(p);
    return p;
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("dot: micrograd's example has one box per value and one ellipse per op") {
    Value x = 1.0, y = 2.0;
    x.set_label("x");
    y.set_label("y");
    Value unused = x * 3.0;  // recorded, but f does not depend on it
    Value f = sin(x) * y + exp(x / y);
    f.set_label("f");
    const std::string dot = ad::to_dot(f);

    CHECK(dot.rfind("digraph autodiff {", 0) == 0);
    CHECK(dot.back() == '\n');
    CHECK(count(dot, "shape=record") == 7u);   // x, y and five results
    CHECK(count(dot, "shape=ellipse") == 5u);  // sin, *, /, exp, +
    CHECK(count(dot, "->") == 13u);            // 5 op → result, 8 argument → op
    for (const char* op : {"label=\"sin\"", "label=\"*\"", "label=\"/\"", "label=\"exp\"", "label=\"+\""}) CHECK(has(dot, op));
    CHECK_FALSE(has(dot, "* 3"));  // unreachable from f

    // x's box: label, data, grad; and it feeds sin and the division (as its first argument).
    const std::string nx = node_with(dot, "{ x | data 1.0000 | grad 0.0000 }");
    const std::string ny = node_with(dot, "{ y | data 2.0000 | grad 0.0000 }");
    REQUIRE_FALSE(nx.empty());
    REQUIRE_FALSE(ny.empty());
    const std::string nsin = node_with(dot, "label=\"sin\"");
    const std::string ndiv = node_with(dot, "label=\"/\"");
    CHECK(has(dot, nx + " -> " + nsin + ";"));
    CHECK(has(dot, nx + " -> " + ndiv + " [label=\"a\"];"));
    CHECK(has(dot, ny + " -> " + ndiv + " [label=\"b\"];"));
    // The root: labelled, its value, bold.
    const double fv = std::sin(1.0) * 2.0 + std::exp(0.5);
    CHECK(has(dot, fmt::format("{{ f | data {:.4f} }}\", style=bold", fv)));
    CHECK(count(dot, "style=bold") == 1u);
    // Deterministic.
    CHECK(ad::to_dot(f) == dot);
    // Drawn after backward (as micrograd does), the leaves show their gradients.
    f.backward();
    const std::string after = ad::to_dot(f);
    CHECK(has(after, fmt::format("{{ x | data 1.0000 | grad {:.4f} }}", std::cos(1.0) * 2.0 + std::exp(0.5) / 2.0)));
    CHECK(count(after, "->") == 13u);
    (void)unused;
}

TEST_CASE("dot: constants, constant ops, labels of interior values, escaping") {
    Value a = 0.5;
    a.set_label("weird {name|<x>} \"q\"");
    Value b = (a * 2.0 + 1.0) * Value::constant(4.0);
    Value c = pow(b, 3.0) - 1.0 / b;
    c.set_label("out");
    b.set_label("b");
    const std::string dot = ad::to_dot(c);
    CHECK(has(dot, "label=\"* 2\""));
    CHECK(has(dot, "label=\"+ 1\""));
    CHECK(has(dot, "label=\"^ 3\""));
    CHECK(has(dot, "label=\"1 /\""));
    CHECK(has(dot, "{ const | data 4.0000 }"));
    CHECK(has(dot, "{ b | data 8.0000 }"));
    CHECK(has(dot, "weird \\{name\\|\\<x\\>\\} \\\"q\\\""));
    CHECK(has(dot, "[label=\"a\"]"));  // the subtraction's arguments are named
}

TEST_CASE("dot: single-node pictures") {
    const std::string c = ad::to_dot(Value::constant(3.0));
    CHECK(has(c, "{ const | data 3.0000 }"));
    CHECK(count(c, "shape=record") == 1u);
    Value leaf = 2.5;
    leaf.set_label("w");
    CHECK(has(ad::to_dot(leaf), "{ w | data 2.5000 | grad 0.0000 }"));
    CHECK(ad::detail::tape().size == 0);  // drawing an unused leaf records nothing
    const std::string t = ad::to_dot(Tensor({1.0, 2.0, 6.0}));
    CHECK(has(t, "[3] float64 | mean 3 min 1 max 6"));
    CHECK_THROWS_AS(ad::to_dot(Tensor()), ad::ValueError);
}

TEST_CASE("dot: tensor graphs show ops, shapes, and leaf summaries") {
    Tensor W = Tensor({{1.0, -2.0, 0.5}, {0.0, 3.0, -1.0}}).requires_grad_();
    W.set_label("W");
    Tensor x = Tensor({0.5, 1.0, -1.0}).reshape({3, 1}).detach().requires_grad_();
    Tensor h = ad::tanh(ad::matmul(W, x));
    h.set_label("hidden");
    Tensor loss = ad::sum(h * h);
    const std::string dot = ad::to_dot(loss);
    for (const char* op : {"label=\"matmul\"", "label=\"tanh\"", "label=\"mul\"", "label=\"sum\""}) CHECK(has(dot, op));
    CHECK(has(dot, "{ W | [2, 3] float64 | mean 0.25 min -2 max 3 }"));
    CHECK(has(dot, "{ hidden | [2, 1] float64 }"));
    CHECK(has(dot, fmt::format("[] float64 | data {:.4f} }}\", style=bold", loss.item())));
    CHECK(count(dot, "shape=record") == 6u);  // W, x, matmul, tanh, mul, sum
    CHECK(count(dot, "shape=ellipse") == 4u);
    // h * h: one edge from h to the multiplication.
    const std::string nh = node_with(dot, "{ hidden |");
    const std::string nmul = node_with(dot, "label=\"mul\"");
    CHECK(count(dot, nh + " -> " + nmul + ";") == 1u);

    // A Value entering the tensor world and coming back.
    Value s = 2.0;
    s.set_label("s");
    Value r = ad::item_value(ad::sum(ad::tensor_from_value(s, ad::f64) * W));
    const std::string d2 = ad::to_dot(r);
    CHECK(has(d2, "{ s | data 2.0000"));
    CHECK(has(d2, "label=\"from_value\""));
    CHECK(has(d2, "label=\"item\""));
}

TEST_CASE("dot: a released graph is an error, not a stale picture") {
    Value x = 1.0;
    Value y;
    {
        ad::GraphScope scope;
        y = x * x;
    }
    CHECK_THROWS_AS(ad::to_dot(y), ad::GraphError);
}

TEST_CASE("dot: a graph of 10^5 nodes exports without recursion") {
    Value x = 0.5;
    Value y = x;
    for (int i = 0; i < 100'000; ++i) y = y * 0.999 + 0.001;  // 2 entries per step
    const auto t0 = std::chrono::steady_clock::now();
    const std::string dot = ad::to_dot(y);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(count(dot, "shape=ellipse") == 200'000u);
    CHECK(count(dot, "shape=record") == 200'001u);
    CHECK(seconds < 5.0);
    MESSAGE("to_dot of 200001 values: ", seconds, " s, ", dot.size() / 1e6, " MB");
}

TEST_CASE("dot: write_dot creates folders; render_dot runs Graphviz when present") {
    const auto dir = scratch_dir();
    Value a = 1.5;
    a.set_label("a");
    const std::string dot = ad::to_dot(exp(a) * a);
    const auto path = dir / "nested" / "graph.dot";
    ad::write_dot(path.string(), dot);
    CHECK(slurp(path) == dot);
    CHECK_THROWS_AS(ad::write_dot("/dev/null/cannot/graph.dot", dot), ad::IOError);

    const auto svg = dir / "graph.svg";
    if (ad::graphviz_available()) {
        CHECK(ad::render_dot(path.string(), svg.string()));
        CHECK(has(slurp(svg), "<svg"));
        // A file that is not DOT: dot fails, render_dot says so.
        ad::write_dot((dir / "bad.dot").string(), "this is not { a graph");
        CHECK_FALSE(ad::render_dot((dir / "bad.dot").string(), (dir / "bad.svg").string()));
        // Paths with spaces and quotes are passed safely.
        const auto odd = dir / "it's a graph.dot";
        ad::write_dot(odd.string(), dot);
        CHECK(ad::render_dot(odd.string(), (dir / "it's a graph.png").string()));
        CHECK(std::filesystem::file_size(dir / "it's a graph.png") > 100u);
    } else {
        CHECK_FALSE(ad::render_dot(path.string(), svg.string()));
    }
    std::filesystem::remove_all(dir);
}
