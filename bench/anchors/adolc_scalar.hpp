#pragma once
// ADOL-C anchor for the scalar benchmarks: the same scalar functions our engine differentiates,
// recorded and differentiated with ADOL-C (Debian libadolc-dev 2.7), plus plain-double timings
// so that benchmarks can report "AD time / plain time" ratios.
//
// Functions:
//   extended Rosenbrock  f(x) = sum_{i=0}^{n-2} [100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2]
//   dependent chain      x_{k+1} = sin(x_k) * 0.5 + x_k * x_k * 0.1, f = x_m, gradient df/dx_0
//
// What is timed (AdolcResult::seconds) is what an ADOL-C user pays for one gradient: recording
// (trace_on, creating the adoubles, every operation, trace_off) plus the derivative sweep(s),
// together. Untimed calibration happens once per problem size (see AdolcOptions::sized_buffers).
// The reported time is the median of AdolcOptions::repeats runs; value and gradient come from
// the last run. Not thread-safe (ADOL-C keeps global tape state).
#include <cstddef>
#include <vector>

namespace ad::anchors {

// One ADOL-C gradient evaluation: timing, function value and gradient.
struct AdolcResult {
    double seconds = 0.0;           // median wall time of record + gradient
    double value = 0.0;             // f at the given point (as computed while taping)
    std::vector<double> gradient;   // df/dx (size n for Rosenbrock, size 1 for the chain)
};

// How ADOL-C is driven. The defaults are the fastest settings found for Debian 12's ADOL-C 2.7.2
// that write no files (measured on a 2-core AMD EPYC, see bench/anchors/README.md).
struct AdolcOptions {
    // true:  trace_on(tag, keep = 1) keeps the Taylor values of the recording, then a single
    //        fos_reverse sweep gives the gradient (no second forward sweep). ~10% faster.
    // false: trace_on(tag), then the gradient() driver (zos_forward + fos_reverse).
    bool keep_taylors = true;
    // true:  pass operation/location/value/Taylor buffer sizes to trace_on that hold the whole
    //        tape in memory (from two small untimed recordings, extrapolated linearly; cached per
    //        problem size), so nothing is written to disk. Fastest at n = 1e4 (~20%); at
    //        Rosenbrock n = 1e6 (~206 MB of tape) ~15% slower than spilling, because the fresh
    //        buffers page-fault on every recording.
    // false: ADOL-C's compiled-in buffers (524288 entries each, or the cwd's .adolcrc); larger
    //        tapes spill to ADOLC-*.tap files in the current directory, and the Taylor file
    //        (ADOLC-Taylors_<tag>.tap, ~88 MB at n = 1e6) is left behind.
    bool sized_buffers = true;
    int repeats = 3;                // timed runs; the median is reported (>= 1)
};

// Record + gradient of the extended Rosenbrock function at x (x.size() >= 2, < 2^31).
// Throws ad::ValueError on a bad size or repeats < 1, ad::Error if ADOL-C reports a failure.
AdolcResult adolc_rosenbrock(const std::vector<double>& x, const AdolcOptions& options = {});

// Record + derivative of the dependent chain of `steps` steps (>= 1) from x0.
// Throws ad::ValueError on steps == 0 or repeats < 1, ad::Error if ADOL-C reports a failure.
AdolcResult adolc_chain(double x0, std::size_t steps, const AdolcOptions& options = {});

// Median seconds of `repeats` evaluations of the Rosenbrock value in plain doubles (no AD).
double plain_rosenbrock_seconds(const std::vector<double>& x, int repeats = 5);

// Median seconds of `repeats` evaluations of the chain in plain doubles (no AD).
double plain_chain_seconds(double x0, std::size_t steps, int repeats = 5);

// Reference results in plain doubles, for checking the ADOL-C (and our engine's) answers.
double rosenbrock_value(const std::vector<double>& x);
std::vector<double> rosenbrock_gradient(const std::vector<double>& x);  // analytic gradient
double chain_value(double x0, std::size_t steps);
double chain_derivative(double x0, std::size_t steps);  // forward chain rule in doubles

}  // namespace ad::anchors
