#pragma once
// ad::Active — an active double: a value and an identifier on a linear tape. The gradient of one
// function at one point, at the speed of the fastest statement-taping tools.
//
//     ad::ActiveTape tape;
//     std::vector<ad::Active> x = tape.begin({2.0, 3.0});   // inputs: identifiers 1 and 2
//     ad::Active f = sin(x[0]) * x[1] + exp(x[0] / x[1]);  // ONE statement: ∂f/∂x0 and ∂f/∂x1
//     tape.end();
//     std::vector<double> g = tape.gradient(f);            // {∂f/∂x0, ∂f/∂x1}
//
// or, as JAX writes it (functional.hpp; the function is typically a template over T):
//
//     auto [f, g] = ad::value_and_grad([](const std::vector<ad::Active>& x) -> ad::Active {
//         return sin(x[0]) * x[1] + exp(x[0] / x[1]);
//     }, {2.0, 3.0});
//
// Active has the arithmetic of ad::Real (expression.hpp: each assignment records one statement
// with its partial derivatives) and drops everything else a Real carries, which is what makes a
// Real cost two to three times the bare minimum (README, "Statement-level taping, measured"):
//   * no leaf objects: inputs are identifiers 1..n made by begin(); Active(2.0) is a constant
//     (unlike Real(2.0), which is a leaf), and only inputs and what is computed from them have
//     gradients, which gradient() returns instead of storing them anywhere;
//   * no handles: an Active is 16 bytes (value, identifier, recording number), copied freely,
//     counted nowhere; the statements stay on the tape until its next begin();
//   * first order only: no create_graph, no hooks, no DOT; use ad::Value for higher derivatives.
// The tape is CoDiPack's Jacobian tape with linear indices: one identifier per statement (its
// number), a one-byte count per identifier, and per argument a 4-byte identifier and an 8-byte
// partial; the reverse sweep walks the statements from the output down and scatters each adjoint
// into its arguments'. Three kinds of partial are not stored: one that is exactly 0 (a statement
// whose partials are all 0 gives a constant, as relu below 0 does); one known to be +1 or −1 when
// the code is compiled (x + y, x − y, x − 1.0; for statements of up to three arguments, whose
// count byte then names which of them are units); and the second of x * x of one named Active,
// which stores one partial, 2x. Rosenbrock's element then stores 3 of its 6 partials. The columns
// live in address space the tape reserves at its first begin() (room for 2^32 arguments, or
// ActiveTape(max_arguments)) and fills as far as a recording goes: they never move, so recording a
// statement is one bound check and the stores, with no call and no throw (which lets the compiler
// keep the recording's counters in registers through a loop of statements; see record_active_on).
//
// Misuse is never a silent wrong answer. A statement that cannot be recorded does not throw: its
// result keeps its value and is poisoned, and so is every statement computed from it; the gradient
// (vjp, jacobian, the transforms) of a poisoned output is an ad::GraphError naming the cause:
//   * an operand that is an Active of another recording (an earlier one, another tape's, another
//     thread's, an outer recording's inside a nested one);
//   * active operands combined when no recording is on (after end(), or on another thread);
//   * a statement that does not fit in the tape (ActiveTape(max_arguments)): the tape stays intact.
// A poisoned Active is active (is_active()) with identifier 0. Constants combine into constants
// anywhere. Recordings nest: begin() while another tape records on this thread makes the new
// recording the current one until it ends (recordings may end in any order; the current one is
// the innermost still on), and Actives of different recordings do not mix. A tape belongs to the
// thread that called begin() until end().
#include <autodiff/error.hpp>
#include <autodiff/expression.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace ad {

class Active;
class ActiveTape;

