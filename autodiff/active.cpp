// ad::Active's tape: its reserved columns, recordings on a thread, the reverse sweep, dot and sum.
#include <autodiff/active.hpp>
#include <autodiff/value.hpp>  // detail::check_dot_sizes

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <new>

#include <sys/mman.h>

namespace ad {

namespace detail {

constinit thread_local ActiveColumns current_columns{};

namespace {
// This thread's current_columns, for the code below: through a pointer a call returns, since GCC 12
// under -fsanitize=undefined checked a reference bound to the thread_local for null with a branch
// on stale flags (always taken: a false report); the statement path names the object instead.
[[gnu::noinline]] ActiveColumns* thread_columns() noexcept { return &current_columns; }
}  // namespace

namespace {
// Recording numbers, unique across tapes and threads: an Active records the number of the
// recording that made it, and a statement or a gradient checks it against its own.
std::uint32_t next_recording_number() {
    static std::atomic<std::uint32_t> counter{0};
    std::uint32_t n;
    do {
        n = counter.fetch_add(1, std::memory_order_relaxed) + 1;
    } while (n == 0 || n >= kFirstSpecialRecording);
    return n;
}

}  // namespace

Reservation::~Reservation() { release(); }

void Reservation::release() noexcept {
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = nullptr;
    size_ = 0;
}

std::size_t Reservation::reserve(std::size_t bytes, std::size_t least) {
    release();
    for (std::size_t size = bytes;; size /= 2) {
        if (size < least) throw std::bad_alloc();
        void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) {
            data_ = static_cast<char*>(p);
            size_ = size;
            return size;
        }
    }
}

}  // namespace detail

ActiveTape::~ActiveTape() { end(); }

bool ActiveTape::recording() const noexcept { return recording_; }

void ActiveTape::begin(std::span<const double> x, std::vector<Active>& inputs) {
    end();
    cols_.n_args = 0;  // forget the previous recording first: if this begin() throws, the tape is empty
    cols_.n_jac = 0;
    cols_.next = 1;
    cols_.recording = detail::kNoRecording;
    n_inputs_ = 0;
    // Identifiers are 32-bit: the inputs, one per statement, 0 unused, and the next one must fit.
    constexpr std::size_t kIds = std::size_t{1} << 32;
    if (x.size() + 3 > kIds)
        throw GraphError(fmt::format("ad::ActiveTape::begin: {} inputs; a recording holds at most {} identifiers",
                                     x.size(), kIds - 3));
    if (args_.data() == nullptr) {  // the first begin(): reserve the argument columns, 12 bytes each
        constexpr std::size_t kBytesPerArg = sizeof(detail::ArgId) + sizeof(double);
        const std::size_t want = std::max<std::size_t>(max_arguments_, 1) / 1024 * 1024 + 1024;
        const std::size_t least = std::min<std::size_t>(want, std::size_t{1} << 16);
        // an even number of arguments, so that jac (after arg, 4 bytes each) is 8-byte aligned
        const std::size_t granted = args_.reserve(want * kBytesPerArg, least * kBytesPerArg) / kBytesPerArg / 2 * 2;
        max_arguments_ = std::min(max_arguments_, granted);
        cols_.arg = reinterpret_cast<detail::ArgId*>(args_.data());
        cols_.jac = reinterpret_cast<double*>(args_.data() + granted * sizeof(detail::ArgId));
    }
    // One count per identifier: index 0, the inputs, and a statement per argument at most.
    std::size_t limit = std::min(max_arguments_, kIds - 3 - x.size());
    const std::size_t counts = x.size() + limit + 2;
    if (counts_.size() < counts) {
        const std::size_t granted = counts_.reserve(counts, x.size() + 2 + std::min<std::size_t>(limit, std::size_t{1} << 16));
        limit = std::min(limit, granted - x.size() - 2);
    }
    cols_.count = reinterpret_cast<detail::ArgCount*>(counts_.data());
    cols_.arg_limit = limit;
    cols_.recording = detail::next_recording_number();
    n_inputs_ = x.size();
    inputs.resize(x.size());
    std::fill_n(cols_.count + 1, x.size(), detail::ArgCount{0});
    for (std::size_t i = 0; i < x.size(); ++i)
        inputs[i] = detail::ActiveFactory::make(x[i], static_cast<std::uint32_t>(i + 1), cols_.recording);
    cols_.next = x.size() + 1;
    cols_.owner = this;
    // The thread's current recording, if any, is suspended: its state goes back to its tape.
    detail::ActiveColumns& live = *detail::thread_columns();
    outer_ = live.owner;
    if (outer_ != nullptr) outer_->cols_ = live;
    live = cols_;
    recording_ = true;
}

