#pragma once
// Function transforms in the style of JAX: give a function and a point, get derivatives back.
//
//     auto rosen = [](const std::vector<ad::Value>& v) {
//         return square(1.0 - v[0]) + 100.0 * square(v[1] - square(v[0]));
//     };
//     auto [f, g] = ad::value_and_grad(rosen, {-1.2, 1.0});   // f(x) and ∇f(x)
//     auto H = ad::hessian(rosen, {-1.2, 1.0});              // ∇²f(x), row-major
//     auto Hv = ad::hvp(rosen, {-1.2, 1.0}, {1.0, 0.0});     // ∇²f(x) v without forming ∇²f
//
// Two families, same names:
//   * scalar: functions of a vector of ad::Value (ScalarFunction, VectorFunction); points,
//     directions and results are std::vector<double>;
//   * tensor: functions of one ad::Tensor (UnaryTensorFunction); results are tensors of the
//     input's dtype (use float64 inputs for accurate derivatives). A multi-input tensor grad is
//     provided too.
//
// Every transform evaluates f on fresh variables made from the point, so it does not touch the
// caller's variables and leaves nothing on the tape when it returns (the graph it records is
// released with its handles). In the scalar world they are entries of the tape, not leaves
// (is_leaf() is false inside f): no leaf objects are made, and each first-order sweep stops above
// the inputs and reads their adjoints, the way ADOL-C's gradient() driver or CoDiPack work.
// f must be written with ad operations: an operation done on plain numbers (value()) is
// invisible to the graph and differentiates as a constant.
//
// How each derivative is computed (all reverse mode; the engine has no forward mode):
//   grad, value_and_grad  one reverse sweep (f over ad::Value, or faster over ad::Real, or
//                         fastest over ad::Active).
//   vjp                   one reverse sweep seeded with v: vᵀJ.
//   jvp                   the double-vjp trick: with u a dummy cotangent (zeros that require
//                         grad), g(u) = uᵀJ is recorded with create_graph; g is linear in u, so
//                         ∂⟨g(u), v⟩/∂u = J v exactly. Two sweeps; no Jacobian is formed.
//   jacobian              one reverse sweep per output element (rows of J).
//   hessian               ∇f with create_graph, then one reverse sweep per input (rows of H).
//   hvp                   ∇f with create_graph, then the gradient of ⟨∇f, v⟩: two sweeps,
//                         O(cost of f) memory and time whatever the dimension.
// Size mismatches (v not shaped like x or like f(x)) throw ad::ShapeError naming the transform.
#include <autodiff/active.hpp>
#include <autodiff/gradcheck.hpp>
#include <autodiff/real.hpp>
#include <autodiff/tensor.hpp>
#include <autodiff/value.hpp>

#include <functional>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace ad {

// ---------------------------------------------------------------------------------------------
// Scalar world: f maps n Values to one Value (ScalarFunction, declared in gradcheck.hpp) or to m
// Values (VectorFunction).
using VectorFunction = std::function<std::vector<Value>(const std::vector<Value>&)>;

// ∇f(x).
std::vector<double> grad(const ScalarFunction& f, const std::vector<double>& x);
// (f(x), ∇f(x)) from one evaluation and one sweep.
std::pair<double, std::vector<double>> value_and_grad(const ScalarFunction& f, const std::vector<double>& x);
// ∇²f(x) as n rows of n (row i is ∇ of ∂f/∂x_i).
std::vector<std::vector<double>> hessian(const ScalarFunction& f, const std::vector<double>& x);
// ∇²f(x) v without forming the Hessian.
std::vector<double> hvp(const ScalarFunction& f, const std::vector<double>& x, const std::vector<double>& v);
// J(x), m rows of n: J[i][j] = ∂f_i/∂x_j.
std::vector<std::vector<double>> jacobian(const VectorFunction& f, const std::vector<double>& x);
// (f(x), vᵀJ) for v of size m.
std::pair<std::vector<double>, std::vector<double>> vjp(const VectorFunction& f, const std::vector<double>& x,
                                                        const std::vector<double>& v);
// (f(x), J v) for v of size n (double-vjp trick).
std::pair<std::vector<double>, std::vector<double>> jvp(const VectorFunction& f, const std::vector<double>& x,
                                                        const std::vector<double>& v);

// ad::Real functions (first order): f maps n Reals to one Real, each assignment in it recorded
// as one statement. grad and value_and_grad accept them under the same names:
//     auto rosen = [](const std::vector<ad::Real>& v) { ... };   // explicitly Real
//     auto [f, g] = ad::value_and_grad(rosen, x);
// Hessians and other higher derivatives need ad::Value.
using RealFunction = std::function<Real(const std::vector<Real>&)>;
namespace detail {
std::pair<double, std::vector<double>> value_and_grad_real(const RealFunction& f, const std::vector<double>& x);
template <class F>
concept RealScalarFunction = std::is_invocable_r_v<Real, const F&, const std::vector<Real>&>;
}  // namespace detail
template <class F>
    requires detail::RealScalarFunction<F>
std::pair<double, std::vector<double>> value_and_grad(const F& f, const std::vector<double>& x) {
    return detail::value_and_grad_real(RealFunction(f), x);
}
template <class F>
    requires detail::RealScalarFunction<F>
std::vector<double> grad(const F& f, const std::vector<double>& x) {
    return detail::value_and_grad_real(RealFunction(f), x).second;
}