namespace detail {

// The column types are enums, not std::uint8_t / std::uint32_t: a store through an unsigned char
// may alias any object and a store through a uint32_t any uint32_t, so after each statement the
// compiler would reload this thread's recording, the tape's counters below and the operands'
// identifiers from memory. Stores of an enum alias nothing else of another type (GCC lets an enum
// alias its underlying type, so the counter that is stored in every statement is a size_t).
enum class ArgCount : std::uint8_t {};  // the number of arguments of a statement
enum class ArgId : std::uint32_t {};    // an argument's identifier

// Address space reserved once (mmap with MAP_NORESERVE): a page becomes memory when it is first
// written, and the block never moves. The tape's columns live in two of these, so a statement
// never grows them: it checks one bound and calls nothing. (A call on the statement path, even one
// taken only to grow, makes the compiler reload the recording and its counters from memory after
// it, in every statement: a quarter of Rosenbrock's recording instructions.)
class Reservation {
public:
    Reservation() = default;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation();
    // Replaces the block with one of `bytes`, or, if the system refuses, of the largest size it
    // grants down to `least` (halving); std::bad_alloc below that. Returns the size reserved.
    std::size_t reserve(std::size_t bytes, std::size_t least);
    char* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }

private:
    void release() noexcept;
    char* data_ = nullptr;
    std::size_t size_ = 0;
};

// A statement's count byte: 0 for an input; 1..kMaxStatementArguments, that many arguments, each
// with its partial stored; kFirstUnitKind and up, a statement of n = 1..3 arguments of which those with a
// partial of +1 or −1 store none: kind = kFirstUnitKind + (3^n − 3)/2 + Σ digit_k·3^(n−1−k), the
// digit of argument k being 0 for +1, 1 for −1, 2 for a stored partial (39 kinds, up to 255).
inline constexpr unsigned kMaxStatementArguments = 216;  // the most arguments of one statement
inline constexpr unsigned kFirstUnitKind = kMaxStatementArguments + 1;
inline constexpr unsigned kUnitKinds = 3 + 9 + 27;
static_assert(kFirstUnitKind + kUnitKinds == 256);
inline constexpr unsigned kUnitKindDigits = 3;  // a kind's n is at most 3
constexpr unsigned unit_kind_offset(unsigned n) noexcept { return n == 1 ? 0 : n == 2 ? 3 : 12; }  // (3^n − 3)/2
[[gnu::always_inline]] constexpr unsigned unit_kind(unsigned n, unsigned digits) noexcept {
    return kFirstUnitKind + unit_kind_offset(n) + digits;
}
// Argument i's digit in the code of a unit kind of n arguments, and the partials stored before it.
constexpr unsigned kind_digit(unsigned code, unsigned n, unsigned i) noexcept {
    unsigned place = 1;
    for (unsigned j = i + 1; j < n; ++j) place *= 3;
    return code / place % 3;
}
constexpr unsigned kind_partials(unsigned code, unsigned n, unsigned i) noexcept {
    unsigned stored = 0;
    for (unsigned j = 0; j < i; ++j) stored += kind_digit(code, n, j) == 2;
    return stored;
}
// The arguments and stored partials of each count byte.
struct CountTable {
    std::uint8_t args[256];
    std::uint8_t partials[256];
};
constexpr CountTable make_count_table() noexcept {
    CountTable t{};
    for (unsigned c = 0; c <= kMaxStatementArguments; ++c) t.args[c] = t.partials[c] = static_cast<std::uint8_t>(c);
    unsigned c = kFirstUnitKind;
    for (unsigned n = 1, kinds = 3; n <= kUnitKindDigits; ++n, kinds *= 3) {
        for (unsigned code = 0; code < kinds; ++code, ++c) {
            t.args[c] = static_cast<std::uint8_t>(n);
            t.partials[c] = static_cast<std::uint8_t>(kind_partials(code, n, n));
        }
    }
    return t;
}
inline constexpr CountTable kCounts = make_count_table();

// Recording numbers: a recording's own (from 1, unique across tapes and threads), 0 for a constant,
// and above them the idle state's and the three poisons of a statement that could not be recorded
// (its result keeps its value; a gradient through it is an ad::GraphError naming the cause).
inline constexpr std::uint32_t kNoRecording = 0xFFFFFFFFu;     // the thread records nothing
inline constexpr std::uint32_t kPoisonForeign = 0xFFFFFFFEu;   // an operand of another recording
inline constexpr std::uint32_t kPoisonFull = 0xFFFFFFFDu;      // the tape had no room for it
inline constexpr std::uint32_t kPoisonOutside = 0xFFFFFFFCu;   // active operands, no recording on
inline constexpr std::uint32_t kFirstSpecialRecording = kPoisonOutside;

