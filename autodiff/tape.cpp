#include <autodiff/tape.hpp>
#include <autodiff/tensor_node.hpp>
#include <autodiff/value.hpp>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

namespace ad::detail {

const char* op_name(Op op) {
    switch (op) {
    case Op::Leaf: return "leaf";
    case Op::Const: return "const";
    case Op::Add: return "add";
    case Op::Sub: return "sub";
    case Op::Mul: return "mul";
    case Op::Div: return "div";
    case Op::Neg: return "neg";
    case Op::AddC: return "add_scalar";
    case Op::MulC: return "mul_scalar";
    case Op::DivC: return "div_scalar";
    case Op::RSubC: return "rsub_scalar";
    case Op::RDivC: return "rdiv_scalar";
    case Op::PowC: return "pow_scalar";
    case Op::RPowC: return "rpow_scalar";
    case Op::Pow: return "pow";
    case Op::Exp: return "exp";
    case Op::Log: return "log";
    case Op::Log1p: return "log1p";
    case Op::Sqrt: return "sqrt";
    case Op::Sin: return "sin";
    case Op::Cos: return "cos";
    case Op::Tan: return "tan";
    case Op::Tanh: return "tanh";
    case Op::Sigmoid: return "sigmoid";
    case Op::Relu: return "relu";
    case Op::Abs: return "abs";
    case Op::Square: return "square";
    case Op::Min: return "min";
    case Op::Max: return "max";
    case Op::Atan2: return "atan2";
    case Op::Hypot: return "hypot";
    case Op::Erf: return "erf";
    case Op::Sum: return "sum";
    case Op::Dot: return "dot";
    case Op::Stmt: return "statement";
    case Op::FromTensor: return "item";
    case Op::Tensor: return "tensor";
    }
    return "?";
}

std::uint32_t next_epoch() {
    static std::atomic<std::uint32_t> counter{0};
    std::uint32_t e = ++counter;
    if (e == 0) e = ++counter;  // 0 is never a live epoch
    return e;
}

void throw_stale(const char* what) {
    throw GraphError(std::string(what) +
                     ": this handle's graph was released (by a GraphScope, or it was recorded on another "
                     "thread); recompute it, or keep a detach()ed copy of the number");
}

Tape::Tape() : epoch(next_epoch()) {}

Tape::~Tape() {
    rewind();
    std::free(val);
    std::free(arg_a);
    std::free(arg_b);
    std::free(op);
    std::free(stmt_jac);
    std::free(stmt_arg);
}

namespace {
template <class T>
T* grow_column(T* p, std::size_t n) {
    void* q = std::realloc(p, n * sizeof(T));
    if (!q) throw std::bad_alloc();
    return static_cast<T*>(q);
}
}  // namespace

void Tape::grow() {
    if (capacity >= 0xFFFFFFF0u) throw GraphError("tape: more than 4 billion recorded operations in one graph");
    const std::size_t n = capacity == 0 ? 1024 : std::min<std::size_t>(std::size_t(capacity) * 2, 0xFFFFFFF0u);
    val = grow_column(val, n);
    arg_a = grow_column(arg_a, n);
    arg_b = grow_column(arg_b, n);
    op = grow_column(op, n);
    capacity = static_cast<std::uint32_t>(n);
}

template <class T>
void Column<T>::grow() {
    if (cap >= 0xFFFFFFF0u) throw GraphError("tape: more than 4 billion constants in one graph");
    const std::size_t n = cap == 0 ? 256 : std::min<std::size_t>(std::size_t(cap) * 2, 0xFFFFFFF0u);
    items = grow_column(items, n);
    cap = static_cast<std::uint32_t>(n);
}
template struct Column<double>;

void Tape::grow_stmt(std::size_t at_least) {
    const std::size_t need = std::size_t(stmt_size) + at_least;
    if (need > 0xFFFFFFF0u) throw GraphError("tape: more than 4 billion statement arguments in one graph");
    const std::size_t n = std::min<std::size_t>(std::max<std::size_t>({1024, std::size_t(stmt_capacity) * 2, need}), 0xFFFFFFF0u);
    stmt_jac = grow_column(stmt_jac, n);
    stmt_arg = grow_column(stmt_arg, n);
    stmt_capacity = static_cast<std::uint32_t>(n);
}

std::unique_ptr<TensorNode> Tape::new_tensor_node() {
    if (node_pool.empty()) return std::make_unique<TensorNode>();
    std::unique_ptr<TensorNode> n = std::move(node_pool.back());
    node_pool.pop_back();
    return n;
}

std::uint32_t Tape::push_tensor(std::unique_ptr<TensorNode> node) {
    TensorNode* n = node.get();
    tensor_nodes.push_back(std::move(node));
    n->entry = push(Op::Tensor, 0.0, static_cast<std::uint32_t>(tensor_nodes.size() - 1), 0);
    return n->entry;
}

void Tape::rewind() {
    // A new epoch first: handles destroyed while we clear (a leaf's graph gradient, say) then see a
    // foreign epoch and leave the live count alone, so rewind never re-enters itself.
    epoch = next_epoch();
    live = 0;
    // Recycle tensor nodes: drop what they hold, keep their vectors' capacity.
    for (auto& n : tensor_nodes) {
        n->reset();
        if (node_pool.size() < 4096) node_pool.push_back(std::move(n));
    }
    tensor_nodes.clear();
    // Live leaves see a foreign epoch from now on: nothing to touch. Dead ones go now.
    for (LeafData* leaf : orphans) delete leaf;
    orphans.clear();
    consts.clear();
    labels.clear();
    hooks.clear();
    size = 0;
    stmt_size = 0;
    released_upto = 0;
}

std::size_t Tape::bytes_per_entry() const {
    return sizeof(double) + 2 * sizeof(std::uint32_t) + sizeof(Op);
}

std::size_t Tape::bytes_recorded() const {
    return std::size_t(size) * bytes_per_entry() + consts.size() * sizeof(double) +
           std::size_t(stmt_size) * (sizeof(double) + sizeof(std::uint32_t));
}

const std::string* Tape::label_of(std::uint32_t entry) const {
    for (auto it = labels.rbegin(); it != labels.rend(); ++it)
        if (it->first == entry) return &it->second;
    return nullptr;
}

constinit thread_local Tape* current_tape = nullptr;

namespace {
constinit thread_local bool tape_owner_gone = false;
struct TapeOwner {
    std::unique_ptr<Tape> tape;
    ~TapeOwner() {
        tape.reset();
        current_tape = nullptr;
        tape_owner_gone = true;
    }
};
}  // namespace

Tape& make_tape() {
    if (tape_owner_gone) {
        // A handle destroyed during thread exit, after this thread's tape: give it a throwaway
        // tape (a few bytes, reclaimed with the process) rather than touching a dead one.
        current_tape = new Tape;
        return *current_tape;
    }
    thread_local TapeOwner owner;
    if (!owner.tape) owner.tape = std::make_unique<Tape>();
    current_tape = owner.tape.get();
    return *current_tape;
}

}  // namespace ad::detail
