// View semantics: which ops share storage, when contiguous()/reshape copy, and where view() refuses.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Tensor, TensorError, arange, tensor, zeros } from "../src/index";

interface ViewCase {
  perm: number[];
  step: number;
  shape: number[];
  strides: number[];
  target: number[];
  view: { shape: number[]; strides: number[] } | null;
}
const fixturePath = fileURLToPath(new URL("./fixtures/tensor-ops.json", import.meta.url));
const { views } = JSON.parse(readFileSync(fixturePath, "utf8")) as { views: ViewCase[] };

const grid = () => arange(12).reshape([3, 4]); // [[0,1,2,3],[4,5,6,7],[8,9,10,11]]

describe("views share storage", () => {
  it("transpose swaps strides, copies nothing, and sees writes through the base", () => {
    const base = grid();
    const t = base.transpose(0, 1);
    expect(t.shape).toEqual([4, 3]);
    expect(t.strides).toEqual([1, 4]);
    expect(t.storage).toBe(base.storage);
    expect(t.isContiguous()).toBe(false);
    base.set(100, 1, 2);
    expect(t.get(2, 1)).toBe(100);
    expect(t.toArray()).toEqual([[0, 4, 8], [1, 5, 9], [2, 100, 10], [3, 7, 11]]);
  });

  it("slice offsets into the same storage, with steps and negative bounds", () => {
    const base = grid();
    const s = base.slice(1, 1, 3); // columns 1..2
    expect(s.shape).toEqual([3, 2]);
    expect(s.offset).toBe(1);
    expect(s.storage).toBe(base.storage);
    expect(s.toArray()).toEqual([[1, 2], [5, 6], [9, 10]]);
    s.set(-1, 2, 0);
    expect(base.get(2, 1)).toBe(-1);
    expect(arange(10).slice(0, 1, -1, 3).toArray()).toEqual([1, 4, 7]);
    expect(arange(5).slice(0, -2).toArray()).toEqual([3, 4]);
    expect(arange(5).slice(0, 3, 99).toArray()).toEqual([3, 4]); // clamped like Python
  });

  it("expand uses stride 0: one stored element, many logical ones", () => {
    const col = tensor([[1], [2], [3]]);
    const e = col.expand([3, 4]);
    expect(e.strides).toEqual([1, 0]);
    expect(e.storage).toBe(col.storage);
    col.set(20, 1, 0);
    expect(e.toArray()).toEqual([[1, 1, 1, 1], [20, 20, 20, 20], [3, 3, 3, 3]]);
    expect(tensor([1, 2]).expand([2, 3, 2]).shape).toEqual([2, 3, 2]);
    expect(tensor([[1, 2]]).expand([3, -1]).toArray()).toEqual([[1, 2], [1, 2], [1, 2]]);
  });

  it("permute, select, squeeze and unsqueeze are views", () => {
    const x = arange(24).reshape([2, 3, 4]);
    const p = x.permute([2, 0, 1]);
    expect(p.shape).toEqual([4, 2, 3]);
    expect(p.get(3, 1, 2)).toBe(x.get(1, 2, 3));
    const row = x.select(1, -1);
    expect(row.shape).toEqual([2, 4]);
    expect(row.storage).toBe(x.storage);
    expect(row.toArray()).toEqual([[8, 9, 10, 11], [20, 21, 22, 23]]);
    const u = x.unsqueeze(1);
    expect(u.shape).toEqual([2, 1, 3, 4]);
    expect(u.isContiguous()).toBe(true);
    expect(u.squeeze().shape).toEqual([2, 3, 4]);
    expect(u.squeeze(0).shape).toEqual([2, 1, 3, 4]); // not size 1: no-op, as torch
    expect(x.unsqueeze(-1).shape).toEqual([2, 3, 4, 1]);
  });
});

