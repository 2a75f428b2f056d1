#!/usr/bin/python3
"""PyTorch side of bench/block.mjs: forward + backward of one pre-norm transformer block
(LayerNorm -> causal MHA with bias -> residual -> LayerNorm -> GELU(tanh) MLP -> residual),
loss = mean(y^2), float32 on CPU. Prints one JSON line: median milliseconds per thread count.

    /usr/bin/python3 bench/block.py BATCH SEQ WIDTH HEADS REPS
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

B, T, C, H, REPS = (int(a) for a in sys.argv[1:6])
D = C // H
torch.manual_seed(0)
P = {
    "ln1w": torch.ones(C), "ln1b": torch.zeros(C), "ln2w": torch.ones(C), "ln2b": torch.zeros(C),
    "qkvw": torch.randn(3 * C, C) * 0.02, "qkvb": torch.zeros(3 * C),
    "projw": torch.randn(C, C) * 0.02, "projb": torch.zeros(C),
    "fcw": torch.randn(4 * C, C) * 0.02, "fcb": torch.zeros(4 * C),
    "fc2w": torch.randn(C, 4 * C) * 0.02, "fc2b": torch.zeros(C),
}
for t in P.values():
    t.requires_grad_(True)
x = torch.randn(B, T, C)
mask = torch.ones(T, T, dtype=torch.bool).tril()


def step():
    h = F.layer_norm(x, (C,), P["ln1w"], P["ln1b"])
    q, k, v = F.linear(h, P["qkvw"], P["qkvb"]).split(C, dim=2)
    q, k, v = (t.view(B, T, H, D).transpose(1, 2) for t in (q, k, v))
    att = ((q @ k.transpose(-2, -1)) / math.sqrt(D)).masked_fill(~mask, float("-inf")).softmax(-1)
    y = (att @ v).transpose(1, 2).reshape(B, T, C)
    r = x + F.linear(y, P["projw"], P["projb"])
    h = F.gelu(F.linear(F.layer_norm(r, (C,), P["ln2w"], P["ln2b"]), P["fcw"], P["fcb"]), approximate="tanh")
    out = r + F.linear(h, P["fc2w"], P["fc2b"])
    loss = (out * out).mean()
    loss.backward()
    for t in P.values():
        t.grad = None


result = {}
for threads in (1, 2):
    torch.set_num_threads(threads)
    for _ in range(3):
        step()
    times = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    result[str(threads)] = times[len(times) // 2]
print(json.dumps(result))