// The columns of a linear tape, in ActiveTape's reservations; the statement recorder below writes them.
struct ActiveColumns {
    ArgCount* count = nullptr;  // the count byte of each identifier (index 0 unused; inputs have 0)
    ArgId* arg = nullptr;       // the argument identifiers, statement after statement
    double* jac = nullptr;      // their stored partial derivatives (none for a known unit)
    std::size_t n_args = 0;
    std::size_t n_jac = 0;      // <= n_args
    // This recording's room: n_args <= arg_limit, n_jac <= n_args, and the count column holds an
    // identifier for every argument (a statement has at least one): one bound guards all three columns.
    std::size_t arg_limit = 0;
    std::size_t next = 1;             // the next statement's identifier (wider than one: see ArgId)
    std::uint32_t recording = kNoRecording;  // this recording's number
    ActiveTape* owner = nullptr;      // the tape whose recording this is

    [[gnu::always_inline]] bool has_room(std::size_t args) const noexcept { return n_args + args <= arg_limit; }
    // Closes the statement whose n (>= 1) arguments and `partials` partials were written at the ends
    // of the columns, with count byte c: its identifier.
    [[gnu::always_inline]] std::uint32_t commit(std::uint32_t n, std::uint32_t partials, unsigned c) noexcept {
        n_args += n;
        n_jac += partials;
        const std::size_t id = next++;
        count[id] = static_cast<ArgCount>(c);
        return static_cast<std::uint32_t>(id);
    }
    // A statement of n arguments, each with its partial.
    [[gnu::always_inline]] std::uint32_t commit(std::uint32_t n) noexcept { return commit(n, n, n); }
};
// This thread's innermost recording, live: its counters are here while it records (the tape keeps
// a copy when it is not current), idle (kNoRecording, no room) when none is on.
extern constinit thread_local ActiveColumns current_columns;

// Where a statement's arguments go while its expression is pushed. Two passes, as few
// instructions per operand as possible in the common case:
//   ActiveFastWriter  writes every operand unconditionally and only notes, without a branch,
//                     whether any is odd (a constant, another recording's, a partial of 0 or NaN);
//                     with Units, it stores no partial for an operand pushed with a known unit
//                     and builds the statement's unit kind (statements of <= 3 arguments);
//   ActiveWriter      the careful pass, run again over the same columns only when one was:
//                     skips constants and zero partials, flags another recording's operands.
// (A check and a branch per operand made Rosenbrock's recording about 30% slower.)
template <bool Units>
struct ActiveFastWriter {
    ArgId* arg;
    double* jac;
    std::uint32_t n;
    std::uint32_t recording;
    std::uint32_t odd_recording;  // OR of (operand's recording XOR this one): 0 when all are this one's
    double product;               // of the partials: 0 or NaN when one is 0 or NaN (or they underflow)
    std::uint32_t partials = 0;   // with Units: the partials stored
    std::uint32_t digits = 0;     // with Units: the kind's digits so far (see kFirstUnitKind)
};
struct ActiveWriter {
    ArgId* arg;
    double* jac;
    std::uint32_t n;
    std::uint32_t recording;
    std::uint32_t foreign;  // the largest recording number of another recording's operands (0: none)
};

// Counts what a statement would record where there is no room for it, and finds foreign operands.
struct ActiveChecker {
    std::uint32_t n;
    std::uint32_t recording;
    std::uint32_t foreign;
};

template <class E>
Active record_active(const E& e);
struct ActiveFactory;  // makes the results of statements

}  // namespace detail

class Active : public RealExpressionTag {
public:
    using family = Active;
    Active() noexcept = default;                  // the constant 0
    Active(double v) noexcept : v_(v) {}          // a constant (not an input: see ActiveTape::begin)
    template <RealOperand E>
        requires(!std::is_same_v<std::remove_cvref_t<E>, Active> && std::same_as<RealFamily<E>, Active>)
    [[gnu::always_inline]] Active(const E& e) : Active(detail::record_active(e)) {}  // records the statement
    template <RealOperand E>
        requires(!std::is_same_v<std::remove_cvref_t<E>, Active> && std::same_as<RealFamily<E>, Active>)
    [[gnu::always_inline]] Active& operator=(const E& e) {
        return *this = detail::record_active(e);  // reads *this first if e uses it
    }

