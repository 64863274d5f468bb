// adcalc: evaluate an expression and its gradient (and Hessian) by reverse-mode autodiff.
//
//   adcalc 'sin(x)*y + exp(x/y)' x=1 y=2
//   adcalc 'x^2*y' x=3 y=-1 --hessian --check --json --dot graph.dot
//   adcalc --file big_expression.txt x=1       (for expressions longer than a command line allows)
//
// Exit codes: 0 success; 1 --check found a relative error above 1e-6; 2 bad usage, a malformed
// expression or argument, or a file that cannot be written (one line on stderr:
// "adcalc: error at column 7: unknown function 'sinn'").
#include "expr.hpp"

#include <autodiff/autodiff.hpp>
#include <autodiff/dot.hpp>
#include <autodiff/functional.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace {

constexpr double kCheckTolerance = 1e-6;

// The command line, as given.
struct Options {
    std::vector<std::string> positional;  // [expression] name=value ...
    std::string file;                     // --file: read the expression from here ("-": stdin)
    bool hessian = false;
    bool check = false;
    bool json = false;
    std::string dot_file;  // empty: no DOT output; "-": standard output
};

// A bad command line or argument (exit code 2). The message is printed after "adcalc: ".
struct UsageError : ad::ValueError {
    using ad::ValueError::ValueError;
};

// The comparison of one gradient component against central finite differences.
struct CheckRow {
    double reverse;
    double finite_difference;
    double relative_error;  // |reverse - fd| / max(1, |reverse|, |fd|)
    bool ok;
};

// Everything adcalc computed.
struct Results {
    double value = 0.0;
    std::vector<double> gradient;
    std::vector<std::vector<double>> hessian;  // empty unless --hessian
    std::vector<CheckRow> check;               // empty unless --check
    bool check_ok = true;
};

// Parses a value "1.5", "-2", "pi/2", "1e-3": a constant expression of the calculator's language.
double parse_value(const std::string& argument, std::size_t value_offset) {
    const std::string text = argument.substr(value_offset);
    adcalc::Expr value;
    try {
        value = adcalc::parse_expr(text);
    } catch (const adcalc::ParseError& e) {
        throw UsageError(fmt::format("error at column {} of argument '{}': {}", value_offset + e.column, argument,
                                     e.message));
    }
    if (!value.variables().empty()) {
        throw UsageError(fmt::format("error at column {} of argument '{}': a value must be a number or a constant "
                                     "expression, but it uses the variable '{}'",
                                     value_offset + value.variable_column(0), argument, value.variables()[0]));
    }
    return value.evaluate<double>({});
}

// The value of every variable of `expr`, in the order of expr.variables(), from "name=value"
// arguments. Values for variables the expression does not use are accepted and ignored.
std::vector<double> variable_values(const adcalc::Expr& expr, const std::vector<std::string>& assignments) {
    std::map<std::string, std::pair<double, std::string>> given;  // name -> (value, argument)
    for (const std::string& argument : assignments) {
        const std::size_t eq = argument.find('=');
        if (eq == std::string::npos) {
            throw UsageError(fmt::format("error: bad argument '{}': expected name=value, e.g. x=1.5", argument));
        }
        const std::string name = argument.substr(0, eq);
        if (!adcalc::is_variable_name(name)) {
            const char* why = adcalc::is_reserved_name(name) ? "is a function or constant, not a variable"
                                                              : "is not a valid variable name";
            throw UsageError(fmt::format("error: bad argument '{}': '{}' {}", argument, name, why));
        }
        const double value = parse_value(argument, eq + 1);
        const auto [it, inserted] = given.try_emplace(name, value, argument);
        if (!inserted) {
            throw UsageError(
                fmt::format("error: variable '{}' is given twice ('{}' and '{}')", name, it->second.second, argument));
        }
    }
    std::vector<double> values;
    for (std::size_t k = 0; k < expr.variables().size(); ++k) {
        const std::string& name = expr.variables()[k];
        const auto it = given.find(name);
        if (it == given.end()) {
            throw UsageError(fmt::format("error at column {}: no value given for variable '{}' (add {}=VALUE)",
                                         expr.variable_column(k), name, name));
        }
        values.push_back(it->second.first);
    }
    return values;
}

// Central finite differences of the double evaluation against the reverse-mode gradient.
void check_gradient(const adcalc::Expr& expr, const std::vector<double>& x, Results& r) {
    const double cbrt_eps = std::cbrt(std::numeric_limits<double>::epsilon());  // the step minimizing the error
    for (std::size_t i = 0; i < x.size(); ++i) {
        std::vector<double> hi = x, lo = x;
        hi[i] = x[i] + cbrt_eps * std::max(1.0, std::abs(x[i]));
        lo[i] = x[i] - cbrt_eps * std::max(1.0, std::abs(x[i]));
        const double fd = (expr.evaluate(hi) - expr.evaluate(lo)) / (hi[i] - lo[i]);
        const double g = r.gradient[i];
        const double err = std::abs(g - fd) / std::max({1.0, std::abs(g), std::abs(fd)});
        const bool ok = err <= kCheckTolerance;  // false for NaN
        r.check.push_back({g, fd, err, ok});
        r.check_ok = r.check_ok && ok;
    }
}

