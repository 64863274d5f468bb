#pragma once
// Arithmetic on tensors: + − × ÷, negation, powers, and tensor × Value.
// Binary ops broadcast like NumPy; their backward sums each gradient back to its input's shape.
// With a plain number on one side the number is a constant (no graph entry of its own).
#include <autodiff/tensor.hpp>

namespace ad {

Tensor operator+(const Tensor& a, const Tensor& b);  // ∂a = 1, ∂b = 1
Tensor operator-(const Tensor& a, const Tensor& b);  // ∂a = 1, ∂b = −1
Tensor operator*(const Tensor& a, const Tensor& b);  // ∂a = b, ∂b = a
Tensor operator/(const Tensor& a, const Tensor& b);  // ∂a = 1/b, ∂b = −a/b²
Tensor operator-(const Tensor& a);
Tensor neg(const Tensor& a);

Tensor operator+(const Tensor& a, double s);
Tensor operator+(double s, const Tensor& a);
Tensor operator-(const Tensor& a, double s);
Tensor operator-(double s, const Tensor& a);
Tensor operator*(const Tensor& a, double s);
Tensor operator*(double s, const Tensor& a);
Tensor operator/(const Tensor& a, double s);
Tensor operator/(double s, const Tensor& a);  // ∂a = −s/a²

// A Value (scalar of the graph) times / plus a tensor: one entry; ∂v = Σ g·a (resp. Σ g).
Tensor operator*(const Tensor& a, const Value& v);
Tensor operator*(const Value& v, const Tensor& a);
Tensor operator+(const Tensor& a, const Value& v);
Tensor operator+(const Value& v, const Tensor& a);

Tensor pow(const Tensor& a, double p);           // ∂a = p a^{p−1} (exactly 0 when p = 0)
Tensor pow(const Tensor& a, const Tensor& b);    // ∂a = b a^{b−1}; ∂b = a^b log a (0 where a = 0, b ≥ 0)
Tensor square(const Tensor& a);                  // ∂a = 2a

Tensor& operator+=(Tensor& a, const Tensor& b);  // a = a + b (recorded, not in place)
Tensor& operator-=(Tensor& a, const Tensor& b);
Tensor& operator*=(Tensor& a, const Tensor& b);
Tensor& operator/=(Tensor& a, const Tensor& b);

}  // namespace ad
