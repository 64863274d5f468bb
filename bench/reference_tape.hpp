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
#include <cstdint>
#include <initializer_list>
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
        counts_.clear();
        args_.clear();
        partials_.clear();
        next_ = 1;
        n_inputs_ = x.size();
        inputs.resize(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) {
            inputs[i] = {x[i], next_++};
            counts_.push_back(0);  // an input is a statement without arguments
        }
    }
    // One statement: its value, and (identifier, partial) for each active argument.
    Active record(double v, std::initializer_list<std::pair<std::uint32_t, double>> args) {
        std::uint8_t n = 0;
        for (const auto& [id, d] : args) {
            if (id == 0) continue;
            args_.push_back(id);
            partials_.push_back(d);
            ++n;
        }
        counts_.push_back(n);
        return {v, next_++};
    }
    // Reverse sweep from `out`; the inputs' adjoints (the gradient) are copied to grad.
    void gradient(Active out, std::vector<double>& grad) {
        adjoints_.assign(next_, 0.0);
        adjoints_[out.id] = 1.0;
        std::size_t p = args_.size();
        for (std::uint32_t id = next_ - 1; id >= 1; --id) {
            const double g = adjoints_[id];
            for (std::uint8_t k = counts_[id - 1]; k > 0; --k) {
                --p;
                adjoints_[args_[p]] += g * partials_[p];
            }
        }
        grad.assign(adjoints_.begin() + 1, adjoints_.begin() + 1 + static_cast<std::ptrdiff_t>(n_inputs_));
    }
    std::size_t bytes() const {  // recorded bytes (the adjoint vector, 8 bytes per identifier, aside)
        return counts_.size() + args_.size() * (sizeof(std::uint32_t) + sizeof(double));
    }

private:
    std::vector<std::uint8_t> counts_;
    std::vector<std::uint32_t> args_;
    std::vector<double> partials_;
    std::vector<double> adjoints_;
    std::size_t n_inputs_ = 0;
    std::uint32_t next_ = 1;
};

}  // namespace bench
