// Tests of adcalc's expression parser (tools/adcalc/expr.hpp): values against hand-computed
// results, every error with its column, inputs that would break a recursive parser, and
// gradients recorded on ad::Value against finite differences.
#include "tools/adcalc/expr.hpp"

#include <autodiff/autodiff.hpp>
#include <autodiff/functional.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

using adcalc::parse_expr;
using adcalc::ParseError;

namespace {

// Parses and evaluates with doubles; the variables get `values` in order of first appearance.
double eval(const std::string& text, const std::vector<double>& values = {}) {
    return parse_expr(text).evaluate<double>(values);
}

// The ParseError that parsing `text` throws (fails the test when there is none).
ParseError parse_error(const std::string& text) {
    try {
        parse_expr(text);
    } catch (const ParseError& e) {
        return e;
    }
    FAIL("no ParseError for: " << text);
    return ParseError(0, "");
}

void check_error(const std::string& text, std::size_t column, const std::string& message) {
    const ParseError e = parse_error(text);
    const std::string what = e.what();
    INFO("text: '" << text << "' -> " << what);
    CHECK(e.column == column);
    CHECK(e.message.find(message) != std::string::npos);
    CHECK(std::string(e.what()) == "error at column " + std::to_string(column) + ": " + e.message);
}

}  // namespace

TEST_CASE("adcalc: numbers and constants") {
    CHECK(eval("42") == 42.0);
    CHECK(eval("3.25") == 3.25);
    CHECK(eval(".5") == 0.5);
    CHECK(eval("5.") == 5.0);
    CHECK(eval("1e-3") == 0.001);
    CHECK(eval("2.5E+2") == 250.0);
    CHECK(eval("1e3") == 1000.0);
    CHECK(eval("1e-400") == 0.0);  // underflow is zero, not an error
    CHECK(eval("pi") == std::numbers::pi);
    CHECK(eval("e") == std::numbers::e);
    CHECK(eval("2e+1") == 20.0);  // an exponent needs digits...
    CHECK(eval("2*e") == 2 * std::numbers::e);
}

TEST_CASE("adcalc: precedence and associativity") {
    CHECK(eval("1+2*3") == 7.0);
    CHECK(eval("(1+2)*3") == 9.0);
    CHECK(eval("2*3^2") == 18.0);
    CHECK(eval("2^3^2") == 512.0);  // right-associative
    CHECK(eval("8/4/2") == 1.0);    // left-associative
    CHECK(eval("8-4-2") == 2.0);
    CHECK(eval("-2^2") == -4.0);  // -(2^2)
    CHECK(eval("(-2)^2") == 4.0);
    CHECK(eval("2^-1") == 0.5);
    CHECK(eval("2^-3*4") == 0.5);  // (2^-3)*4
    CHECK(eval("-2*3") == -6.0);
    CHECK(eval("2*-3") == -6.0);
    CHECK(eval("--3") == 3.0);
    CHECK(eval("+3 - +2") == 1.0);
    CHECK(eval(" \t1 +\n2 ") == 3.0);
    // The same with variables, so nothing is folded at parse time.
    CHECK(eval("a+b*c", {1, 2, 3}) == 7.0);
    CHECK(eval("a^b^c", {2, 3, 2}) == 512.0);
    CHECK(eval("a/b/c", {8, 4, 2}) == 1.0);
    CHECK(eval("a-b-c", {8, 4, 2}) == 2.0);
    CHECK(eval("-x^2", {3}) == -9.0);
    CHECK(eval("-x^-y", {2, 1}) == -0.5);
    CHECK(eval("a^-b^c", {2, 1, 2}) == 0.5);  // a^(-(b^c))
    CHECK(eval("-x*y", {2, 3}) == -6.0);
    CHECK(eval("x - -y", {2, 3}) == 5.0);
    CHECK(eval("(x+y)*(x-y)", {5, 3}) == 16.0);
}

