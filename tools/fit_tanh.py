#!/usr/bin/env python3
"""Coefficients of ad::detail::tanh's polynomial (autodiff/elementary.hpp).

For |x| < 0.55 the engine computes tanh x = x + x·y·P(y), y = x², where P is the Chebyshev
interpolant of g(y) = (tanh √y − √y) / √y³ on [0, 0.55²] with 11 coefficients. This prints them
(lowest degree first) as C hex-float literals, and the fit's maximum error, with mpmath at 40
digits (Debian: python3-mpmath). Run: python3 tools/fit_tanh.py
"""
import mpmath as mp

mp.mp.dps = 40


def g(y):
    if y == 0:
        return mp.mpf(-1) / 3
    s = mp.sqrt(y)
    return (mp.tanh(s) - s) / s**3


c = mp.mpf("0.55")
coeffs, err = mp.chebyfit(g, [0, c * c], 11, error=True)
for a in reversed(coeffs):  # chebyfit lists the highest degree first
    print(f"{float(a).hex()}  // {mp.nstr(a, 20)}")
print(f"max |P - g| on [0, {mp.nstr(c * c, 6)}]: {mp.nstr(err, 3)}")
# Relative to tanh x, the error is x³·err / tanh x, largest at x = c:
print(f"relative to tanh x, at most {mp.nstr(c**3 * err / mp.tanh(c), 3)} (2^-58 = {mp.nstr(mp.mpf(2)**-58, 3)})")
