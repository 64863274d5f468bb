#pragma once
// Errors of the engine and of the nn library.
//
// Every error is an ad::Error (a std::runtime_error). The message always names the operation
// and the values, shapes or file involved, e.g.
//   "matmul: shapes [2, 3] and [4, 5] do not match (inner dimensions 3 vs 4)".
// Catch the specific type when you want to react to one kind of mistake:
//   ShapeError   shapes or dtypes that do not fit an operation
//   GraphError   misuse of the computation graph (released graph, non-scalar backward, ...)
//   ValueError   a bad argument value (label out of range, NaN target, bad option)
//   IOError      files: missing, corrupt, truncated, inconsistent (message names the file)
//   AnomalyError anomaly mode found NaN/inf in a backward (message names the op and its label)
#include <stdexcept>
#include <string>

namespace ad {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct ShapeError : Error {
    using Error::Error;
};
struct GraphError : Error {
    using Error::Error;
};
struct ValueError : Error {
    using Error::Error;
};
struct IOError : Error {
    using Error::Error;
};
struct AnomalyError : Error {
    using Error::Error;
};

}  // namespace ad
