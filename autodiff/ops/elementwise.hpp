#pragma once
// Every elementwise op: arithmetic, functions and activations, comparisons and selection.
#include <autodiff/ops/arithmetic.hpp>
#include <autodiff/ops/compare.hpp>
#include <autodiff/ops/unary.hpp>
