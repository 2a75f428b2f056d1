"""Peer for bench/scalar-mlp.mjs: the same per-scalar graph built from 0-d float64 PyTorch tensors.

Reads the weights and points as JSON on stdin, runs `steps` full-batch SGD steps of the demo
(2-16-16-1 ReLU MLP, mean hinge loss + 1e-4 * sum p^2) with one tensor op per scalar op, and
prints JSON {"msPerStep": ..., "losses": [...]} so the driver can check both engines agree.
"""
import json
import sys
import time

import torch

torch.set_num_threads(1)
cfg = json.load(sys.stdin)
layers = [
    [([torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in n["w"]], torch.tensor(n["b"], dtype=torch.float64, requires_grad=True)) for n in layer]
    for layer in cfg["layers"]
]
params = [p for layer in layers for (w, b) in layer for p in (*w, b)]
xs = [[torch.tensor(v, dtype=torch.float64) for v in x] for x in cfg["inputs"]]
ys = cfg["labels"]
losses = []
start = time.perf_counter()
for step in range(cfg["steps"]):
    scores = []
    for x in xs:
        h = x
        for li, layer in enumerate(layers):
            out = []
            for w, b in layer:
                act = b
                for wi, hi in zip(w, h):
                    act = act + wi * hi
                out.append(act.relu() if li < len(layers) - 1 else act)
            h = out
        scores.append(h[0])
    data_loss = sum((1 + -y * s).relu() for s, y in zip(scores, ys)) / len(ys)
    loss = data_loss + 1e-4 * sum(p * p for p in params)
    for p in params:
        p.grad = None
    loss.backward()
    lr = cfg["lr"] * (1 - 0.9 * step / cfg["steps"])
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
    losses.append(loss.item())
elapsed = time.perf_counter() - start
print(json.dumps({"msPerStep": 1000 * elapsed / cfg["steps"], "losses": losses}))
