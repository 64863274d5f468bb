#pragma once
// AD_MULTIVERSION: compile a hot loop three times — for x86-64-v4 (AVX-512), x86-64-v3 (AVX2,
// FMA) and the baseline (SSE2) — and pick the best one for the running CPU when the program
// loads (GCC's target_clones, an ifunc resolved once). The library itself stays built for the
// x86-64 baseline, so it runs everywhere; only the loops marked with this macro use wider vectors.
//
// Put it on a plain (non-template, non-inline) function whose body is the loop, with the loop's
// code force-inlined into it (AD_ALWAYS_INLINE), so each clone vectorizes the whole loop:
//
//     AD_ALWAYS_INLINE inline void axpy_body(float a, const float* x, float* y, long n) { ... }
//     AD_MULTIVERSION void axpy(float a, const float* x, float* y, long n) { axpy_body(a, x, y, n); }
//
// The clones do the same IEEE operations in the same order (meson.build passes -ffp-contract=off,
// so no clone fuses a*b+c into an FMA): results are bit-identical whichever runs.
//
// The macro is empty, and the loop compiled once, with clang, on other architectures, and under
// ThreadSanitizer (the loader runs the clones' resolver before TSan's runtime is up, and the
// instrumented resolver crashes the program at start).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__has_attribute) && \
    !defined(__SANITIZE_THREAD__)
#if __has_attribute(target_clones)
#define AD_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#endif
#ifndef AD_MULTIVERSION
#define AD_MULTIVERSION
#endif
#define AD_ALWAYS_INLINE [[gnu::always_inline]]
