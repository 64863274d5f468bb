// Parser of adcalc's expression language: a shunting-yard over an explicit operator stack.
// See expr.hpp for the grammar and the guarantees.
#include "expr.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <unordered_map>

namespace adcalc {

ParseError::ParseError(std::size_t col, const std::string& msg)
    : ad::ValueError(fmt::format("error at column {}: {}", col, msg)), column(col), message(msg) {}

namespace {

struct FunctionInfo {
    std::string_view name;
    Op op;
    int args;
};

constexpr std::array<FunctionInfo, 17> kFunctions{{
    {"sin", Op::Sin, 1},         {"cos", Op::Cos, 1},     {"tan", Op::Tan, 1},
    {"exp", Op::Exp, 1},         {"log", Op::Log, 1},     {"log1p", Op::Log1p, 1},
    {"sqrt", Op::Sqrt, 1},       {"tanh", Op::Tanh, 1},   {"sigmoid", Op::Sigmoid, 1},
    {"relu", Op::Relu, 1},       {"abs", Op::Abs, 1},     {"erf", Op::Erf, 1},
    {"pow", Op::Pow, 2},         {"atan2", Op::Atan2, 2}, {"hypot", Op::Hypot, 2},
    {"min", Op::Min, 2},         {"max", Op::Max, 2},
}};

const FunctionInfo* find_function(std::string_view name) {
    for (const FunctionInfo& f : kFunctions) {
        if (f.name == name) return &f;
    }
    return nullptr;
}

std::optional<double> find_constant(std::string_view name) {
    if (name == "pi") return 3.14159265358979323846;
    if (name == "e") return 2.71828182845904523536;
    return std::nullopt;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }

std::string plural_args(int n) { return n == 1 ? "1 argument" : fmt::format("{} arguments", n); }

// Left and right binding of the operators, for the shunting-yard.
int precedence(Op op) {
    switch (op) {
        case Op::Add:
        case Op::Sub: return 1;
        case Op::Mul:
        case Op::Div: return 2;
        case Op::Neg: return 3;
        case Op::Pow: return 4;
        default: return 0;
    }
}

}  // namespace

int arity(Op op) {
    switch (op) {
        case Op::Number:
        case Op::Variable: return 0;
        case Op::Add:
        case Op::Sub:
        case Op::Mul:
        case Op::Div:
        case Op::Pow:
        case Op::Atan2:
        case Op::Hypot:
        case Op::Min:
        case Op::Max: return 2;
        default: return 1;
    }
}

std::string_view op_name(Op op) {
    switch (op) {
        case Op::Number: return "number";
        case Op::Variable: return "variable";
        case Op::Neg: return "unary -";
        case Op::Add: return "+";
        case Op::Sub: return "-";
        case Op::Mul: return "*";
        case Op::Div: return "/";
        case Op::Pow: return "^";
        default: break;
    }
    for (const FunctionInfo& f : kFunctions) {
        if (f.op == op) return f.name;
    }
    return "?";
}

std::vector<std::string> function_names() {
    std::vector<std::string> names;
    for (const FunctionInfo& f : kFunctions) {
        names.push_back(fmt::format("{}({})", f.name, f.args == 1 ? "x" : "x, y"));
    }
    return names;
}

bool is_reserved_name(std::string_view name) {
    return find_function(name) != nullptr || find_constant(name).has_value();
}

bool is_variable_name(std::string_view name) {
    if (name.empty() || !is_ident_start(name[0])) return false;
    if (!std::all_of(name.begin(), name.end(), is_ident_char)) return false;
    return !is_reserved_name(name);
}

void detail::check_value_count(std::size_t given, std::size_t expected) {
    if (given != expected) {
        throw ad::ValueError(fmt::format(
            "adcalc: Expr::evaluate: the expression has {} variable(s) but {} value(s) were given",
            expected, given));
    }
}

// Turns text into an Expr. One instance parses one text.
class Parser {
public:
    explicit Parser(std::string_view text) : text_(text) {}

    Expr run();

private:
    // An entry of the operator stack: an operator waiting for its right operand, or an open
    // parenthesis (plain, or the argument list of a function call).
    struct Pending {
        enum Kind : std::uint8_t { Unary, Binary, Paren, Call };
        Kind kind;
        Op op = Op::Number;           // Unary/Binary/Call: the operation to emit
        std::size_t pos = 0;          // Paren/Call: offset of the '('
        std::size_t name_pos = 0;     // Call: offset of the function's name
        int commas = 0;               // Call: ',' seen so far
        std::string_view name = {};   // Call: the function's name ("pow", not "^")
    };

    [[noreturn]] void fail(std::size_t pos, const std::string& msg) const { throw ParseError(pos + 1, msg); }
    std::string describe(std::size_t pos) const;
    std::size_t skip_space(std::size_t pos) const;
    std::size_t token_end(std::size_t pos) const;

    // Each consumes one token at pos_ and returns whether an operand is expected next.
    bool operand();
    bool after_operand();

