#!/usr/bin/env python3
"""Coefficients of the polynomials in autodiff/elementary.hpp, with mpmath at 40 digits
(Debian: python3-mpmath). Run: python3 tools/fit_elementary.py

tanh, |x| < 0.55:  tanh x = x + x·y·P(y), y = x², P the Chebyshev interpolant with 11 coefficients
                   of g(y) = (tanh √y − √y) / √y³ on [0, 0.55²].
exp, |r| ≤ ln2/2:  e^r = 1 + (r + r²·Q(r)), Q the Chebyshev interpolant with 11 coefficients of
                   (e^r − 1 − r) / r².
Each is printed lowest degree first as C hex-float literals, with the fit's maximum error.
"""
import mpmath as mp

mp.mp.dps = 40


def show(name, f, interval, n):
    coeffs, err = mp.chebyfit(f, interval, n, error=True)
    print(f"{name}: {n} coefficients on [{mp.nstr(interval[0], 6)}, {mp.nstr(interval[1], 6)}], max error {mp.nstr(err, 3)}")
    for a in reversed(coeffs):  # chebyfit lists the highest degree first
        print(f"    {float(a).hex()}  // {mp.nstr(a, 20)}")
    return err


def tanh_g(y):
    if y == 0:
        return mp.mpf(-1) / 3
    s = mp.sqrt(y)
    return (mp.tanh(s) - s) / s**3


def exp_q(r):
    if r == 0:
        return mp.mpf(1) / 2
    return (mp.exp(r) - 1 - r) / r**2


c = mp.mpf("0.55")
err = show("tanh P", tanh_g, [0, c * c], 11)
# Relative to tanh x the error is x³·err / tanh x, largest at x = c:
print(f"  relative to tanh x: at most {mp.nstr(c**3 * err / mp.tanh(c), 3)} (2^-58 = {mp.nstr(mp.mpf(2)**-58, 3)})")
h = mp.log(2) / 2
err = show("exp Q", exp_q, [-h, h], 11)
print(f"  relative to e^r: at most {mp.nstr(err * h * h / mp.exp(-h), 3)}")
