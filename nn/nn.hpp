#pragma once
// The whole public API of the nn library (namespace ad::nn), with the engine's.
//   Module, Linear, activations, Dropout, Sequential, MLP    module.hpp linear.hpp activation.hpp dropout.hpp sequential.hpp
//   initializers                                             init.hpp
//   losses (MSE, cross-entropy, NLL, BCE)                    loss.hpp
//   optimizers, gradient clipping, learning-rate schedules   optim.hpp schedule.hpp
//   data sets, loader, Fashion-MNIST, metrics                data.hpp fashion_mnist.hpp metrics.hpp
//   checkpoints (safetensors), training loop                 checkpoint.hpp fit.hpp
//   the notes' δ rules by hand (a reference for tests)       delta_rules.hpp
//   file readers, charts, progress bar, history              io/*.hpp report/*.hpp
#include <autodiff/autodiff.hpp>
#include <nn/checkpoint.hpp>
#include <nn/data.hpp>
#include <nn/fashion_mnist.hpp>
#include <nn/fit.hpp>
#include <nn/io/csv.hpp>
#include <nn/io/idx.hpp>
#include <nn/io/safetensors.hpp>
#include <nn/linear.hpp>
#include <nn/metrics.hpp>
#include <nn/module.hpp>
#include <nn/optim.hpp>
#include <nn/report/history.hpp>
#include <nn/report/progress.hpp>
#include <nn/report/svg.hpp>
#include <nn/schedule.hpp>
#include <nn/activation.hpp>
#include <nn/delta_rules.hpp>
#include <nn/dropout.hpp>
#include <nn/init.hpp>
#include <nn/loss.hpp>
#include <nn/sequential.hpp>
