// expressions: micrograd's first example on the tape engine.
//
// Builds f(x, y) = sin(x)·y + exp(x/y), prints its value and gradient (checked against the
// closed form and against finite differences), and draws the recorded graph:
//
//     ./expressions                       # x = 1, y = 2, pictures in results/expressions/
//     ./expressions --x 0.5 --y -3 --out /tmp/pics
//
// Writes <out>/expressions.dot, and <out>/expressions.svg when Graphviz is installed.
// Exit code 0 when the gradient is right, 1 when a check fails, 2 on bad usage or I/O errors.
#include <autodiff/autodiff.hpp>
#include <autodiff/dot.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <filesystem>

int main(int argc, char** argv) {
    CLI::App app{"f(x, y) = sin(x)*y + exp(x/y): value, gradient, gradcheck, and a picture of the graph"};
    double x0 = 1.0, y0 = 2.0;
    std::string out = "results/expressions";
    app.add_option("--x", x0, "value of x")->capture_default_str();
    app.add_option("--y", y0, "value of y (not 0)")->capture_default_str();
    app.add_option("--out", out, "folder for expressions.dot / expressions.svg")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    if (y0 == 0.0) {
        fmt::print(stderr, "expressions: --y must not be 0 (f divides by y)\n");
        return 2;
    }

    // 1. Leaves (they require grad) and the expression: each op records one tape entry.
    ad::Value x = x0, y = y0;
    x.set_label("x");
    y.set_label("y");
    ad::Value f = sin(x) * y + exp(x / y);
    f.set_label("f");

    // 2. One reverse sweep fills x.grad() and y.grad().
    f.backward();

    // 3. The picture (taken after backward, so the leaves' boxes show their gradients).
    const std::string dot = ad::to_dot(f);
    fmt::print("f(x={}, y={}) = {:.10f}\n", x0, y0, f.value());
    fmt::print("df/dx = {:.10f}\ndf/dy = {:.10f}\n", x.grad(), y.grad());

    // 4. Checks: the closed form  ∂x = cos(x)·y + exp(x/y)/y,  ∂y = sin(x) − x·exp(x/y)/y², and
    //    gradcheck's central finite differences.
    const double e = std::exp(x0 / y0);
    const double dx = std::cos(x0) * y0 + e / y0, dy = std::sin(x0) - x0 * e / (y0 * y0);
    const bool closed_ok = std::fabs(x.grad() - dx) <= 1e-12 * (1 + std::fabs(dx)) &&
                           std::fabs(y.grad() - dy) <= 1e-12 * (1 + std::fabs(dy));
    fmt::print("closed form: df/dx = {:.10f}, df/dy = {:.10f} ({})\n", dx, dy, closed_ok ? "match" : "MISMATCH");
    const auto report = ad::gradcheck(
        [](const std::vector<ad::Value>& v) { return sin(v[0]) * v[1] + exp(v[0] / v[1]); }, {x0, y0});
    fmt::print("{}\n", report.message);

    // 5. The graph: DOT text always, SVG when Graphviz's `dot` is on the PATH.
    try {
        const std::string dot_path = (std::filesystem::path(out) / "expressions.dot").string();
        const std::string svg_path = (std::filesystem::path(out) / "expressions.svg").string();
        ad::write_dot(dot_path, dot);
        fmt::print("graph: {}\n", dot_path);
        if (ad::render_dot(dot_path, svg_path))
            fmt::print("picture: {}\n", svg_path);
        else
            fmt::print("picture: skipped (Graphviz 'dot' not found or failed)\n");
    } catch (const ad::IOError& err) {
        fmt::print(stderr, "expressions: {}\n", err.what());
        return 2;
    }
    return closed_ok && report.ok ? 0 : 1;
}