std::vector<Active> ActiveTape::begin(std::span<const double> x) {
    std::vector<Active> inputs;
    begin(x, inputs);
    return inputs;
}

bool ActiveTape::live() const noexcept { return recording_ && detail::thread_columns()->owner == this; }

const detail::ActiveColumns& ActiveTape::state() const noexcept { return live() ? *detail::thread_columns() : cols_; }

void ActiveTape::end() noexcept {
    if (!recording_) return;
    detail::ActiveColumns& live = *detail::thread_columns();
    if (live.owner == this) {  // the innermost recording (the usual case): the one it suspended resumes
        cols_ = live;
        live = outer_ != nullptr ? outer_->cols_ : detail::ActiveColumns{};
    } else {  // ended before a recording nested in it: unlink it from that one's chain
        for (ActiveTape* p = live.owner; p != nullptr; p = p->outer_) {
            if (p->outer_ == this) {
                p->outer_ = outer_;
                break;
            }
        }
    }
    outer_ = nullptr;
    recording_ = false;
}

// Also brings the tape's own copy of its state up to date, for the sweep.
void ActiveTape::check_output(const Active& y, const char* where) {
    if (live()) cols_ = *detail::thread_columns();
    if (y.recording_ == 0 || y.recording_ == cols_.recording) return;
    switch (y.recording_) {
        case detail::kPoisonForeign:
            throw GraphError(fmt::format(
                "ActiveTape::{}: the output was computed from an Active of another recording (an earlier one, another "
                "ActiveTape's or another thread's); an Active is valid only in the recording that made it, until its "
                "tape's next begin()",
                where));
        case detail::kPoisonFull:
            throw GraphError(fmt::format(
                "ActiveTape::{}: the output depends on a statement that did not fit: the recording holds at most {} "
                "arguments (the ActiveTape's max_arguments, or the address space the system granted)",
                where, cols_.arg_limit));
        case detail::kPoisonOutside:
            throw GraphError(fmt::format("ActiveTape::{}: the output was computed from active operands outside any "
                                         "recording (after its end(), or on another thread)",
                                         where));
        default:
            throw GraphError(fmt::format(
                "ActiveTape::{}: the output is an Active of another recording, not of this tape's latest", where));
    }
}

// The adjoint vector is all zeros between sweeps: the sweep clears each statement's adjoint once it
// has read it, and take_gradient clears the inputs' as it copies them out, so a gradient costs no
// pass over the whole vector to clear it (at Rosenbrock n = 10^6, 4·10^6 adjoints, 32 MB).
void ActiveTape::seed(std::uint32_t top) {
    const std::size_t size = std::max<std::size_t>(top, n_inputs_) + 1;
    if (adjoints_.size() < size) adjoints_.resize(size, 0.0);  // the new slots are zero too
}

