#pragma once
// The backward rule of every scalar op, written once.
//
// `T` is double for the plain first-order sweep and ad::Value when the backward pass is itself
// recorded (create_graph): the same formulas then build the graph of the gradient, which is how
// gradients of gradients, Hessians and Hessian-vector products come for free.
//
// Ctx provides:  T arg(i)      the value of entry i, as T (a handle to entry i when T is Value)
//                double num(i) the value of entry i, as a number (for branches at kinks)
//                double cst(i) constant i of the tape's pool
//                void acc(i, T) adds a contribution to entry i's adjoint
//                void stmt(first, count, T) the backward of a statement (ad::Real)
//                std::uint32_t list(k) argument k of an n-ary op (Tape::stmt_arg[k])
// Each rule reads: y = entry i, a/b = its arguments, g = ∂L/∂y.
#include <autodiff/value.hpp>

#include <numbers>

namespace ad::detail {

template <class T, class Ctx>
[[gnu::always_inline]] inline void scalar_backward(Ctx& c, Op op, std::uint32_t i, std::uint32_t a, std::uint32_t b, const T& g) {
    using std::cos;  // double: std::; Value: found by argument-dependent lookup
    using std::exp;
    using std::log;
    using std::pow;
    using std::sin;
    switch (op) {
    case Op::Leaf:
    case Op::Const:
    case Op::Tensor:
    case Op::FromTensor:  // handled by the sweep
        break;
    case Op::Add:  // y = a + b
        c.acc(a, g);
        c.acc(b, g);
        break;
    case Op::Sub:  // y = a − b
        c.acc(a, g);
        c.acc(b, -g);
        break;
    case Op::Mul:  // y = a b
        c.acc(a, g * c.arg(b));
        c.acc(b, g * c.arg(a));
        break;
    case Op::Div:  // y = a / b: ∂a = 1/b, ∂b = −y/b
        c.acc(a, g / c.arg(b));
        c.acc(b, -g * c.arg(i) / c.arg(b));
        break;
    case Op::Neg:
        c.acc(a, -g);
        break;
    case Op::AddC:  // y = a + k
        c.acc(a, g);
        break;
    case Op::MulC:  // y = k a
        c.acc(a, g * c.cst(b));
        break;
    case Op::DivC:  // y = a / k
        c.acc(a, g / c.cst(b));
        break;
    case Op::RSubC:  // y = k − a
        c.acc(a, -g);
        break;
    case Op::RDivC:  // y = k / a: ∂a = −k/a² = −y/a
        c.acc(a, -g * c.arg(i) / c.arg(a));
        break;
    case Op::PowC: {  // y = a^k: ∂a = k a^{k−1}; exactly 0 when k = 0 (no 0·inf at a = 0)
        const double k = c.cst(b);
        if (k == 0.0) break;
        if (k == 1.0) {
            c.acc(a, g);
        } else if (k == 2.0) {
            c.acc(a, g * (2.0 * c.arg(a)));
        } else {
            c.acc(a, g * (k * pow(c.arg(a), k - 1.0)));
        }
        break;
    }
    case Op::RPowC:  // y = k^a: ∂a = y log k
        c.acc(a, g * c.arg(i) * std::log(c.cst(b)));
        break;
    case Op::Pow: {  // y = a^b: ∂a = b a^{b−1} (0 when b = 0); ∂b = y log a (0 when a = 0 and b ≥ 0)
        const double av = c.num(a), bv = c.num(b);
        if (bv != 0.0) c.acc(a, g * c.arg(b) * pow(c.arg(a), c.arg(b) - 1.0));
        if (!(av == 0.0 && bv >= 0.0)) c.acc(b, g * c.arg(i) * log(c.arg(a)));
        break;
    }
    case Op::Exp:  // ∂a = y
        c.acc(a, g * c.arg(i));
        break;
    case Op::Log:  // ∂a = 1/a
        c.acc(a, g / c.arg(a));
        break;
    case Op::Log1p:  // ∂a = 1/(1 + a)
        c.acc(a, g / (c.arg(a) + 1.0));
        break;
    case Op::Sqrt:  // ∂a = 1/(2y)
        c.acc(a, g / (c.arg(i) * 2.0));
        break;
    case Op::Sin:  // ∂a = cos a
        c.acc(a, g * cos(c.arg(a)));
        break;
    case Op::Cos:  // ∂a = −sin a
        c.acc(a, -g * sin(c.arg(a)));
        break;
    case Op::Tan:  // ∂a = 1 + y²
        c.acc(a, g * (c.arg(i) * c.arg(i) + 1.0));
        break;
    case Op::Tanh:  // ∂a = 1 − y²
        c.acc(a, g * (1.0 - c.arg(i) * c.arg(i)));
        break;
    case Op::Sigmoid:  // ∂a = y (1 − y)
        c.acc(a, g * (c.arg(i) * (1.0 - c.arg(i))));
        break;
    case Op::Relu:  // ∂a = 0 if a <= 0, else 1 (PyTorch: relu'(0) = 0, a NaN passes the gradient)
        if (!(c.num(a) <= 0.0)) c.acc(a, g);
        break;
    case Op::Abs: {  // ∂a = sign a (abs'(0) = 0)
        const double av = c.num(a);
        if (av > 0.0) c.acc(a, g);
        if (av < 0.0) c.acc(a, -g);
        break;
    }
    case Op::Square:  // ∂a = 2a
        c.acc(a, g * (c.arg(a) * 2.0));
        break;
    case Op::Erf:  // ∂a = 2/√π e^{−a²}
        c.acc(a, g * (exp(-(c.arg(a) * c.arg(a))) * (2.0 * std::numbers::inv_sqrtpi)));
        break;
    case Op::Min:
    case Op::Max: {  // the gradient goes to the selected argument; split equally at ties (PyTorch)
        const double av = c.num(a), bv = c.num(b);
        const bool a_wins = op == Op::Max ? av > bv : av < bv;
        if (av == bv) {
            c.acc(a, g * 0.5);
            c.acc(b, g * 0.5);
        } else if (a_wins) {
            c.acc(a, g);
        } else {
            c.acc(b, g);
        }
        break;
    }
    case Op::Atan2: {  // y = atan2(a, b): ∂a = b/(a²+b²), ∂b = −a/(a²+b²)
        const T r = c.arg(a) * c.arg(a) + c.arg(b) * c.arg(b);
        c.acc(a, g * c.arg(b) / r);
        c.acc(b, -g * c.arg(a) / r);
        break;
    }
    case Op::Hypot:  // y = √(a² + b²): ∂a = a/y, ∂b = b/y
        c.acc(a, g * c.arg(a) / c.arg(i));
        c.acc(b, g * c.arg(b) / c.arg(i));
        break;
    case Op::Sum:  // y = Σ x_k: ∂x_k = 1
        for (std::uint32_t k = a; k < a + b; ++k) c.acc(c.list(k), g);
        break;
    case Op::Dot:  // y = Σ x_k z_k (pairs): ∂x_k = z_k, ∂z_k = x_k
        for (std::uint32_t k = a; k < a + b; k += 2) {
            const std::uint32_t x = c.list(k), z = c.list(k + 1);
            c.acc(x, g * c.arg(z));
            c.acc(z, g * c.arg(x));
        }
        break;
    case Op::Stmt:  // y = f(x₁, …, x_b): the partials ∂f/∂x_k were recorded with the statement
        c.stmt(a, b, g);
        break;
    }
}

}  // namespace ad::detail
