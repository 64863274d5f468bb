#pragma once
// Checkpoints: a model's parameters (and optionally its optimizer's state) in one safetensors
// file, interchangeable with PyTorch.
//
// Layout of the file:
//   "<name>"                      every parameter and buffer under its state_dict name
//                                 ("0.weight" [out, in], "0.bias" [out], ...), F32 or F64 as
//                                 its dtype, so torch's model.load_state_dict reads it directly
//   "optimizer.<name>.<buffer>"   with an optimizer: its state per parameter, e.g.
//                                 "optimizer.0.weight.exp_avg"
// Metadata (all strings): the caller's entries, plus with an optimizer
//   "optimizer" = "Adam", "optimizer.lr", "optimizer.<hyper-parameter>",
//   "optimizer.<name>.step" = step count of each parameter.
// Keys starting with "optimizer" are reserved (ValueError if the caller's metadata uses one).
//
// Guarantees:
//   - writes are atomic (io/atomic_file.hpp): an interrupted save leaves the old file intact;
//   - load_checkpoint validates the whole file against the model before changing anything:
//     a missing or unexpected tensor is an ad::IOError naming the file and the tensor; a shape
//     or dtype mismatch is an ad::ShapeError naming the file, the tensor, the file's and the
//     model's shapes/dtypes; with an optimizer, missing state or a different optimizer type is
//     an ad::IOError. If it throws, the model and optimizer are unchanged.
#include <nn/module.hpp>
#include <nn/optim.hpp>

#include <map>
#include <string>

namespace ad::nn {

// Saves the model's parameters and buffers (and the optimizer's state, if given; every one of
// its parameters must belong to the model, ValueError otherwise) to `path`.
void save_checkpoint(const std::string& path, const Module& model, const Optimizer* optimizer = nullptr,
                     const std::map<std::string, std::string>& metadata = {});

// Loads a checkpoint written by save_checkpoint (or by PyTorch: a safetensors file of the
// model's state_dict) into `model`, and into `optimizer` if given. Returns the file's metadata.
// Tensors named "optimizer.*" are ignored when no optimizer is given.
std::map<std::string, std::string> load_checkpoint(const std::string& path, Module& model,
                                                   Optimizer* optimizer = nullptr);

}  // namespace ad::nn
