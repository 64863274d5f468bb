#!/usr/bin/python3
"""PyTorch CPU anchor: Fashion-MNIST end to end.

Trains a 784-256-128-10 ReLU MLP (PyTorch default Linear init) with Adam
(lr 1e-3), batch 128, cross-entropy, for --epochs epochs; the training set is
shuffled each epoch by a generator with a fixed seed; inputs are x/255.
Data is read from the IDX .gz files with gzip + numpy (no torchvision).

Measures: training seconds (excluding data loading and evaluation), test
accuracy after the last epoch, and peak RSS of the process in MB
(resource.getrusage ru_maxrss).  Prints one JSON line:
  {"torch_s":14.2,"torch_acc":0.887,"torch_rss_mb":310.5,"threads":1,"blas_threads":2}

Run with Debian's /usr/bin/python3 (the interpreter that has torch).
"""
import argparse
import gzip
import json
import os
import resource
import sys
import time

import numpy as np
import torch
from torch import nn

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"


def blas_threads():
    """Threads OpenBLAS (the BLAS behind Debian's torch) will use for GEMM, or
    None when it cannot be asked.  torch.set_num_threads does not control it;
    OPENBLAS_NUM_THREADS does."""
    try:
        import ctypes
        return int(ctypes.CDLL("libopenblas.so.0").openblas_get_num_threads())
    except (OSError, AttributeError):
        return None


def read_idx(path, expected_magic):
    """Read one gzipped IDX file into a uint8 numpy array, validating the header."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"read_idx: {path}: file has {len(data)} bytes, too short for an IDX header")
    magic = int.from_bytes(data[0:4], "big")
    if magic != expected_magic:
        raise ValueError(f"read_idx: {path}: magic {magic:#x}, expected {expected_magic:#x}")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"read_idx: {path}: header of {ndim} dims needs {header} bytes, file has {len(data)}")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    count = int(np.prod(dims))
    if len(data) - header != count:
        raise ValueError(f"read_idx: {path}: header says dims {dims} ({count} bytes) "
                         f"but {len(data) - header} bytes follow")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load(data_dir, split):
    """Images as float32 [n, 784] in [0, 1] and labels as int64 [n]."""
    images = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz"), 0x00000803)
    labels = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz"), 0x00000801)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"load: {data_dir}/{split}: {images.shape[0]} images but {labels.shape[0]} labels")
    x = images.reshape(images.shape[0], -1).astype(np.float32)
    x /= 255.0  # in place: no second float copy of the data set in the peak RSS
    x = torch.from_numpy(x)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=DEFAULT_DIR)
    args = p.parse_args(argv)
    if args.epochs < 1 or args.threads < 1 or args.batch < 1:
        p.error(f"--epochs, --threads and --batch must be >= 1 "
                f"(got {args.epochs}, {args.threads}, {args.batch})")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    x_train, y_train = load(args.data_dir, "train")
    x_test, y_test = load(args.data_dir, "t10k")

    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(),
                          nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    shuffle_gen = torch.Generator().manual_seed(args.seed)
    n = x_train.shape[0]

    train_seconds = 0.0
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, generator=shuffle_gen)
        for start in range(0, n, args.batch):
            idx = perm[start:start + args.batch]
            xb, yb = x_train[idx], y_train[idx]
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        train_seconds += time.perf_counter() - t0

    model.eval()
    with torch.no_grad():
        pred = model(x_test).argmax(dim=1)
        acc = (pred == y_test).float().mean().item()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
    print(json.dumps({"torch_s": round(train_seconds, 3), "torch_acc": round(acc, 4),
                      "torch_rss_mb": round(rss_mb, 1), "threads": torch.get_num_threads(),
                      "blas_threads": blas_threads()},
                     separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
