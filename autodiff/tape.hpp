#pragma once
// The tape: one per thread, the whole computation graph of that thread in recording order.
//
// Every differentiable operation appends one entry. Recording order is a topological order, so
// backward() is a single loop from the root down to entry 0: no sort, no recursion, no per-node
// heap allocation for scalar operations. A scalar entry is 17 bytes in four parallel columns
// (value, two argument indices, op code); tensor entries point to a TensorNode that owns what the
// tensor operation saved for its backward.
//
// Lifetime: leaves (variables, parameters) own their value and gradient outside the tape (a leaf
// that dies while the graph points to it is kept by the tape until the graph goes). Every
// handle to a recorded (interior) value counts itself in `live`; when the last one dies the tape
// rewinds to empty, keeping its capacity, so a training or evaluation loop never grows memory and
// never allocates in steady state. Each rewind starts a new epoch (numbers unique across threads);
// a handle from another epoch (graph released by a GraphScope, or recorded on another thread)
// is detected and throws ad::GraphError instead of reading a stale entry.
#include <autodiff/error.hpp>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ad {
class Value;
class Tensor;
}  // namespace ad

namespace ad::detail {

inline constexpr std::uint32_t kNoNode = 0xFFFFFFFFu;

// Scalar op codes. The backward of each is in scalar_backward.hpp, written once for double
// (first order) and for Value (recorded, higher order).
enum class Op : std::uint8_t {
    Leaf,    // a, b = the low and high halves of the LeafData address (Tape::leaf_at)
    Const,   // a constant that entered the graph as a Value
    Add, Sub, Mul, Div, Neg,
    AddC, MulC, DivC, RSubC, RDivC, PowC, RPowC,  // b = index into Tape::consts
    Pow, Exp, Log, Log1p, Sqrt, Sin, Cos, Tan, Tanh, Sigmoid, Relu, Abs, Square,
    Min, Max, Atan2, Hypot, Erf,
    Sum, Dot,    // n-ary: the entries summed (Σ x_k) or paired (Σ x_k z_k) are Tape::stmt_arg[a, a+b)
    Stmt,        // a statement recorded by ad::Real: its partials are Tape::stmt_jac/stmt_arg[a, a+b)
    FromTensor,  // a 0-d tensor entered the scalar world: a = tape index of the tensor entry
    Tensor,      // a = index into Tape::tensor_nodes
};
const char* op_name(Op op);

// A hook on a scalar's gradient (Value::register_hook): exactly one of the two is set.
//   on_number  sees and returns the gradient's number. Under backward(create_graph=true) a
//              number cannot carry the gradient's graph, so reaching one there is a GraphError.
//   on_value   sees and returns the gradient as a Value. Under create_graph its argument is the
//              recorded gradient and its result becomes the adjoint as is (so higher derivatives
//              see what the hook did); otherwise it gets a constant and nothing is recorded.
struct ScalarHook {
    std::function<double(double)> on_number;
    std::function<Value(const Value&)> on_value;
};

// What a scalar leaf (an ad::Value made from a number) owns: its value and gradient. Kept to 40
// bytes (rarely used parts live in `extras`) because a model may hold millions of them: malloc
// gives 40 bytes a 48-byte chunk, 48 bytes a 64-byte one, and every leaf is touched by zero_grad,
// recording and the sweep (Rosenbrock at n = 10^6: zero_grad over the 10^6 leaves 3.2-3.6 ->
// 2.7-2.9 ms, record + backward + zero_grad 35.2-36.4 -> 34.7-35.7 ms, 5 alternating pinned runs
// on an AMD Zen 5).
// A leaf's tape entry (Op::Leaf) holds the leaf's address. A leaf whose last handle dies while
// the current graph points to it (epoch == the tape's) is not freed but handed to the tape,
// which frees it when the graph is released (Tape::orphans): the entry never dangles, and dying
// costs nothing however often the leaf was registered (set_value makes it register afresh).
struct LeafExtras {
    std::string label;
    std::unique_ptr<Value> grad_graph;                  // set by backward(create_graph)
    std::vector<ScalarHook> hooks;                      // run on the gradient before accumulation
};
struct LeafData {
    double value = 0.0;
    double grad = 0.0;
    std::uint32_t node = kNoNode;  // latest entry of this leaf in the tape of `epoch`
    std::uint32_t epoch = 0;
    std::uint32_t refs = 1;        // Value handles sharing this leaf; 0: dead, kept by the tape
    bool requires_grad = true;
    std::unique_ptr<LeafExtras> extras;
    LeafExtras& more() {
        if (!extras) extras = std::make_unique<LeafExtras>();
        return *extras;
    }
};
static_assert(sizeof(LeafData) == 40, "LeafData: keep leaves in 48-byte malloc chunks");

struct TensorNode;  // tensor_node.hpp

// A growable array for the tape's side column of constants: std::vector's
// interface where the tape uses it, but push() keeps its reallocation out of line (grow(), in
// tape.cpp), so the inline recording paths that call it stay small enough for GCC to inline in
// any translation unit (with a std::vector, bench_scalar's kept Tape::register_leaf a call, and
// its Real MLP ran 3.85–3.90 µs instead of 3.63–3.67).
template <class T>
struct Column {
    T* items = nullptr;
    std::uint32_t count = 0, cap = 0;
    Column() = default;
    Column(const Column&) = delete;
    Column& operator=(const Column&) = delete;
    ~Column() { std::free(items); }
    std::uint32_t push(T x) {  // returns x's index
        if (count == cap) grow();
        items[count] = x;
        return count++;
    }
    void grow();
    T& operator[](std::size_t i) { return items[i]; }
    const T& operator[](std::size_t i) const { return items[i]; }
    T* data() { return items; }
    T* begin() { return items; }
    T* end() { return items + count; }
    std::size_t size() const { return count; }
    void clear() { count = 0; }
};

struct Tape {
    // Scalar columns, one entry per recorded operation.
    double* val = nullptr;
    std::uint32_t* arg_a = nullptr;
    std::uint32_t* arg_b = nullptr;
    Op* op = nullptr;
    std::uint32_t size = 0;
    std::uint32_t capacity = 0;