TEST_CASE("adcalc: functions") {
    const double x = 0.7, y = -1.3;
    CHECK(eval("sin(x)", {x}) == doctest::Approx(std::sin(x)).epsilon(1e-15));
    CHECK(eval("cos(x)", {x}) == doctest::Approx(std::cos(x)).epsilon(1e-15));
    CHECK(eval("tan(x)", {x}) == doctest::Approx(std::tan(x)).epsilon(1e-15));
    CHECK(eval("exp(x)", {x}) == doctest::Approx(std::exp(x)).epsilon(1e-15));
    CHECK(eval("log(x)", {x}) == doctest::Approx(std::log(x)).epsilon(1e-15));
    CHECK(eval("log1p(x)", {x}) == doctest::Approx(std::log1p(x)).epsilon(1e-15));
    CHECK(eval("sqrt(x)", {x}) == doctest::Approx(std::sqrt(x)).epsilon(1e-15));
    CHECK(eval("tanh(x)", {x}) == doctest::Approx(std::tanh(x)).epsilon(1e-15));
    CHECK(eval("sigmoid(x)", {x}) == doctest::Approx(1.0 / (1.0 + std::exp(-x))));
    CHECK(eval("sigmoid(x)", {-800.0}) == 0.0);
    CHECK(eval("relu(x)", {x}) == x);
    CHECK(eval("relu(x)", {y}) == 0.0);
    CHECK(eval("abs(x)", {y}) == 1.3);
    CHECK(eval("erf(x)", {x}) == doctest::Approx(std::erf(x)).epsilon(1e-15));
    CHECK(eval("pow(x, y)", {x, y}) == doctest::Approx(std::pow(x, y)).epsilon(1e-15));
    CHECK(eval("x^y", {x, y}) == doctest::Approx(std::pow(x, y)).epsilon(1e-15));
    CHECK(eval("atan2(x, y)", {x, y}) == doctest::Approx(std::atan2(x, y)).epsilon(1e-15));
    CHECK(eval("hypot(x, y)", {x, y}) == doctest::Approx(std::hypot(x, y)).epsilon(1e-15));
    CHECK(eval("min(x, y)", {x, y}) == y);
    CHECK(eval("max(x, y)", {x, y}) == x);
    CHECK(eval("sin (x)", {x}) == eval("sin(x)", {x}));  // space before '('
    CHECK(eval("max(min(x, 0), sin(y)*2)", {x, y}) == 0.0);
    CHECK(eval("sin(x)*y + exp(x/y)", {1, 2}) == doctest::Approx(std::sin(1.0) * 2 + std::exp(0.5)));
    CHECK(eval("2*pi*x", {0.25}) == doctest::Approx(std::numbers::pi / 2));
    CHECK(std::isnan(eval("log(-1)")));
    CHECK(eval("1/0") == HUGE_VAL);
    CHECK(adcalc::function_names().size() == 17);
}

TEST_CASE("adcalc: variables, folding and the program") {
    const adcalc::Expr e = parse_expr("y*x + y + x_2 + _a");
    CHECK(e.variables() == std::vector<std::string>{"y", "x", "x_2", "_a"});
    CHECK(e.variable_column(0) == 1);
    CHECK(e.variable_column(1) == 3);
    CHECK(e.variable_column(2) == 11);
    CHECK_THROWS_AS(e.evaluate<double>({1.0}), ad::ValueError);
    CHECK(parse_expr("2*3+sin(0)").program().size() == 1);  // folded into one number
    CHECK(parse_expr("x*(2+3)").program().size() == 3);
    CHECK(parse_expr("x*(2+3)").max_stack() == 2);
    CHECK(adcalc::is_variable_name("x1"));
    CHECK_FALSE(adcalc::is_variable_name("1x"));
    CHECK_FALSE(adcalc::is_variable_name("pi"));
    CHECK_FALSE(adcalc::is_variable_name("sin"));
    CHECK_FALSE(adcalc::is_variable_name(""));
    CHECK_FALSE(adcalc::is_variable_name("x-y"));
}

TEST_CASE("adcalc: every error names its column") {
    check_error("sinn(x)", 1, "unknown function 'sinn'");
    check_error("1 + sinn(x)", 5, "unknown function 'sinn'");
    check_error("pow(x)", 1, "function 'pow' takes 2 arguments, got 1");
    check_error("x + sin(x, y)", 5, "function 'sin' takes 1 argument, got 2");
    check_error("sin()", 1, "function 'sin' takes 1 argument, got none");
    check_error("pow(x, y, 1)", 1, "takes 2 arguments, got 3");
    check_error("(x+1", 1, "unmatched '('");
    check_error("x+1)", 4, "unmatched ')'");
    check_error(")", 1, "unmatched ')'");
    check_error("sin(x", 4, "unmatched '('");
    check_error("x y", 3, "expected an operator or the end of the expression but found 'y'");
    check_error("(x y)", 4, "expected an operator or ')' but found 'y'");
    check_error("max(x y)", 7, "expected an operator, ',' or ')' but found 'y'");
    check_error("max(x, (y z))", 11, "expected an operator or ')' but found 'z'");
    check_error("2x", 2, "found 'x'");
    check_error("2e", 2, "found 'e'");  // ...so this is 2 followed by the constant e
    check_error("x+1 $", 5, "found '$'");
    check_error("x+1.2.3", 6, "found '.3'");
    check_error("x\x01", 2, "byte 0x01");
    check_error("", 1, "empty expression");
    check_error("   ", 1, "empty expression");
    check_error("x+", 3, "unexpected end of expression");
    check_error("x*/y", 3, "expected a number, a variable, a function or '(' but found '/'");
    check_error("()", 2, "empty parentheses");
    check_error("pow(x,)", 7, "found ')'");
    check_error("x, y", 2, "',' outside the arguments of a function call");
    check_error("pi(2)", 1, "'pi' is a constant, not a function");
    check_error("sin + 1", 1, "function 'sin' needs its 1 argument in parentheses");
    check_error("1e999", 1, "number '1e999' is too large");
    check_error("x + #", 5, "found '#'");
}

TEST_CASE("adcalc: ParseError is an ad::ValueError") {
    CHECK_THROWS_AS(parse_expr("sinn(x)"), ad::ValueError);
    CHECK_THROWS_AS(parse_expr("sinn(x)"), ad::Error);
    CHECK_THROWS_WITH(parse_expr("sinn(x)"), "error at column 1: unknown function 'sinn'");
}