    void number();
    bool identifier();  // true when it opened a function call
    void binary(Op op);
    void close_paren();
    void comma();
    void finish();
    void pop_to_paren();  // emits pending operators down to the innermost open parenthesis
    void emit(Op op);

    std::string_view text_;
    std::size_t pos_ = 0;
    std::vector<Pending> pending_;
    std::size_t open_parens_ = 0;  // Paren/Call entries in pending_ (for "unmatched ')'")
    std::unordered_map<std::string, std::uint32_t> variable_index_;
    Expr expr_;
};

Expr parse_expr(std::string_view text) { return Parser(text).run(); }

Expr Parser::run() {
    bool expect_operand = true;
    for (pos_ = skip_space(0); pos_ < text_.size(); pos_ = skip_space(pos_)) {
        expect_operand = expect_operand ? operand() : after_operand();
    }
    if (expect_operand) {
        if (expr_.program_.empty() && pending_.empty()) fail(0, "empty expression");
        fail(text_.size(), "unexpected end of expression: expected a number, a variable, a function or '('");
    }
    finish();
    std::size_t depth = 0;
    for (const Instr& in : expr_.program_) {  // pushes add a value, binary operations take one
        const int n = arity(in.op);
        if (n == 0) expr_.max_stack_ = std::max(expr_.max_stack_, ++depth);
        if (n == 2) --depth;
    }
    return std::move(expr_);
}

std::size_t Parser::skip_space(std::size_t pos) const {
    while (pos < text_.size() && is_space(text_[pos])) ++pos;
    return pos;
}

// The end of the token starting at pos (a name, a number, or one character).
std::size_t Parser::token_end(std::size_t pos) const {
    std::size_t end = pos + 1;
    if (is_ident_start(text_[pos])) {
        while (end < text_.size() && is_ident_char(text_[end])) ++end;
    } else if (is_digit(text_[pos]) || text_[pos] == '.') {
        while (end < text_.size() && (is_ident_char(text_[end]) || text_[end] == '.')) ++end;
    }
    return end;
}

// The token at pos for an error message: "'sinn'", "'#'", "byte 0x01", "the end of the expression".
std::string Parser::describe(std::size_t pos) const {
    if (pos >= text_.size()) return "the end of the expression";
    const auto c = static_cast<unsigned char>(text_[pos]);
    if (c < 0x20 || c >= 0x7f) return fmt::format("byte 0x{:02x}", c);
    const std::size_t end = std::min(token_end(pos), pos + 40);
    return fmt::format("'{}'", text_.substr(pos, end - pos));
}

bool Parser::operand() {
    const char c = text_[pos_];
    if (is_digit(c) || (c == '.' && pos_ + 1 < text_.size() && is_digit(text_[pos_ + 1]))) {
        number();
        return false;
    }
    if (is_ident_start(c)) return identifier();
    switch (c) {
        case '(':
            pending_.push_back({Pending::Paren, Op::Number, pos_, 0, 0});
            ++open_parens_;
            ++pos_;
            return true;
        case '-':
            pending_.push_back({Pending::Unary, Op::Neg, pos_, 0, 0});
            ++pos_;
            return true;
        case '+':  // unary plus changes nothing
            ++pos_;
            return true;
        case ')':
            if (!pending_.empty() && pending_.back().kind == Pending::Call) {
                const Pending& call = pending_.back();
                const int want = arity(call.op);
                if (call.commas == 0) {
                    fail(call.name_pos, fmt::format("function '{}' takes {}, got none", call.name,
                                                     plural_args(want)));
                }
            }
            if (!pending_.empty() && pending_.back().kind == Pending::Paren) fail(pos_, "empty parentheses '()'");
            break;
        default: break;
    }
    if (c == ')' && open_parens_ == 0) fail(pos_, "unmatched ')'");
    fail(pos_, fmt::format("expected a number, a variable, a function or '(' but found {}", describe(pos_)));
}

bool Parser::after_operand() {
    const char c = text_[pos_];
    switch (c) {
        case '+': binary(Op::Add); return true;
        case '-': binary(Op::Sub); return true;
        case '*': binary(Op::Mul); return true;
        case '/': binary(Op::Div); return true;
        case '^': binary(Op::Pow); return true;
        case ')': close_paren(); return false;
        case ',': comma(); return true;
        default: break;
    }
    const char* expected = "an operator or the end of the expression";
    for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {  // the innermost parenthesis
        if (it->kind == Pending::Paren) expected = "an operator or ')'";
        if (it->kind == Pending::Call) expected = "an operator, ',' or ')'";
        if (it->kind == Pending::Paren || it->kind == Pending::Call) break;
    }
    fail(pos_, fmt::format("expected {} but found {}", expected, describe(pos_)));
}

void Parser::number() {
    const std::size_t start = pos_;
    std::size_t p = pos_;
    while (p < text_.size() && is_digit(text_[p])) ++p;
    if (p < text_.size() && text_[p] == '.') {
        ++p;
        while (p < text_.size() && is_digit(text_[p])) ++p;
    }
    // An exponent only when digits follow: "2e" is the number 2 followed by the constant e.
    if (p < text_.size() && (text_[p] == 'e' || text_[p] == 'E')) {
        std::size_t q = p + 1;
        if (q < text_.size() && (text_[q] == '+' || text_[q] == '-')) ++q;
        if (q < text_.size() && is_digit(text_[q])) {
            p = q;
            while (p < text_.size() && is_digit(text_[p])) ++p;
        }
    }
    const std::string_view digits = text_.substr(start, p - start);
    double value = 0.0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec == std::errc::result_out_of_range) {
        // from_chars reports underflow and overflow alike; strtod tells them apart.
        const std::string copy(digits);
        errno = 0;
        value = std::strtod(copy.c_str(), nullptr);
        if (std::isinf(value)) fail(start, fmt::format("number '{}' is too large", digits));
    } else if (ec != std::errc() || end != digits.data() + digits.size()) {
        fail(start, fmt::format("malformed number '{}'", digits));
    }
    pos_ = p;
    expr_.program_.push_back({Op::Number, 0, value});
}