// ad::Active functions (first order, the fastest): f maps n Actives to one Active (grad,
// value_and_grad) or to m Actives (jacobian, vjp), recorded on a linear tape (active.hpp) that
// each thread keeps and reuses, so a second call at the same size allocates only its results:
//     template <class T> T rosen(const std::vector<T>& x) { ... }   // T = double, Value, Active
//     auto [f, g] = ad::value_and_grad(rosen<ad::Active>, x);
// Calls nest (f may call another transform); an Active of the outer call used inside the inner
// one poisons what it computes, and the inner transform's gradient of it is an ad::GraphError
// (active.hpp). Hessians and other higher derivatives need ad::Value.
namespace detail {
template <class F>
concept ActiveScalarFunction = std::is_invocable_r_v<Active, const F&, const std::vector<Active>&>;
template <class F>
concept ActiveVectorFunction = std::is_invocable_r_v<std::vector<Active>, const F&, const std::vector<Active>&>;
ActiveTape& active_transform_tape();  // this thread's, or a new one while it records (nesting)
// Records f at x on the thread's transform tape and hands (tape, f(x)) to `then`. f(x) is made an
// R (Active or a vector of them) while the recording is on: an f that returns an unevaluated
// expression has it recorded there.
template <class R, class F, class Then>
auto record_active_function(const F& f, const std::vector<double>& x, Then then) {
    ActiveTape* shared = &active_transform_tape();
    std::unique_ptr<ActiveTape> nested;  // the shared tape is busy: an outer transform is recording
    if (shared->recording()) shared = (nested = std::make_unique<ActiveTape>()).get();
    ActiveTape& tape = *shared;
    struct Ender {
        ActiveTape& t;
        ~Ender() { t.end(); }
    };
    thread_local std::vector<Active> inputs;  // capacity kept across calls
    std::vector<Active> xs;
    xs.swap(inputs);
    tape.begin(x, xs);
    const R y = [&]() -> R {
        Ender ender{tape};
        return f(xs);
    }();
    xs.swap(inputs);
    return then(tape, y);
}
}  // namespace detail
template <class F>
    requires detail::ActiveScalarFunction<F>
std::pair<double, std::vector<double>> value_and_grad(const F& f, const std::vector<double>& x) {
    return detail::record_active_function<Active>(f, x, [](ActiveTape& t, const Active& y) {
        return std::pair<double, std::vector<double>>(y.value(), t.gradient(y));
    });
}
template <class F>
    requires detail::ActiveScalarFunction<F>
std::vector<double> grad(const F& f, const std::vector<double>& x) {
    return detail::record_active_function<Active>(f, x, [](ActiveTape& t, const Active& y) { return t.gradient(y); });
}
template <class F>
    requires detail::ActiveVectorFunction<F>
std::vector<std::vector<double>> jacobian(const F& f, const std::vector<double>& x) {
    return detail::record_active_function<std::vector<Active>>(
        f, x, [](ActiveTape& t, const std::vector<Active>& y) { return t.jacobian(y); });
}
template <class F>
    requires detail::ActiveVectorFunction<F>
std::pair<std::vector<double>, std::vector<double>> vjp(const F& f, const std::vector<double>& x,
                                                        const std::vector<double>& v) {
    return detail::record_active_function<std::vector<Active>>(f, x, [&v](ActiveTape& t, const std::vector<Active>& y) {
        std::vector<double> values(y.size());
        for (std::size_t i = 0; i < y.size(); ++i) values[i] = y[i].value();
        return std::pair(std::move(values), t.vjp(y, v));
    });
}

// ---------------------------------------------------------------------------------------------
// Tensor world: f maps one tensor to a tensor.
using UnaryTensorFunction = std::function<Tensor(const Tensor&)>;

// ∇f(x), shaped like x; f(x) must have exactly one element (ShapeError otherwise).
Tensor grad(const UnaryTensorFunction& f, const Tensor& x);
// (f(x) detached, ∇f(x)).
std::pair<Tensor, Tensor> value_and_grad(const UnaryTensorFunction& f, const Tensor& x);
// (f(x) detached, vᵀJ shaped like x) for v shaped like f(x).
std::pair<Tensor, Tensor> vjp(const UnaryTensorFunction& f, const Tensor& x, const Tensor& v);
// (f(x) detached, J v shaped like f(x)) for v shaped like x (double-vjp trick).
std::pair<Tensor, Tensor> jvp(const UnaryTensorFunction& f, const Tensor& x, const Tensor& v);
// J with shape f(x).shape + x.shape: J[i..., j...] = ∂f(x)[i...]/∂x[j...].
Tensor jacobian(const UnaryTensorFunction& f, const Tensor& x);
// ∇²f(x) with shape x.shape + x.shape (f(x) must have one element).
Tensor hessian(const UnaryTensorFunction& f, const Tensor& x);
// ∇²f(x) v shaped like x, without forming the Hessian.
Tensor hvp(const UnaryTensorFunction& f, const Tensor& x, const Tensor& v);

// Several tensor inputs (TensorFunction, declared in gradcheck.hpp), one-element output:
// the gradient with respect to each input.
std::vector<Tensor> grad(const TensorFunction& f, const std::vector<Tensor>& xs);
std::pair<Tensor, std::vector<Tensor>> value_and_grad(const TensorFunction& f, const std::vector<Tensor>& xs);

}  // namespace ad