TEST_CASE("adcalc: deep nesting and huge inputs neither recurse nor take long") {
    const auto start = std::chrono::steady_clock::now();
    const int n = 10000;
    const std::string parens = std::string(n, '(') + "x" + std::string(n, ')');
    CHECK(eval(parens, {1.5}) == 1.5);
    check_error(std::string(n, '(') + "x", n, "unmatched '('");
    check_error("x" + std::string(n, ')'), 2, "unmatched ')'");
    CHECK(eval(std::string(n, '-') + "x", {2.0}) == 2.0);  // an even number of minus signs

    std::string calls;
    for (int i = 0; i < n; ++i) calls += "sin(";
    calls += "x" + std::string(n, ')');
    double expected = 0.5;
    for (int i = 0; i < n; ++i) expected = std::sin(expected);
    CHECK(eval(calls, {0.5}) == expected);

    std::string sum = "x";
    while (sum.size() < (1u << 20)) sum += "+x";
    const adcalc::Expr big = parse_expr(sum);
    CHECK(big.variables().size() == 1);
    CHECK(big.evaluate<double>({1.0}) == static_cast<double>((sum.size() + 1) / 2));

    std::string power = "x";  // right-associative: a megabyte of pending operators
    while (power.size() < (1u << 20)) power += "^x";
    CHECK(parse_expr(power).evaluate<double>({1.0}) == 1.0);

    check_error(std::string(1u << 20, '('), (1u << 20) + 1, "unexpected end of expression");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(seconds < 5.0);
}

TEST_CASE("adcalc: gradients on ad::Value match finite differences") {
    const std::vector<std::string> texts = {
        "sin(x)*y + exp(x/y)", "-x^2 + y^3/3", "x^y", "pow(x, 2) * log1p(y)", "atan2(y, x) + hypot(x, y)",
        "tanh(x) * sigmoid(y) + erf(x*y)", "sqrt(x*x + y*y) - tan(x/4)", "min(x, y) + max(x, 2*y)",
        "relu(x - y) + abs(y - 3)", "2^x + e^y + pi*x", "cos(x)/(1 + y^2)",
    };
    for (const std::string& text : texts) {
        INFO(text);
        const adcalc::Expr e = parse_expr(text);
        REQUIRE(e.variables().size() == 2);
        // x = 0.8, y = 1.7, in the expression's order of variables
        const std::vector<double> point = e.variables()[0] == "x" ? std::vector{0.8, 1.7} : std::vector{1.7, 0.8};
        const std::vector<ad::Value> leaves = {ad::Value(point[0]), ad::Value(point[1])};
        const ad::Value f = e.evaluate(leaves);
        CHECK(f.value() == doctest::Approx(e.evaluate(point)).epsilon(1e-14));
        f.backward();
        for (std::size_t i = 0; i < 2; ++i) {
            const double h = 1e-6;
            std::vector<double> lo = point, hi = point;
            lo[i] -= h;
            hi[i] += h;
            const double fd = (e.evaluate(hi) - e.evaluate(lo)) / (2 * h);
            CHECK(leaves[i].grad() == doctest::Approx(fd).epsilon(1e-6));
        }
    }
}

TEST_CASE("adcalc: a deep expression on ad::Value") {
    std::string sum = "x";
    while (sum.size() < 200000) sum += "+x*x";
    const adcalc::Expr e = parse_expr(sum);
    const ad::Value x(0.5);
    const ad::Value f = e.evaluate(std::vector<ad::Value>{x});
    const double terms = static_cast<double>((sum.size() - 1) / 4);
    CHECK(f.value() == doctest::Approx(0.5 + terms * 0.25));
    f.backward();
    CHECK(x.grad() == doctest::Approx(1.0 + terms * 1.0));
}

TEST_CASE("adcalc: value_and_grad and hessian of a parsed expression") {
    // f = x^2*y + sin(y): grad = (2xy, x^2 + cos y), H = [[2y, 2x], [2x, -sin y]]
    const adcalc::Expr e = parse_expr("x^2*y + sin(y)");
    const ad::ScalarFunction f = [&e](const std::vector<ad::Value>& v) { return e.evaluate(v); };
    const double x = 1.5, y = -0.5;
    const auto [value, grad] = ad::value_and_grad(f, {x, y});
    CHECK(value == doctest::Approx(x * x * y + std::sin(y)));
    REQUIRE(grad.size() == 2);
    CHECK(grad[0] == doctest::Approx(2 * x * y));
    CHECK(grad[1] == doctest::Approx(x * x + std::cos(y)));
    const auto h = ad::hessian(f, {x, y});
    REQUIRE(h.size() == 2);
    CHECK(h[0][0] == doctest::Approx(2 * y));
    CHECK(h[0][1] == doctest::Approx(2 * x));
    CHECK(h[1][0] == doctest::Approx(2 * x));
    CHECK(h[1][1] == doctest::Approx(-std::sin(y)));
}