// The expression as a function of the engine's scalars.
std::function<ad::Value(const std::vector<ad::Value>&)> as_function(const adcalc::Expr& expr) {
    return [&expr](const std::vector<ad::Value>& v) { return expr.evaluate(v); };
}

Results compute(const adcalc::Expr& expr, const std::vector<double>& x, const Options& opt) {
    Results r;
    if (x.empty()) {  // a constant expression: nothing to differentiate
        r.value = expr.evaluate<double>({});
        return r;
    }
    const auto f = as_function(expr);
    std::tie(r.value, r.gradient) = ad::value_and_grad(f, x);
    if (opt.hessian) r.hessian = ad::hessian(f, x);
    if (opt.check) check_gradient(expr, x, r);
    return r;
}

// The graph that evaluating the expression records, in Graphviz DOT: leaves labelled by name
// and showing their gradients.
std::string dot_graph(const adcalc::Expr& expr, const std::vector<double>& x) {
    std::vector<ad::Value> leaves;
    for (std::size_t k = 0; k < x.size(); ++k) {
        leaves.emplace_back(x[k]);
        leaves.back().set_label(expr.variables()[k]);
    }
    const ad::Value root = expr.evaluate(leaves);
    if (root.requires_grad()) root.backward({.retain_graph = true});  // so the leaves show their gradients
    return ad::to_dot(root);
}

// The expression in a file ("-": standard input), at most kMaxFileBytes (so /dev/zero fails).
constexpr std::size_t kMaxFileBytes = std::size_t{64} << 20;
std::string read_file(const std::string& path) {
    std::ifstream file;
    if (path != "-") {
        file.open(path, std::ios::binary);
        if (!file) throw UsageError(fmt::format("error: --file: cannot open '{}': {}", path, std::strerror(errno)));
    }
    std::istream& in = path == "-" ? std::cin : file;
    std::string text;
    char buffer[1 << 16];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        text.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (text.size() > kMaxFileBytes) {
            throw UsageError(fmt::format("error: --file: '{}' is larger than {} MiB", path, kMaxFileBytes >> 20));
        }
    }
    if (in.bad()) throw UsageError(fmt::format("error: --file: cannot read '{}': {}", path, std::strerror(errno)));
    // A trailing newline is part of a file, not of the expression.
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
}

// Writes the DOT text to path ("-": standard output); ad::IOError names the path on failure.
void write_dot(const std::string& path, const std::string& text) {
    if (path == "-") {
        std::cout << text << std::flush;
    } else {
        ad::write_dot(path, text);
    }
}

nlohmann::ordered_json to_json(const adcalc::Expr& expr, const Results& r, const Options& opt) {
    const auto& names = expr.variables();
    nlohmann::ordered_json j;
    j["value"] = r.value;
    j["gradient"] = nlohmann::ordered_json::object();
    for (std::size_t i = 0; i < names.size(); ++i) j["gradient"][names[i]] = r.gradient[i];
    if (opt.hessian) {
        j["hessian"] = nlohmann::ordered_json::object();
        for (std::size_t i = 0; i < names.size(); ++i) {
            j["hessian"][names[i]] = nlohmann::ordered_json::object();
            for (std::size_t k = 0; k < names.size(); ++k) j["hessian"][names[i]][names[k]] = r.hessian[i][k];
        }
    }
    if (opt.check) {
        auto& c = j["check"];
        c["passed"] = r.check_ok;
        c["tolerance"] = kCheckTolerance;
        c["finite_difference"] = nlohmann::ordered_json::object();
        c["relative_error"] = nlohmann::ordered_json::object();
        for (std::size_t i = 0; i < names.size(); ++i) {
            c["finite_difference"][names[i]] = r.check[i].finite_difference;
            c["relative_error"][names[i]] = r.check[i].relative_error;
        }
    }
    return j;
}

std::string to_text(const adcalc::Expr& expr, const Results& r, const Options& opt) {
    const auto& names = expr.variables();
    std::size_t width = 0;
    for (const auto& n : names) width = std::max(width, n.size());
    std::string out = fmt::format("value = {}\n", r.value);
    if (!names.empty()) out += "gradient:\n";
    for (std::size_t i = 0; i < names.size(); ++i) {
        out += fmt::format("  df/d{:<{}} = {}\n", names[i], width, r.gradient[i]);
    }
    if (opt.hessian && !names.empty()) {
        out += "hessian:\n";
        out += fmt::format("  {:<{}}", "", width);
        for (const auto& n : names) out += fmt::format("  {:>24}", n);
        out += '\n';
        for (std::size_t i = 0; i < names.size(); ++i) {
            out += fmt::format("  {:<{}}", names[i], width);
            for (std::size_t k = 0; k < names.size(); ++k) out += fmt::format("  {:>24}", r.hessian[i][k]);
            out += '\n';
        }
    }
    if (opt.check && !names.empty()) {
        out += "check (central finite differences):\n";
        for (std::size_t i = 0; i < names.size(); ++i) {
            const CheckRow& c = r.check[i];
            out += fmt::format("  df/d{:<{}}  reverse {:<24}  finite-diff {:<24}  rel. error {:.2e}  {}\n", names[i],
                               width, c.reverse, c.finite_difference, c.relative_error, c.ok ? "ok" : "FAILED");
        }
        out += fmt::format("check {} (tolerance {:g})\n", r.check_ok ? "passed" : "FAILED", kCheckTolerance);
    }
    return out;
}

