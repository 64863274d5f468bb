#pragma once
// The expression language of adcalc: parsing text into a flat postfix program, and running it.
//
//   Expr e = adcalc::parse_expr("sin(x)*y + exp(x/y)");
//   e.variables();                  // {"x", "y"}, in order of first appearance
//   e.evaluate<double>({1.0, 2.0});  // 3.3316... = sin(1)*2 + exp(0.5)
//   e.evaluate<ad::Value>(leaves);   // the same, recorded on the engine's graph
//
// Grammar (whitespace is ignored between tokens):
//   expr    := sum
//   sum     := product (('+' | '-') product)*
//   product := unary (('*' | '/') unary)*
//   unary   := ('-' | '+') unary | power
//   power   := atom ('^' unary)?          '^' is right-associative and binds tighter than a
//                                          unary minus on its left: -x^2 = -(x^2), 2^-1 = 0.5
//   atom    := number | constant | variable | function '(' expr (',' expr)* ')' | '(' expr ')'
//   number  := digits ['.' digits] [('e'|'E') ['+'|'-'] digits]   (also ".5" and "5.")
// Constants: pi, e. Functions: see function_names(). Names of functions and constants are
// reserved and cannot be used as variables.
//
// Guarantees: parsing and evaluation use explicit stacks, never recursion, so any input
// (10,000 nested parentheses, a megabyte of "x+x+...") is handled in linear time without
// overflowing the call stack. Every malformed input throws ParseError naming the 1-based
// column (byte offset + 1) where the problem is. Operations whose operands are all numbers are
// folded at parse time ("2*pi" is one number), so the engine records only what depends on a
// variable.
#include <autodiff/error.hpp>

#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace adcalc {

// A malformed expression. what() reads "error at column 7: unknown function 'sinn'".
struct ParseError : ad::ValueError {
    ParseError(std::size_t column, const std::string& message);

    std::size_t column;  // 1-based; one past the last character for "unexpected end of input"
    std::string message;  // the message without the "error at column N: " prefix
};

// One instruction of the postfix program.
enum class Op : std::uint8_t {
    Number,    // push Instr::number
    Variable,  // push the value of variable Instr::index
    Neg,       // unary minus
    Add, Sub, Mul, Div, Pow,  // binary operators ('^' is Pow)
    // functions of one argument
    Sin, Cos, Tan, Exp, Log, Log1p, Sqrt, Tanh, Sigmoid, Relu, Abs, Erf,
    // functions of two arguments (pow(a, b) is Op::Pow)
    Atan2, Hypot, Min, Max,
};

struct Instr {
    Op op;
    std::uint32_t index = 0;  // Op::Variable: index into Expr::variables()
    double number = 0.0;      // Op::Number: the value
};

// How many operands `op` takes from the stack (0 for pushes).
int arity(Op op);
// The source spelling of an operator or function ("+", "sin", ...); "number"/"variable" for pushes.
std::string_view op_name(Op op);
// The names of all functions with their argument count, for help texts: "sin(x)", "pow(x, y)", ...
std::vector<std::string> function_names();
// Whether `name` can name a variable: an identifier ([A-Za-z_][A-Za-z0-9_]*) that is not the
// name of a function or a constant.
bool is_variable_name(std::string_view name);
// Whether `name` is a function or a constant (and therefore cannot be a variable).
bool is_reserved_name(std::string_view name);

namespace detail {
// Scalar helpers the engine provides for ad::Value but <cmath> lacks for double. Expr::evaluate
// brings these into scope with using-declarations; for ad::Value, argument-dependent lookup
// picks the engine's overloads instead.
inline double sigmoid(double x) {  // 1 / (1 + e^-x), in a form that never overflows
    return x >= 0.0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
}
inline double relu(double x) { return x > 0.0 ? x : 0.0; }
// fmin/fmax, as the engine's ad::min/ad::max, so both evaluations of a program agree.
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }

// A constant of the expression as a T. Uses T::constant(c) when T has one (a graph node that
// does not require grad), otherwise T(c).
template <class T>
T make_constant(double c) {
    if constexpr (requires { T::constant(c); }) {
        return T::constant(c);
    } else {
        return T(c);
    }
}

// Throws ad::ValueError when `given` differs from `expected` (the number of variables).
void check_value_count(std::size_t given, std::size_t expected);
}  // namespace detail

// A parsed expression: a postfix program over the variables it mentions.
class Expr {
public:
    // The variables, in order of first appearance in the text.
    const std::vector<std::string>& variables() const { return variables_; }
    // The 1-based column where variables()[k] first appears (for "no value for 'y'" errors).
    std::size_t variable_column(std::size_t k) const { return variable_columns_.at(k); }
    // The postfix program; running it leaves exactly one value on the stack.
    const std::vector<Instr>& program() const { return program_; }
    // The largest stack the program needs.
    std::size_t max_stack() const { return max_stack_; }

