#pragma once
// Pictures of the recorded graph, in Graphviz DOT (micrograd's draw_dot, for Values and Tensors).
//
//     ad::Value x = 1.0, y = 2.0;
//     x.set_label("x"); y.set_label("y");
//     auto f = sin(x) * y + exp(x / y);
//     ad::write_dot("results/f.dot", ad::to_dot(f));
//     ad::render_dot("results/f.dot", "results/f.svg");   // false when Graphviz is missing
//
// What is drawn: every tape entry the root depends on (found by one backward walk over the tape
// from the root's entry, so a graph of millions of nodes needs no recursion), left to right in
// recording order. Each value is a box { label | data } — scalar leaves also show their grad,
// tensors their shape and dtype, and tensors whose data the picture can reach (leaves and the
// root) a summary: mean, min and max. Each recorded operation is an ellipse (op name, with the
// constant for ops like "* 2") feeding the box of its result; for non-commutative binary ops the
// edges say which argument is which. The root's box is bold. Interior tensor boxes show shape and
// dtype only: the tape keeps an op's output data only inside its backward closure.
//
// The text is deterministic (same graph, same text), so tests can look for nodes and edges:
// entry i is node "n<i>" and its op node "n<i>_op".
#include <autodiff/tensor.hpp>
#include <autodiff/value.hpp>

#include <string>

namespace ad {

// The graph reachable from root, as a DOT digraph. A constant, or a leaf not yet used by any op,
// is a graph of one node. A handle whose graph was released throws ad::GraphError.
std::string to_dot(const Value& root);
std::string to_dot(const Tensor& root);

// Writes dot text to path (creating missing parent folders); ad::IOError names the path and the
// reason on failure.
void write_dot(const std::string& path, const std::string& dot);

// Whether Graphviz's `dot` program is on the PATH.
bool graphviz_available();
// Runs `dot -T<format> dot_path -o out_path`, the format taken from out_path's extension (svg,
// png or pdf; svg otherwise). Returns false if Graphviz is not installed or dot fails.
bool render_dot(const std::string& dot_path, const std::string& out_path);

}  // namespace ad