namespace {
// One statement of unit kind K (kFirstUnitKind + K, active.hpp): its n arguments, last first, each
// getting ±g or g times its stored partial; p and q are past its arguments and partials.
template <unsigned K>
[[gnu::always_inline]] inline void scatter_unit_kind(double* adj, const detail::ArgId* arg, const double* jac,
                                                     std::size_t& p, std::size_t& q, double g) {
    constexpr unsigned n = detail::kCounts.args[detail::kFirstUnitKind + K];
    constexpr unsigned code = K - detail::unit_kind_offset(n);
    constexpr unsigned partials = detail::kCounts.partials[detail::kFirstUnitKind + K];
    p -= n;
    q -= partials;
    [&]<unsigned... k>(std::integer_sequence<unsigned, k...>) {
        const auto one = [&]<unsigned i>() {  // argument i: its digit, and its partial's place if stored
            constexpr unsigned digit = detail::kind_digit(code, n, i);
            constexpr unsigned stored_before = detail::kind_partials(code, n, i);
            double& a = adj[static_cast<std::uint32_t>(arg[p + i])];
            if constexpr (digit == 0) {
                a += g;
            } else if constexpr (digit == 1) {
                a -= g;
            } else {
                a += g * jac[q + stored_before];
            }
        };
        (one.template operator()<n - 1 - k>(), ...);
    }(std::make_integer_sequence<unsigned, n>{});
}
}  // namespace

void ActiveTape::sweep(std::uint32_t from) {
    double* adj = adjoints_.data();
    const detail::ArgCount* count = cols_.count;
    const detail::CountTable& counts = detail::kCounts;
    std::size_t p = cols_.n_args, q = cols_.n_jac;
    for (std::size_t id = cols_.next - 1; id > from; --id) {  // no adjoint yet
        const auto c = static_cast<std::uint8_t>(count[id]);
        p -= counts.args[c];
        q -= counts.partials[c];
    }
    // p, q: past the arguments and partials of statement `from`. The scaled addressing is free, so
    // an index per column walks them (fewer instructions per statement than a pointer per column).
    const detail::ArgId* arg = cols_.arg;
    const double* jac = cols_.jac;
    const auto scatter = [adj](detail::ArgId i, double d) { adj[static_cast<std::uint32_t>(i)] += d; };
    const std::size_t first = n_inputs_;  // inputs have no arguments
    for (std::size_t id = from; id > first; --id) {
        const double g = adj[id];
        adj[id] = 0.0;
        const unsigned c = static_cast<std::uint8_t>(count[id]);
        switch (c) {  // the common short statements unrolled; the last argument first, always
#define AD_UNIT_KIND(k) \
    case detail::kFirstUnitKind + (k): scatter_unit_kind<(k)>(adj, arg, jac, p, q, g); break;
#define AD_UNIT_KINDS3(k) AD_UNIT_KIND(k) AD_UNIT_KIND(k + 1) AD_UNIT_KIND(k + 2)
#define AD_UNIT_KINDS9(k) AD_UNIT_KINDS3(k) AD_UNIT_KINDS3(k + 3) AD_UNIT_KINDS3(k + 6)
            AD_UNIT_KINDS3(0)
            AD_UNIT_KINDS9(3)
            AD_UNIT_KINDS9(12)
            AD_UNIT_KINDS9(21)
            AD_UNIT_KINDS9(30)
#undef AD_UNIT_KINDS9
#undef AD_UNIT_KINDS3
#undef AD_UNIT_KIND
            case 3: p -= 3; q -= 3;
                scatter(arg[p + 2], g * jac[q + 2]);
                scatter(arg[p + 1], g * jac[q + 1]);
                scatter(arg[p], g * jac[q]);
                break;
            case 2: p -= 2; q -= 2;
                scatter(arg[p + 1], g * jac[q + 1]);
                scatter(arg[p], g * jac[q]);
                break;
            case 1: p -= 1; q -= 1;
                scatter(arg[p], g * jac[q]);
                break;
            default:
                p -= c;
                q -= c;
                for (std::size_t k = c; k-- > 0;) scatter(arg[p + k], g * jac[q + k]);
        }
    }
}

void ActiveTape::take_gradient(double* out) noexcept {
    double* adj = adjoints_.data() + 1;
    for (std::size_t i = 0; i < n_inputs_; ++i) {
        out[i] = adj[i];
        adj[i] = 0.0;
    }
}