    // Arguments of statement entries (Op::Stmt, ad::Real): the entry each partial derivative is
    // taken with respect to, and its value. One pair per distinct argument of the statement.
    // The n-ary ops (Op::Sum, Op::Dot) keep their argument entries in stmt_arg too.
    double* stmt_jac = nullptr;
    std::uint32_t* stmt_arg = nullptr;
    std::uint32_t stmt_size = 0;
    std::uint32_t stmt_capacity = 0;

    Column<double> consts;
    std::vector<LeafData*> orphans;  // leaves that died while this graph pointed to them (owned)
    std::vector<std::unique_ptr<TensorNode>> tensor_nodes;
    std::vector<std::pair<std::uint32_t, std::string>> labels;  // sparse, in entry order
    std::vector<std::pair<std::uint32_t, ScalarHook>> hooks;  // interior entries

    std::uint32_t epoch = 0;
    std::int64_t live = 0;  // handles to interior entries of this epoch
    std::uint32_t released_upto = 0;  // entries below were released by a backward() without retain
    std::uint32_t recording_off = 0;  // NoGrad nesting depth
    bool anomaly = false;

    Tape();
    ~Tape();
    Tape(const Tape&) = delete;
    Tape& operator=(const Tape&) = delete;

    void grow();
    std::uint32_t push(Op o, double v, std::uint32_t a, std::uint32_t b) {
        if (size == capacity) grow();
        const std::uint32_t i = size++;
        val[i] = v;
        arg_a[i] = a;
        arg_b[i] = b;
        op[i] = o;
        return i;
    }
    std::uint32_t push_const_op(Op o, double v, std::uint32_t a, double c) { return push(o, v, a, consts.push(c)); }
    void grow_stmt(std::size_t at_least);
    // Room for `room` more statement arguments; returns where they start.
    std::uint32_t reserve_stmt(std::size_t room) {
        if (stmt_capacity - stmt_size < room) grow_stmt(room);
        return stmt_size;
    }
    // A leaf entry: the leaf's address in the two argument words (low, high), its value.
    std::uint32_t register_leaf(LeafData* leaf) {
        const auto p = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(leaf));
        leaf->epoch = epoch;
        leaf->node = push(Op::Leaf, leaf->value, static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(p >> 32));
        return leaf->node;
    }
    LeafData* leaf_at(std::uint32_t i) const { return leaf_address(arg_a[i], arg_b[i]); }  // an Op::Leaf entry
    static LeafData* leaf_address(std::uint32_t low, std::uint32_t high) {
        return reinterpret_cast<LeafData*>(static_cast<std::uintptr_t>((std::uint64_t(high) << 32) | low));
    }
    // A blank tensor node, reused from earlier graphs when possible (its vectors keep their
    // capacity, so steady-state recording does not allocate them again).
    std::unique_ptr<TensorNode> new_tensor_node();
    // Appends a tensor entry owning `node` (its `entry` field is set); returns the entry.
    std::uint32_t push_tensor(std::unique_ptr<TensorNode> node);
    std::vector<std::unique_ptr<TensorNode>> node_pool;
    void rewind();  // drop every entry, start a new epoch
    void release() {
        if (--live == 0) rewind();
    }
    std::size_t bytes_per_entry() const;
    // Bytes the current graph occupies: entry columns, statement columns and constant pool (the
    // adjoint array of a sweep, 8 bytes per entry, is not part of the recording).
    std::size_t bytes_recorded() const;
    const std::string* label_of(std::uint32_t entry) const;
};

// This thread's tape. The pointer is constant-initialized, so the hot path is one TLS load and
// a predictable branch (no guard variable, no wrapper call); the tape itself is created on first
// use and destroyed at thread exit.
extern constinit thread_local Tape* current_tape;
Tape& make_tape();
inline Tape& tape() {
    Tape* t = current_tape;
    if (__builtin_expect(t == nullptr, 0)) return make_tape();
    return *t;
}
std::uint32_t next_epoch();

[[noreturn]] void throw_stale(const char* what);

}  // namespace ad::detail
