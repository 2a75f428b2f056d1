"""Peer timings for bench/kernels.mjs: numpy float32 matmul / matvec through its BLAS.

Usage: python3 numpy-peer.py '<json list of [m, k, n, kind]>'   (kind: "mm" = A[m,k]·B[k,n],
"mv" = W[m,k]·x[k]). Prints one JSON object: {"blas": name, "threads": n, "gflops": [...]},
each figure the best of repeated ~50 ms samples (the same rule as the JS side).
"""
import json
import sys
import time

import numpy as np


def blas_name():
    try:
        cfg = np.show_config(mode="dicts")  # numpy >= 1.25
        return cfg["Build Dependencies"]["blas"]["name"]
    except Exception:
        pass
    try:
        import numpy.distutils.system_info as si  # noqa: F401  (older numpy)
        info = np.__config__.blas_opt_info  # type: ignore[attr-defined]
        return ",".join(info.get("libraries", [])) or "unknown"
    except Exception:
        return "unknown"


def best_gflops(fn, flops, budget=0.6):
    fn()
    reps = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        if time.perf_counter() - t0 > 0.05:
            break
        reps *= 2
    best = float("inf")
    end = time.perf_counter() + budget
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t0) / reps)
    return flops / best / 1e9


def main():
    shapes = json.loads(sys.argv[1])
    rng = np.random.default_rng(0)
    out = []
    for m, k, n, kind in shapes:
        if kind == "mm":
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((k, n), dtype=np.float32)
            c = np.empty((m, n), dtype=np.float32)
            out.append(best_gflops(lambda: np.matmul(a, b, out=c), 2 * m * k * n))
        else:
            w = rng.standard_normal((m, k), dtype=np.float32)
            x = rng.standard_normal(k, dtype=np.float32)
            y = np.empty(m, dtype=np.float32)
            out.append(best_gflops(lambda: np.matmul(w, x, out=y), 2 * m * k))
    threads = None
    try:
        from threadpoolctl import threadpool_info
        threads = max((p["num_threads"] for p in threadpool_info()), default=None)
    except Exception:
        pass
    print(json.dumps({"blas": blas_name(), "threads": threads, "gflops": out}))


main()