describe("contiguous() and data", () => {
  it("returns the same tensor when already contiguous", () => {
    const x = grid();
    expect(x.contiguous()).toBe(x);
    const rows = x.slice(0, 1, 3); // whole rows: still contiguous, offset 4
    expect(rows.isContiguous()).toBe(true);
    expect(rows.contiguous()).toBe(rows);
    // data of a contiguous view is a window on the storage, so writes go through
    rows.data[0] = 42;
    expect(x.get(1, 0)).toBe(42);
  });

  it("copies a non-contiguous view into fresh row-major storage", () => {
    const x = grid();
    const t = x.transpose(0, 1).contiguous();
    expect(t.storage).not.toBe(x.storage);
    expect(t.strides).toEqual([3, 1]);
    expect(Array.from(t.data)).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    x.set(-5, 0, 1);
    expect(t.get(1, 0)).toBe(1); // the copy is independent
  });

  it("clone never shares storage", () => {
    const x = grid();
    const c = x.clone();
    expect(c.storage).not.toBe(x.storage);
    expect(c.toArray()).toEqual(x.toArray());
  });
});

describe("reshape and view", () => {
  it("reshape of a contiguous tensor is a view, with -1 inferred", () => {
    const x = arange(24);
    const r = x.reshape([2, -1, 4]);
    expect(r.shape).toEqual([2, 3, 4]);
    expect(r.storage).toBe(x.storage);
  });

  it("reshape regroups within contiguous chunks of a non-contiguous tensor without copying", () => {
    // [2,3,4] -> permute to [4,2,3]; axes (2,3) of the original stay a contiguous chunk
    const x = arange(24).reshape([2, 3, 4]).permute([2, 0, 1]);
    const r = x.reshape([4, 6]);
    expect(r.storage).toBe(x.storage);
    expect(r.strides).toEqual([1, 4]);
    expect(r.toArray()).toEqual(x.contiguous().reshape([4, 6]).toArray());
  });

  it("reshape of a transpose that cannot be expressed by strides copies", () => {
    const t = grid().transpose(0, 1); // [4,3] strides [1,4]
    const r = t.reshape([12]);
    expect(r.storage).not.toBe(t.storage);
    expect(Array.from(r.data)).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
  });

  it("view refuses where torch .view would, with NOT_VIEWABLE", () => {
    const t = grid().transpose(0, 1);
    expect(() => t.view([12])).toThrowError(TensorError);
    try {
      t.view([12]);
    } catch (e) {
      expect((e as TensorError).code).toBe("NOT_VIEWABLE");
      expect((e as TensorError).message).toContain("[4,3]");
      expect((e as TensorError).message).toContain("[12]");
    }
    // splitting one axis of a transpose is fine: [4,3] -> [2,2,3]
    const v = t.view([2, 2, 3]);
    expect(v.storage).toBe(t.storage);
    expect(v.toArray()).toEqual(t.contiguous().view([2, 2, 3]).toArray());
  });

  it("view accepts and refuses exactly what torch.view does, with torch's strides", () => {
    expect(views.length).toBeGreaterThan(100);
    for (const c of views) {
      const storage = arange(c.step === 1 ? 24 : 48).data;
      const x = new Tensor(storage, c.shape, c.strides);
      const label = `perm ${c.perm} step ${c.step}: ${JSON.stringify(c.shape)} -> ${JSON.stringify(c.target)}`;
      if (c.view === null) {
        expect(() => x.view(c.target), label).toThrowError(/strides cannot express/);
        continue;
      }
      const v = x.view(c.target);
      expect({ shape: v.shape, strides: v.strides }, label).toEqual(c.view);
      // and reshape gives the same values as copy-then-reshape, viewing or not
      expect(x.reshape(c.target).toArray(), label).toEqual(x.contiguous().reshape(c.target).toArray());
    }
  });

  it("flatten merges a range of axes", () => {
    expect(zeros([2, 3, 4, 5]).flatten(1, 2).shape).toEqual([2, 12, 5]);
    expect(zeros([2, 3, 4]).flatten().shape).toEqual([24]);
  });
});

describe("element access", () => {
  it("toArray nests like torch.tolist and item() reads 0-d tensors", () => {
    expect(tensor([[1, 2], [3, 4]]).toArray()).toEqual([[1, 2], [3, 4]]);
    expect(tensor(7).shape).toEqual([]);
    expect(tensor(7).item()).toBe(7);
    expect(tensor(7).toArray()).toBe(7);
  });

  it("the raw constructor wraps existing storage", () => {
    const storage = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = new Tensor(storage, [2, 2], [1, 2], 1); // column-major window starting at 2
    expect(t.toArray()).toEqual([[2, 4], [3, 5]]);
  });
});