    double value() const noexcept { return v_; }
    bool is_active() const noexcept { return recording_ != 0; }  // an input or computed from one
    std::uint32_t id() const noexcept { return id_; }            // 0 for a constant

    // --- expression interface ---
    static constexpr std::size_t operands() noexcept { return 1; }
    static constexpr std::size_t min_operands() noexcept { return 1; }
    [[gnu::always_inline]] static constexpr std::size_t arguments() noexcept { return 1; }
    template <class Tape, bool Units, int S = 0>
    [[gnu::always_inline]] void push(Tape&, detail::ActiveFastWriter<Units>& w, double m, detail::Unit<S> = {}) const {
        w.arg[w.n] = static_cast<detail::ArgId>(id_);
        w.odd_recording |= recording_ ^ w.recording;
        if constexpr (!Units) {
            w.jac[w.n] = m;
            w.product *= m;
        } else if constexpr (S != 0) {  // m is S: nothing to store, nothing to check
            w.digits = w.digits * 3 + (S > 0 ? 0 : 1);
        } else {
            w.jac[w.partials++] = m;
            w.product *= m;
            w.digits = w.digits * 3 + 2;
        }
        ++w.n;
    }
    template <class Tape, int S = 0>
    [[gnu::always_inline]] void push(Tape&, detail::ActiveWriter& w, double m, detail::Unit<S> = {}) const {
        if (recording_ != w.recording) [[unlikely]] {  // a constant, or another recording's
            note_foreign(w.foreign);
            return;
        }
        if (m == 0.0) [[unlikely]] return;
        w.arg[w.n] = static_cast<detail::ArgId>(id_);
        w.jac[w.n] = m;
        ++w.n;
    }
    template <class Tape, int S = 0>
    [[gnu::always_inline]] void push(Tape&, detail::ActiveChecker& w, double m, detail::Unit<S> = {}) const {
        if (recording_ != w.recording) {
            note_foreign(w.foreign);
            return;
        }
        w.n += m != 0.0;
    }

private:
    friend class ActiveTape;
    friend struct detail::ActiveFactory;
    // A careful pass met this operand of another recording than its own (or a constant, recording
    // 0): `foreign` keeps the largest number met, so a poison wins over a plain foreign number.
    [[gnu::always_inline]] void note_foreign(std::uint32_t& foreign) const noexcept {
        foreign = foreign > recording_ ? foreign : recording_;
    }
    Active(double v, std::uint32_t id, std::uint32_t recording) noexcept : v_(v), id_(id), recording_(recording) {}

    double v_ = 0.0;
    std::uint32_t id_ = 0;
    std::uint32_t recording_ = 0;  // 0: a constant
};

// A linear tape of Active statements; see the top of this file. Not copyable (the thread points
// to it while it records). Its columns live in address space reserved at the first begin() and
// kept: recording a function again allocates nothing but the inputs' vector (none with the
// begin() that fills one), and memory is used only as far as the largest recording reached.
class ActiveTape {
public:
    // The most arguments (operands of statements) a recording may hold: 2^32, 48 GB of address space.
    static constexpr std::size_t kMaxArguments = std::size_t{1} << 32;

    // A recording past max_arguments throws ad::GraphError instead of taking more memory. Where
    // the system reserves less address space (a strict overcommit policy), the limit is what it
    // granted, down to 2^16 arguments (std::bad_alloc below that, at begin()).
    ActiveTape() noexcept = default;
    explicit ActiveTape(std::size_t max_arguments) noexcept : max_arguments_(std::min(max_arguments, kMaxArguments)) {}
    ActiveTape(const ActiveTape&) = delete;
    ActiveTape& operator=(const ActiveTape&) = delete;
    ~ActiveTape();