void setup(CLI::App& app, Options& opt) {
    app.description("Evaluate an expression and its gradient by reverse-mode automatic differentiation.");
    app.add_option("args", opt.positional,
                   "the expression (unless --file), then the variables' values: name=value ... "
                   "(e.g. 'sin(x)*y' x=1 y=pi/2)");
    app.add_option("-f,--file", opt.file, "read the expression from FILE ('-': stdin)")->type_name("FILE");
    app.add_flag("--hessian", opt.hessian, "also print the Hessian (second derivatives)");
    app.add_flag("--check", opt.check,
                 "compare the gradient with central finite differences; exit 1 if a relative error exceeds 1e-6");
    app.add_option("--dot", opt.dot_file, "write the recorded graph in Graphviz DOT to FILE ('-': stdout)")
        ->type_name("FILE");
    app.add_flag("--json", opt.json, "print one JSON object {\"value\", \"gradient\", \"hessian\", \"check\"}");
    std::string footer =
        "Expressions: numbers (2, 0.5, 1e-3), variables, + - * / ^ (right-associative; -x^2 = -(x^2)),\n"
        "parentheses, the constants pi and e, and the functions\n ";
    for (const std::string& f : adcalc::function_names()) footer += " " + f;
    app.footer(footer);
}

// CLI11 takes every argument that starts with '-' for an option, but an expression may start
// with one ("-x^2"). Returns the arguments with adcalc's options first, then "--", then the
// positional arguments in their order. Throws UsageError for an unknown "--name".
std::vector<std::string> options_first(int argc, char** argv) {
    const std::set<std::string> flags = {"--hessian", "--check", "--json", "-h", "--help"};
    const std::set<std::string> with_value = {"--dot", "-f", "--file"};
    std::vector<std::string> options, positional;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--") {
            positional.insert(positional.end(), argv + i + 1, argv + argc);
            break;
        }
        if (with_value.count(a) != 0) {
            if (i + 1 == argc) throw UsageError(fmt::format("error: option {} needs a FILE", a));
            options.push_back(a);
            options.emplace_back(argv[++i]);
        } else if (flags.count(a) != 0 || a.starts_with("--dot=") || a.starts_with("--file=")) {
            options.push_back(a);
        } else if (a.starts_with("--")) {
            throw UsageError(fmt::format("error: unknown option '{}' (see adcalc --help)", a));
        } else {
            positional.push_back(a);
        }
    }
    options.push_back("--");
    options.insert(options.end(), positional.begin(), positional.end());
    return options;
}

int run(int argc, char** argv) {
    CLI::App app{"", "adcalc"};
    Options opt;
    setup(app, opt);
    try {
        std::vector<std::string> args = options_first(argc, argv);
        std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
        app.parse(args);
    } catch (const CLI::Success& e) {  // --help
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        fmt::print(stderr, "adcalc: error: {}\n", e.what());
        return 2;
    } catch (const UsageError& e) {
        fmt::print(stderr, "adcalc: {}\n", e.what());
        return 2;
    }
    try {
        std::string text;
        auto assignments = opt.positional.begin();
        if (!opt.file.empty()) {
            text = read_file(opt.file);
        } else if (assignments == opt.positional.end()) {
            throw UsageError("error: no expression given (try: adcalc 'sin(x)*y' x=1 y=2, or adcalc --help)");
        } else {
            text = *assignments++;
        }
        const adcalc::Expr expr = adcalc::parse_expr(text);
        const std::vector<double> x = variable_values(expr, {assignments, opt.positional.end()});
        const Results r = compute(expr, x, opt);
        if (!opt.dot_file.empty()) write_dot(opt.dot_file, dot_graph(expr, x));
        if (opt.json) {
            std::cout << to_json(expr, r, opt).dump() << '\n';
        } else {
            std::cout << to_text(expr, r, opt);
        }
        return r.check_ok ? 0 : 1;
    } catch (const adcalc::ParseError& e) {
        fmt::print(stderr, "adcalc: {}\n", e.what());
    } catch (const UsageError& e) {
        fmt::print(stderr, "adcalc: {}\n", e.what());
    } catch (const ad::Error& e) {
        fmt::print(stderr, "adcalc: error: {}\n", e.what());
    }
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {  // out of memory and the like
        fmt::print(stderr, "adcalc: error: {}\n", e.what());
        return 2;
    }
}