    // Runs the program with var_values[k] as the value of variables()[k]. Works for double and
    // for any scalar type with the operators and math functions found by unqualified lookup
    // (ad::Value). Throws ad::ValueError when var_values.size() != variables().size().
    template <class T>
    T evaluate(const std::vector<T>& var_values) const;

private:
    friend class Parser;
    std::vector<Instr> program_;
    std::vector<std::string> variables_;
    std::vector<std::size_t> variable_columns_;
    std::size_t max_stack_ = 0;
};

// Parses `text`. Throws ParseError (with the column) on any malformed input.
Expr parse_expr(std::string_view text);

// ---- implementation of the template -------------------------------------------------------

template <class T>
T apply_unary(Op op, const T& a) {
    using detail::relu;
    using detail::sigmoid;
    using std::abs, std::cos, std::erf, std::exp, std::log, std::log1p, std::sin, std::sqrt,
        std::tan, std::tanh;
    switch (op) {
        case Op::Neg: return -a;
        case Op::Sin: return sin(a);
        case Op::Cos: return cos(a);
        case Op::Tan: return tan(a);
        case Op::Exp: return exp(a);
        case Op::Log: return log(a);
        case Op::Log1p: return log1p(a);
        case Op::Sqrt: return sqrt(a);
        case Op::Tanh: return tanh(a);
        case Op::Sigmoid: return sigmoid(a);
        case Op::Relu: return relu(a);
        case Op::Abs: return abs(a);
        case Op::Erf: return erf(a);
        default: break;
    }
    throw ad::ValueError("adcalc: apply_unary: not a unary operation: " + std::string(op_name(op)));
}

namespace detail {
// Scalar types that tell constants apart (ad::Value::is_constant).
template <class T>
concept KnowsConstants = requires(const T& t) {
    { t.is_constant() } -> std::convertible_to<bool>;
    { t.value() } -> std::convertible_to<double>;
};

// + - * / ^ with a T or a plain double on either side.
template <class T, class A, class B>
T arithmetic(Op op, const A& a, const B& b) {
    using std::pow;
    switch (op) {
        case Op::Add: return a + b;
        case Op::Sub: return a - b;
        case Op::Mul: return a * b;
        case Op::Div: return a / b;
        case Op::Pow: return pow(a, b);
        default: break;
    }
    throw ad::ValueError("adcalc: arithmetic: not an arithmetic operator: " + std::string(op_name(op)));
}
}  // namespace detail

template <class T>
T apply_binary(Op op, const T& a, const T& b) {
    using detail::max;
    using detail::min;
    using std::atan2, std::hypot;
    switch (op) {
        case Op::Add:
        case Op::Sub:
        case Op::Mul:
        case Op::Div:
        case Op::Pow:
            // A constant operand goes in as a plain number: the engine then records one entry
            // ("x * 2") instead of a constant node and a product.
            if constexpr (detail::KnowsConstants<T>) {
                if (b.is_constant()) return detail::arithmetic<T>(op, a, b.value());
                if (a.is_constant()) return detail::arithmetic<T>(op, a.value(), b);
            }
            return detail::arithmetic<T>(op, a, b);
        case Op::Atan2: return atan2(a, b);
        case Op::Hypot: return hypot(a, b);
        case Op::Min: return min(a, b);
        case Op::Max: return max(a, b);
        default: break;
    }
    throw ad::ValueError("adcalc: apply_binary: not a binary operation: " + std::string(op_name(op)));
}

template <class T>
T Expr::evaluate(const std::vector<T>& var_values) const {
    detail::check_value_count(var_values.size(), variables_.size());
    std::vector<T> stack;
    stack.reserve(max_stack_);
    for (const Instr& in : program_) {
        switch (arity(in.op)) {
            case 0:
                if (in.op == Op::Number) {
                    stack.push_back(detail::make_constant<T>(in.number));
                } else {
                    stack.push_back(var_values[in.index]);
                }
                break;
            case 1: {
                T r = apply_unary(in.op, stack.back());
                stack.back() = std::move(r);
                break;
            }
            default: {
                T r = apply_binary(in.op, stack[stack.size() - 2], stack.back());
                stack.pop_back();
                stack.back() = std::move(r);
                break;
            }
        }
    }
    // The parser guarantees a well-formed program: exactly one value remains.
    return std::move(stack.back());
}

}  // namespace adcalc