    // Forgets the previous recording and starts one on this thread with inputs of these values.
    std::vector<Active> begin(std::span<const double> x);
    std::vector<Active> begin(std::initializer_list<double> x) { return begin(std::span<const double>(x)); }
    void begin(std::span<const double> x, std::vector<Active>& inputs);
    // Stops recording (the statements stay for gradient()); does nothing if not recording.
    void end() noexcept;
    bool recording() const noexcept;

    // ∂y/∂x for the inputs x of the latest recording (zeros if y is a constant).
    std::vector<double> gradient(const Active& y);
    void gradient(const Active& y, std::vector<double>& out);
    // vᵀ ∂y/∂x: one sweep seeded with v[i] at y[i]. ShapeError if the sizes differ.
    std::vector<double> vjp(std::span<const Active> y, std::span<const double> v);
    // ∂y_i/∂x_j, one sweep per output: y.size() rows of inputs() numbers.
    std::vector<std::vector<double>> jacobian(std::span<const Active> y);

    std::size_t inputs() const noexcept { return n_inputs_; }
    std::size_t statements() const noexcept { return state().next - 1 - n_inputs_; }
    std::size_t arguments() const noexcept { return state().n_args; }
    // The recorded bytes: one count per identifier, 4 per argument, 8 per stored partial (adjoints aside).
    std::size_t bytes() const noexcept {
        const detail::ActiveColumns& c = state();
        return (c.next - 1) + c.n_args * sizeof(std::uint32_t) + c.n_jac * sizeof(double);
    }

private:
    bool live() const noexcept;                          // this recording is the thread's current one
    const detail::ActiveColumns& state() const noexcept; // its state: the thread's, or the tape's copy
    void check_output(const Active& y, const char* where);
    void seed(std::uint32_t top);             // room in adjoints_ for identifiers up to top
    void sweep(std::uint32_t from);           // adjoints_ seeded up to `from`; walks statements from..1
    void take_gradient(double* out) noexcept; // the inputs' adjoints, cleared

    detail::ActiveColumns cols_;          // the recording's state while it is not the thread's current one
    ActiveTape* outer_ = nullptr;         // the recording this one suspended at begin(), on this thread
    detail::Reservation counts_;          // cols_.count
    detail::Reservation args_;            // cols_.arg, then cols_.jac
    std::size_t max_arguments_ = kMaxArguments;  // asked for; after the first begin(), as granted
    std::vector<double> adjoints_;  // all zeros between sweeps
    std::size_t n_inputs_ = 0;
    bool recording_ = false;
};

