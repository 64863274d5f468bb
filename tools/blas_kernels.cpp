// blas_kernels: which OpenBLAS kernels a program linked like ours runs here, and which it could.
//
//     build/tools/blas_kernels             a report: kernels in use, the CPU's widest, advice
//     build/tools/blas_kernels --suggest   the OPENBLAS_CORETYPE worth exporting, or nothing
//     build/tools/blas_kernels --advice    the advice alone, or nothing
//
// tools/openblas-env.sh runs the second form when OPENBLAS_CORETYPE is unset, the third when it is set.
#include <autodiff/blas_kernels.hpp>
#include <CLI/CLI.hpp>
#include <fmt/format.h>

int main(int argc, char** argv) {
    CLI::App app{"Which OpenBLAS kernels this machine runs, and which it could (see autodiff/blas_kernels.hpp)"};
    bool suggest = false;
    app.add_flag("--suggest", suggest, "print only the OPENBLAS_CORETYPE worth setting (nothing when none is)");
    bool advice_only = false;
    app.add_flag("--advice", advice_only, "print only the advice (nothing when there is none)");
    CLI11_PARSE(app, argc, argv);

    const ad::BlasKernels k = ad::blas_kernels();
    if (suggest || advice_only) {
        if (const std::string s = suggest ? k.suggestion() : k.advice(); !s.empty()) fmt::print("{}\n", s);
        return 0;
    }
    fmt::print("OpenBLAS kernels in use: {}{}\n", k.in_use, k.forced ? " (OPENBLAS_CORETYPE set)" : " (OpenBLAS's own choice)");
    fmt::print("widest kernels this CPU can run: {}\n", k.best.empty() ? std::string("(none better than SSE)") : k.best);
    const std::string a = k.advice();
    fmt::print("{}\n", a.empty() ? std::string("nothing to change") : a);
    return 0;
}