bool Parser::identifier() {
    const std::size_t start = pos_;
    pos_ = token_end(start);
    const std::string_view name = text_.substr(start, pos_ - start);
    const std::size_t after = skip_space(pos_);
    const FunctionInfo* function = find_function(name);
    const std::optional<double> constant = find_constant(name);
    if (after < text_.size() && text_[after] == '(') {
        if (function == nullptr) {
            if (constant) fail(start, fmt::format("'{}' is a constant, not a function", name));
            fail(start, fmt::format("unknown function '{}'", name));
        }
        pending_.push_back({Pending::Call, function->op, after, start, 0, function->name});
        ++open_parens_;
        pos_ = after + 1;
        return true;
    }
    if (function != nullptr) {
        fail(start, fmt::format("function '{}' needs its {} in parentheses, e.g. {}", name,
                                plural_args(function->args), function->args == 1 ? "sin(x)" : "pow(x, y)"));
    }
    if (constant) {
        expr_.program_.push_back({Op::Number, 0, *constant});
    } else {
        auto [it, inserted] = variable_index_.try_emplace(std::string(name),
                                                          static_cast<std::uint32_t>(expr_.variables_.size()));
        if (inserted) {
            expr_.variables_.emplace_back(name);
            expr_.variable_columns_.push_back(start + 1);
        }
        expr_.program_.push_back({Op::Variable, it->second, 0.0});
    }
    return false;
}

// A binary operator after a complete operand: first emit the pending operators that bind tighter.
void Parser::binary(Op op) {
    const int prec = precedence(op);
    const bool right_assoc = op == Op::Pow;
    while (!pending_.empty()) {
        const Pending& top = pending_.back();
        if (top.kind != Pending::Unary && top.kind != Pending::Binary) break;
        const int top_prec = precedence(top.op);
        if (top_prec < prec || (top_prec == prec && right_assoc)) break;
        emit(top.op);
        pending_.pop_back();
    }
    pending_.push_back({Pending::Binary, op, pos_, 0, 0});
    ++pos_;
}

void Parser::pop_to_paren() {
    while (!pending_.empty() && (pending_.back().kind == Pending::Unary || pending_.back().kind == Pending::Binary)) {
        emit(pending_.back().op);
        pending_.pop_back();
    }
}

void Parser::close_paren() {
    pop_to_paren();
    if (pending_.empty()) fail(pos_, "unmatched ')'");
    const Pending open = pending_.back();
    pending_.pop_back();
    --open_parens_;
    if (open.kind == Pending::Call) {
        const int want = arity(open.op);
        const int got = open.commas + 1;
        if (got != want) {
            fail(open.name_pos, fmt::format("function '{}' takes {}, got {}", open.name, plural_args(want), got));
        }
        emit(open.op);
    }
    ++pos_;
}

void Parser::comma() {
    pop_to_paren();
    if (pending_.empty() || pending_.back().kind != Pending::Call) {
        fail(pos_, "',' outside the arguments of a function call");
    }
    ++pending_.back().commas;
    ++pos_;
}

void Parser::finish() {
    pop_to_paren();
    if (!pending_.empty()) {
        // pop_to_paren stopped at an open parenthesis that was never closed.
        fail(pending_.back().pos, "unmatched '('");
    }
}

// Appends an operation, folding it into a number when all its operands are numbers.
void Parser::emit(Op op) {
    std::vector<Instr>& prog = expr_.program_;
    const int n = arity(op);
    if (n == 1) {
        if (prog.back().op == Op::Number) {
            prog.back().number = apply_unary<double>(op, prog.back().number);
            return;
        }
    } else if (prog.size() >= 2 && prog.back().op == Op::Number && prog[prog.size() - 2].op == Op::Number) {
        // A push is a complete operand on its own, so the last two pushes are exactly the operands.
        const double folded = apply_binary<double>(op, prog[prog.size() - 2].number, prog.back().number);
        prog.pop_back();
        prog.back().number = folded;
        return;
    }
    prog.push_back({op, 0, 0.0});
}

}  // namespace adcalc