namespace detail {
struct ActiveFactory {
    static Active make(double v, std::uint32_t id, std::uint32_t recording) noexcept { return {v, id, recording}; }
    static Active poisoned(double v, std::uint32_t foreign, std::uint32_t otherwise) noexcept {
        return {v, 0, foreign >= kFirstSpecialRecording ? foreign : otherwise};
    }
};

// The statement e of value v where the recording has no room for it, or where none is on: nothing
// is written. Its result is a constant if all its operands are, else poisoned.
template <class E>
[[gnu::always_inline]] inline Active record_without_room(std::uint32_t recording, const E& e, double v) {
    ActiveChecker w{0, recording, 0};
    e.push(w, w, 1.0);
    if (w.foreign != 0)
        return ActiveFactory::poisoned(v, w.foreign, recording == kNoRecording ? kPoisonOutside : kPoisonForeign);
    return w.n == 0 ? Active(v) : ActiveFactory::make(v, 0, kPoisonFull);
}

// The statement e of value v on this thread's recording, its known units left out (Units) or not.
// Units only where e has at most three arguments (unit_kind() names no more).
//
// Every path ends by storing the three counters, changed or not, and nothing on any path calls or
// throws: so in a loop of statements GCC keeps them in registers and stores them once, after the
// loop. Its store motion (-fdump-tree-lim2-details) gives up on a loop with an exit by exception,
// and on a store that some path skips unless no other store in the loop may alias it by a check
// that ignores types, which the column stores fail. Until the twenty-first session every statement
// loaded and stored the counters, and Rosenbrock's recording waited on the store-to-load round trip
// of `next` three times per element: 0.076–0.082 ms in cache (n = 10^4), now 0.058–0.059.
// current_columns is named at each use, not bound to a reference: under -fsanitize=undefined, GCC 12
// checked such a reference for null with a branch on stale flags, always taken (a false report).
template <bool Units, class E>
[[gnu::always_inline]] inline Active record_active_on(const E& e, double v) {
    std::size_t n_args = current_columns.n_args, n_jac = current_columns.n_jac, next = current_columns.next;
    const std::uint32_t recording = current_columns.recording;
    Active r;
    // Closes the statement written at the ends of the columns: n arguments, `partials` partials,
    // count byte c.
    const auto close = [&](std::uint32_t n, std::uint32_t partials, unsigned c) [[gnu::always_inline]] {
        n_args += n;
        n_jac += partials;
        current_columns.count[next] = static_cast<ArgCount>(c);
        return ActiveFactory::make(v, static_cast<std::uint32_t>(next++), recording);
    };
    if (n_args + E::operands() > current_columns.arg_limit) [[unlikely]] {
        r = record_without_room(recording, e, v);
    } else {
        ActiveFastWriter<Units> fast{current_columns.arg + n_args, current_columns.jac + n_jac, 0, recording, 0, 1.0};
        e.push(fast, fast, 1.0, Unit<1>{});
        // !islessgreater: the product is 0 or NaN (one compare, where !(fabs(p) > 0) takes two more).
        if ((fast.odd_recording != 0) | !std::islessgreater(fast.product, 0.0)) [[unlikely]] {
            ActiveWriter w{fast.arg, fast.jac, 0, recording, 0};  // the careful pass, over the same room
            e.push(w, w, 1.0);
            if (w.foreign != 0) {
                r = ActiveFactory::poisoned(v, w.foreign, kPoisonForeign);
            } else if (w.n == 0) {
                r = Active(v);
            } else {
                r = close(w.n, w.n, w.n);
            }
        } else if constexpr (Units) {
            // Each path closes on its own: here fast.n is usually known to the compiler (the
            // operand count, less any x * x merged), so the count and the advance are immediates.
            r = close(fast.n, fast.partials, unit_kind(fast.n, fast.digits));
        } else {
            r = close(fast.n, fast.n, fast.n);
        }
    }
    current_columns.n_args = n_args;
    current_columns.n_jac = n_jac;
    current_columns.next = next;
    return r;
}

// Records statement e on the innermost recording of this thread and returns its result.
template <class E>
[[gnu::always_inline]] inline Active record_active(const E& e) {
    static_assert(E::operands() <= kMaxStatementArguments, "an ad::Active statement has at most 216 operands");
    const double v = e.value();
    // Known units are left out where the statement has at most three arguments. Where that depends
    // on which x * x merge (Rosenbrock's s + 100 * (a * a) + b * b: three; a * b + c * d: four),
    // arguments() counts them first; the compiler usually knows the answer (&a == &a, &x[i] != &x[i + 1]).
    // (Until the twentieth session, four arguments took the careful pass: 1.5 times the time.)
    constexpr bool may_have_units = E::min_operands() <= kUnitKindDigits;
    if constexpr (may_have_units && E::operands() > kUnitKindDigits) {
        if (e.arguments() > kUnitKindDigits) return record_active_on<false>(e, v);
    }
    return record_active_on<may_have_units>(e, v);
}
}  // namespace detail

// dot(x, y) = Σ x[k]·y[k] and sum(x) = Σ x[k], summed in index order, as statements of up to 216
// arguments each (a longer one is a chain of them). Sizes that differ are an ad::ShapeError.
Active dot(std::span<const Active> x, std::span<const Active> y);
Active sum(std::span<const Active> x);

}  // namespace ad

// fmt::print("{}", a): Active(2.0000) for a constant, Active(2.0000, id=3) for an active value.
template <>
struct fmt::formatter<ad::Active> : fmt::formatter<std::string_view> {
    auto format(const ad::Active& a, format_context& ctx) const {
        std::string s = a.is_active() ? fmt::format("Active({:.4f}, id={})", a.value(), a.id())
                                      : fmt::format("Active({:.4f})", a.value());
        return fmt::formatter<std::string_view>::format(s, ctx);
    }
};
