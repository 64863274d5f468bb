#pragma once
// A yardstick, not an engine: the least a statement tape must do to give a gradient.
//
// This is the design of the fastest C++ taping tools (CoDiPack's Jacobian tape with linear
// indices): a statement is recorded as its argument count, and for each argument its identifier
// and partial derivative; inputs are identifiers 1..n, not objects; the reverse sweep walks the
// statements from the last and scatters each adjoint into its arguments'. There are no handles,
// no lifetime accounting, no leaf objects with their own gradients, no op codes, no values kept
// for other ops, no checks, and the partials are written by hand for each benchmark function
// (no expression templates). bench_scalar times it next to ad::Real on the same functions, so
// the distance from Real to this floor is measured in the same run instead of quoted.
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace bench {

class ReferenceTape {
public:
    struct Active {  // what a CoDiPack active double holds: a value and an identifier (0: passive)
        double v;
        std::uint32_t id;
    };

    // Starts a recording with n inputs of these values (identifiers 1..n); keeps capacity.
    void begin(std::span<const double> x, std::vector<Active>& inputs) {
        n_args_ = 0;
        next_ = 1;
        n_inputs_ = x.size();
        make_room(x.size(), 0);
        inputs.resize(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) {
            inputs[i] = {x[i], next_};
            counts_[next_++] = 0;  // an input is a statement without arguments
        }
    }
    // One statement: its value, and (identifier, partial) for each argument (identifier 0: a
    // passive one, skipped). The argument count is a template parameter, so the loop unrolls;
    // room is checked once per statement, and the columns are written through local pointers.
    struct Arg {
        std::uint32_t id;
        double partial;
    };
    template <std::size_t N>
    Active record(double v, const Arg (&args)[N]) {
        make_room(1, N);
        std::uint32_t* arg = args_.data() + n_args_;
        double* partial = partials_.data() + n_args_;
        const std::uint32_t id = next_;
        std::uint32_t n = 0;
        for (std::size_t k = 0; k < N; ++k) {
            if (args[k].id == 0) continue;
            arg[n] = args[k].id;
            partial[n] = args[k].partial;
            ++n;
        }
        n_args_ += n;
        next_ = id + 1;
        counts_[id] = static_cast<std::uint8_t>(n);  // last: a byte store may alias every member
        return {v, id};
    }
    // Reverse sweep from `out`; the inputs' adjoints (the gradient) are copied to grad.
    void gradient(Active out, std::vector<double>& grad) {
        adjoints_.assign(next_, 0.0);
        double* adj = adjoints_.data();
        const std::uint8_t* counts = counts_.data();
        const std::uint32_t* args = args_.data();
        const double* partials = partials_.data();
        adj[out.id] = 1.0;
        std::size_t p = n_args_;
        for (std::uint32_t id = next_ - 1; id >= 1; --id) {
            const double g = adj[id];
            for (std::uint8_t k = counts[id]; k > 0; --k) {
                --p;
                adj[args[p]] += g * partials[p];
            }
        }
        grad.assign(adjoints_.begin() + 1, adjoints_.begin() + 1 + static_cast<std::ptrdiff_t>(n_inputs_));
    }
    std::size_t bytes() const {  // recorded bytes (the adjoint vector, 8 bytes per identifier, aside)
        return (next_ - 1) + n_args_ * (sizeof(std::uint32_t) + sizeof(double));  // one count per identifier
    }

private:
    // Capacity for `statements` more statements and `args` more arguments: two compares inline,
    // the doubling out of line (a second recording of the same size never grows).
    void make_room(std::size_t statements, std::size_t args) {
        if (next_ + statements > counts_.size() || n_args_ + args > args_.size()) [[unlikely]]
            grow(statements, args);
    }
    [[gnu::noinline]] void grow(std::size_t statements, std::size_t args) {
        if (next_ + statements > counts_.size())
            counts_.resize(std::max<std::size_t>(2 * counts_.size(), next_ + statements + 1024));
        if (n_args_ + args > args_.size()) {
            const std::size_t cap = std::max<std::size_t>(2 * args_.size(), n_args_ + args + 1024);
            args_.resize(cap);
            partials_.resize(cap);
        }
    }
    std::vector<std::uint8_t> counts_;  // per identifier (index 0 unused); size() is the capacity
    std::vector<std::uint32_t> args_;   // size() is the capacity; n_args_ are in use
    std::vector<double> partials_;
    std::vector<double> adjoints_;
    std::size_t n_args_ = 0;
    std::size_t n_inputs_ = 0;
    std::uint32_t next_ = 1;
};

}  // namespace bench