void ActiveTape::gradient(const Active& y, std::vector<double>& out) {
    check_output(y, "gradient");
    out.resize(n_inputs_);  // before seeding: nothing below may throw with adjoints set
    if (y.recording_ == 0) {  // a constant
        std::fill(out.begin(), out.end(), 0.0);
        return;
    }
    seed(y.id_);
    adjoints_[y.id_] = 1.0;
    sweep(y.id_);
    take_gradient(out.data());
}
std::vector<double> ActiveTape::gradient(const Active& y) {
    std::vector<double> g;
    gradient(y, g);
    return g;
}

std::vector<double> ActiveTape::vjp(std::span<const Active> y, std::span<const double> v) {
    if (y.size() != v.size())
        throw ShapeError(fmt::format("ActiveTape::vjp: {} outputs but {} seeds", y.size(), v.size()));
    std::uint32_t top = 0;
    for (const Active& a : y) {
        check_output(a, "vjp");
        if (a.recording_ != 0) top = std::max(top, a.id_);
    }
    std::vector<double> out(n_inputs_, 0.0);
    if (top == 0) return out;
    seed(top);
    for (std::size_t i = 0; i < y.size(); ++i)
        if (y[i].recording_ != 0) adjoints_[y[i].id_] += v[i];
    sweep(top);
    take_gradient(out.data());
    return out;
}

std::vector<std::vector<double>> ActiveTape::jacobian(std::span<const Active> y) {
    std::vector<std::vector<double>> rows(y.size());
    for (std::size_t i = 0; i < y.size(); ++i) gradient(y[i], rows[i]);
    return rows;
}

namespace {
// Σ terms as a chain of statements of at most 216 arguments: each link adds up to 215 arguments
// of `add` to the previous link (its first argument). add(k, w) pushes term k's operands.
template <class Value, class Add>
Active chained_sum(std::size_t n, std::size_t args_per_term, Value value_of, Add add) {
    double v = 0.0;
    Active acc;
    std::size_t k = 0;
    detail::ActiveColumns& t = *detail::thread_columns();
    const auto poisoned = [&](std::uint32_t foreign, std::uint32_t otherwise) {  // the value still, in index order
        for (; k < n; ++k) v += value_of(k);
        return detail::ActiveFactory::poisoned(v, foreign, otherwise);
    };
    do {
        const std::size_t end = std::min(n, k + (detail::kMaxStatementArguments - 1) / args_per_term);
        detail::ArgId arg[detail::kMaxStatementArguments];
        double jac[detail::kMaxStatementArguments];
        detail::ActiveWriter w{arg, jac, 0, t.recording, 0};
        acc.push(w, w, 1.0);
        for (; k < end; ++k) {
            v += value_of(k);
            add(k, w);
        }
        if (w.foreign != 0)
            return poisoned(w.foreign, t.recording == detail::kNoRecording ? detail::kPoisonOutside
                                                                           : detail::kPoisonForeign);
        if (w.n == 0) {
            acc = Active(v);
            continue;
        }
        if (!t.has_room(w.n)) return poisoned(detail::kPoisonFull, detail::kPoisonFull);
        std::copy_n(arg, w.n, t.arg + t.n_args);
        std::copy_n(jac, w.n, t.jac + t.n_jac);
        const std::uint32_t recording = t.recording;
        acc = detail::ActiveFactory::make(v, t.commit(w.n), recording);
    } while (k < n);
    return acc;
}
}  // namespace

Active dot(std::span<const Active> x, std::span<const Active> y) {
    detail::check_dot_sizes(x.size(), y.size());
    return chained_sum(
        x.size(), 2, [&](std::size_t k) { return x[k].value() * y[k].value(); },
        [&](std::size_t k, detail::ActiveWriter& w) {
            x[k].push(w, w, y[k].value());
            y[k].push(w, w, x[k].value());
        });
}

Active sum(std::span<const Active> x) {
    return chained_sum(
        x.size(), 1, [&](std::size_t k) { return x[k].value(); },
        [&](std::size_t k, detail::ActiveWriter& w) { x[k].push(w, w, 1.0); });
}

}  // namespace ad

namespace ad::detail {
ActiveTape& active_transform_tape() {
    thread_local ActiveTape tape;
    return tape;
}
}  // namespace ad::detail
