import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { GgufFile, Rng, SafetensorsFile, f32ArrayToF16, serializeGguf, serializeSafetensors, type SafetensorsTensorInput } from "@zero-llm/tensor";
import { hfFromModel, readHf, type Config } from "@zero-llm/transformer";
import { afterAll, describe, expect, it } from "vitest";
import type { LoraAdapter} from "../src/index";
import {
  ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, adapterFromGguf, adapterFromPeft, ggufAdapterInput, peftAdapterFiles,
  serializeGgufAdapter, withAdapters,
} from "../src/index";
import { readAdapter, readPeftAdapter, writeGgufAdapter, writePeftAdapter } from "../src/node/index";
import { TOKENS, allLogits, maxAbs, maxAbsDiff, randomAdapter, tinyConfig, tinyModel } from "./helpers";

const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-lora-formats-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectSameAdapter(found: LoraAdapter, expected: LoraAdapter): void {
  expect([...found.modules.keys()]).toEqual([...expected.modules.keys()]);
  for (const m of expected.modules.values()) {
    const f = found.module(m.key);
    expect([f.rank, f.inFeatures, f.outFeatures], m.key).toEqual([m.rank, m.inFeatures, m.outFeatures]);
    expect(f.a, m.key).toEqual(m.a);
    expect(maxAbsDiff(f.b, m.b), m.key).toBeLessThan(1e-7 * Math.max(1, maxAbs(m.b)));
    expect(found.scaling(m.key), m.key).toBeCloseTo(expected.scaling(m.key), 6);
  }
}

describe("PEFT adapter directory", () => {
  it.each([
    ["llama", tinyConfig("llama"), { targetModules: ["q_proj", "v_proj", "down_proj"], r: 4, alpha: 8 }],
    ["llama, rsLoRA, gaussian init, per-module ranks", tinyConfig("llama"), { targetModules: "all-linear", r: 4, alpha: 16, useRslora: true, init: "gaussian" as const, rankPattern: { "model.layers.1.mlp.up_proj": 2 } }],
    ["gpt2", tinyConfig("gpt2"), { targetModules: ["c_attn", "c_proj"], r: 3, alpha: 6, dropout: 0.1 }],
  ] as const)("%s: written and read back, every number and the config", async (_name, config, lora) => {
    const adapter = randomAdapter(config, lora);
    const at = path.join(dir, `peft-${config.arch}-${adapter.parameterCount()}`);
    await writePeftAdapter(at, adapter);
    const json = JSON.parse(readFileSync(path.join(at, ADAPTER_CONFIG_FILE), "utf8")) as Record<string, unknown>;
    expect(json).toMatchObject({
      peft_type: "LORA", task_type: "CAUSAL_LM", r: lora.r, lora_alpha: lora.alpha, lora_dropout: adapter.config.dropout,
      use_rslora: adapter.config.useRslora, fan_in_fan_out: config.arch === "gpt2", bias: "none",
      target_modules: lora.targetModules, init_lora_weights: adapter.config.init === "gaussian" ? "gaussian" : true,
    });
    expect(json).toHaveProperty("base_model_name_or_path");
    const names = SafetensorsFile.parse(readFileSync(path.join(at, ADAPTER_WEIGHTS_FILE))).tensors.map((t) => t.name);
    const first = [...adapter.modules.keys()][0];
    expect(names).toContain(`base_model.model.${first}.lora_A.weight`);
    expect(names).toContain(`base_model.model.${first}.lora_B.weight`);
    expectSameAdapter(await readPeftAdapter(at), adapter);
  });

  /**
   * A PEFT directory written by hand from PEFT's rules (not by our writer), and its meaning
   * checked through a second path: the update merged into the Hugging Face checkpoint's own
   * tensors as PEFT merges (W += scaling·B@A; a Conv1D's W [in, out] += scaling·(B@A)ᵀ), loaded
   * by our Hugging Face reader; its logits must be those of the base running the adapter.
   */
  it.each([
    ["llama, F16 tensors, rsLoRA and a rank_pattern", tinyConfig("llama"), "F16" as const],
    ["gpt2 Conv1D (fan_in_fan_out) with the fused c_attn", tinyConfig("gpt2"), "F32" as const],
  ])("%s: a file made by the specification runs as PEFT's merge says", async (_name, config: Config, dtype) => {
    const base = tinyModel(config);
    const hf = hfFromModel(config, base.weights);
    const hfTensors = new Map(hf.safetensors.tensors instanceof Map ? hf.safetensors.tensors : Object.entries(hf.safetensors.tensors));
    const llama = config.arch === "llama";
    const targets = llama
      ? { "model.layers.0.self_attn.q_proj": 4, "model.layers.0.self_attn.k_proj": 4, "model.layers.1.mlp.down_proj": 2 }
      : { "transformer.h.0.attn.c_attn": 4, "transformer.h.1.attn.c_proj": 4, "transformer.h.1.mlp.c_fc": 4 };
    const adapterConfig = llama
      ? { peft_type: "LORA", task_type: "CAUSAL_LM", r: 4, lora_alpha: 8, use_rslora: true, target_modules: ["q_proj", "k_proj", "down_proj"], rank_pattern: { "layers.1.mlp.down_proj": 2 }, alpha_pattern: {}, bias: "none", fan_in_fan_out: false, lora_dropout: 0.05, base_model_name_or_path: "tiny-llama" }
      : { peft_type: "LORA", task_type: "CAUSAL_LM", r: 4, lora_alpha: 12, use_rslora: false, target_modules: ["c_attn", "c_proj", "c_fc"], layers_to_transform: null, bias: "none", fan_in_fan_out: true, lora_dropout: 0, base_model_name_or_path: "tiny-gpt2" };
    const g = new Rng(77);
    const tensors = new Map<string, SafetensorsTensorInput>();
    for (const [key, rank] of Object.entries(targets)) {
      const weightName = `${key}.weight`;
      const w = hfTensors.get(weightName);
      if (!w) throw new Error(`no ${weightName}`);
      const stored = w.data as Float32Array;
      const [rows, cols] = w.shape as [number, number];
      // nn.Linear weight [out, in]; Conv1D weight [in, out]
      const [outF, inF] = llama ? [rows, cols] : [cols, rows];
      let a = Float32Array.from({ length: rank * inF }, () => g.normal() * 0.3);
      let b = Float32Array.from({ length: outF * rank }, () => g.normal() * 0.3);
      if (dtype === "F16") {
        // the file holds halves: merge with the values they decode to
        a = Float32Array.from(SafetensorsFile.parse(serializeSafetensors({ tensors: { a: { dtype, shape: [a.length], data: f32ArrayToF16(a) } } })).tensorToFloat32("a"));
        b = Float32Array.from(SafetensorsFile.parse(serializeSafetensors({ tensors: { b: { dtype, shape: [b.length], data: f32ArrayToF16(b) } } })).tensorToFloat32("b"));
      }
      tensors.set(`base_model.model.${key}.lora_A.weight`, { dtype, shape: [rank, inF], data: dtype === "F16" ? f32ArrayToF16(a) : a });
      tensors.set(`base_model.model.${key}.lora_B.weight`, { dtype, shape: [outF, rank], data: dtype === "F16" ? f32ArrayToF16(b) : b });
      const scaling = llama ? 8 / Math.sqrt(rank) : 12 / rank;
      const merged = new Float32Array(stored.length);
      for (let o = 0; o < outF; o++) {
        for (let i = 0; i < inF; i++) {
          let d = 0;
          for (let k = 0; k < rank; k++) d += b[o * rank + k] * a[k * inF + i];
          const at = llama ? o * inF + i : i * outF + o;
          merged[at] = stored[at] + scaling * d;
        }
      }
      hfTensors.set(weightName, { ...w, data: merged });
    }
    const adapter = adapterFromPeft(JSON.stringify(adapterConfig), serializeSafetensors({ tensors, metadata: { format: "pt" } }));
    expect(adapter.baseModel).toBe(llama ? "tiny-llama" : "tiny-gpt2");
    const ours = allLogits(withAdapters(base, [{ adapter }]), TOKENS);
    const reference = await readHf(hf.config, [serializeSafetensors({ tensors: hfTensors })]);
    const { Model } = await import("@zero-llm/transformer");
    const theirs = allLogits(new Model(reference.config, reference.weights), TOKENS);
    expect(maxAbsDiff(ours, allLogits(base, TOKENS))).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(ours, theirs)).toBeLessThan(3e-5 * maxAbs(theirs));
  });

  it("refuses what it cannot run, naming it", () => {
    const config = tinyConfig("llama");
    const { configJson, safetensors } = peftAdapterFiles(randomAdapter(config, { r: 2 }));
    const json = JSON.parse(configJson) as Record<string, unknown>;
    const withConfig = (patch: Record<string, unknown>): string => JSON.stringify({ ...json, ...patch });
    expect(() => adapterFromPeft(withConfig({ use_dora: true }), safetensors)).toThrow(expect.objectContaining({ code: "UNSUPPORTED_ADAPTER", message: expect.stringMatching(/use_dora/) }));
    expect(() => adapterFromPeft(withConfig({ peft_type: "IA3" }), safetensors)).toThrow(expect.objectContaining({ code: "UNSUPPORTED_ADAPTER" }));
    expect(() => adapterFromPeft(withConfig({ r: 3 }), safetensors)).toThrow(expect.objectContaining({ code: "BAD_ADAPTER_FILE", message: expect.stringMatching(/model\.layers\.0\.self_attn\.q_proj: expected rank 3/) }));
    expect(() => adapterFromPeft(withConfig({ r: 0 }), safetensors)).toThrow(expect.objectContaining({ code: "BAD_ADAPTER_FILE", message: expect.stringMatching(/rank/) }));
    expect(() => adapterFromPeft("{not json", safetensors)).toThrow(expect.objectContaining({ code: "BAD_ADAPTER_FILE" }));
    const onlyA = new Map<string, SafetensorsTensorInput>([["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", { dtype: "F32", shape: [2, 32], data: new Float32Array(64) }]]);
    expect(() => adapterFromPeft(configJson, serializeSafetensors({ tensors: onlyA }))).toThrow(/expected lora_A and lora_B for model\.layers\.0\.self_attn\.q_proj, found only lora_A/);
  });

  it("an adapter for another model is BASE_MISMATCH naming the module", async () => {
    const adapter = randomAdapter(tinyConfig("llama"), { r: 2 });
    const at = path.join(dir, "mismatch");
    await writePeftAdapter(at, adapter);
    await expect(readAdapter(at, tinyConfig("llama", { dim: 64, hiddenDim: 128 }))).rejects.toThrow(
      expect.objectContaining({ code: "BASE_MISMATCH", message: expect.stringMatching(/model\.layers\.0\.self_attn\.q_proj: expected an adapter for a \[64, 64\] weight/) }),
    );
    await expect(readAdapter(at, tinyConfig("llama", { nLayers: 1 }))).rejects.toThrow(/found 2 it does not have: model\.layers\.1\.self_attn\.q_proj/);
    await expect(readAdapter(at, tinyConfig("gpt2"))).rejects.toThrow(/expected a llama base model/);
  });
});

describe("llama.cpp GGUF adapter", () => {
  it.each([
    ["llama (HF order base: q/k rows permuted on the way out and back)", tinyConfig("llama"), { targetModules: "all-linear", r: 4, alpha: 8 }],
    ["llama (interleaved base)", tinyConfig("llama", { ropeStyle: "interleaved" }), { targetModules: ["q_proj", "k_proj"], r: 2 }],
    ["gpt2 (c_attn as attn_qkv)", tinyConfig("gpt2"), { targetModules: ["c_attn", "c_fc"], r: 4, alpha: 4 }],
  ] as const)("%s: written and read back", async (_name, config, lora) => {
    const adapter = randomAdapter(config, lora);
    const file = path.join(dir, `${config.arch}-${config.ropeStyle}.gguf`);
    await writeGgufAdapter(file, config, adapter);
    const gguf = GgufFile.parse(readFileSync(file));
    expect(gguf.get("general.type")).toBe("adapter");
    expect(gguf.get("adapter.type")).toBe("lora");
    expect(gguf.get("general.architecture")).toBe(config.arch);
    expect(gguf.get("adapter.lora.alpha")).toBe(adapter.config.alpha);
    const first = [...adapter.modules.values()][0];
    const qName = config.arch === "llama" ? "blk.0.attn_q.weight" : "blk.0.attn_qkv.weight";
    expect(gguf.tensorInfo(`${qName}.lora_a`).dims).toEqual([first.inFeatures, first.rank]);
    expect(gguf.tensorInfo(`${qName}.lora_b`).dims).toEqual([first.outFeatures, first.rank].reverse());
    const back = await readAdapter(file, config);
    expectSameAdapter(back, adapter);
    expect(allLogits(withAdapters(tinyModel(config), [{ adapter: back }]), TOKENS)).toEqual(allLogits(withAdapters(tinyModel(config), [{ adapter }]), TOKENS));
  });

  it("q/k rows in the file are in GGUF's interleaved order", () => {
    const config = tinyConfig("llama");
    const adapter = randomAdapter(config, { targetModules: ["q_proj"], r: 2 });
    const b = ggufAdapterInput(config, adapter).tensors.find((t) => t.name === "blk.0.attn_q.weight.lora_b");
    const ours = adapter.module("model.layers.0.self_attn.q_proj").b;
    const stored = b?.data as Float32Array;
    // half row i (< headDim/2) of head 0 is interleaved row 2i; half row headDim/2 + i is 2i + 1
    const headDim = config.dim / config.nHeads, rank = 2;
    expect(stored.subarray(2 * rank, 3 * rank)).toEqual(ours.subarray(1 * rank, 2 * rank));
    expect(stored.subarray(1 * rank, 2 * rank)).toEqual(ours.subarray((headDim / 2) * rank, (headDim / 2 + 1) * rank));
  });

  it("rsLoRA is written as alpha·√r; scalings one alpha cannot give are folded into lora_b with alpha 0", () => {
    const config = tinyConfig("llama");
    const rs = randomAdapter(config, { r: 4, alpha: 8, useRslora: true });
    expect(GgufFile.parse(serializeGgufAdapter(config, rs)).get("adapter.lora.alpha")).toBeCloseTo(8 * 2, 5);
    expectSameAdapter(adapterFromGguf(serializeGgufAdapter(config, rs), config), rs);
    const mixed = randomAdapter(config, { r: 4, alpha: 8, useRslora: true, rankPattern: { "q_proj": 2 } });
    const bytes = serializeGgufAdapter(config, mixed);
    expect(GgufFile.parse(bytes).get("adapter.lora.alpha")).toBe(0);
    const back = adapterFromGguf(bytes, config);
    const base = tinyModel(config);
    expect(maxAbsDiff(allLogits(withAdapters(base, [{ adapter: back }]), TOKENS), allLogits(withAdapters(base, [{ adapter: mixed }]), TOKENS))).toBeLessThan(1e-5);
  });

  it("refuses a model file, another architecture and tensors the base does not have", () => {
    const config = tinyConfig("llama");
    const good = ggufAdapterInput(config, randomAdapter(config, { r: 2 }));
    const withMeta = (key: string, value: string): Uint8Array =>
      serializeGguf({ ...good, metadata: good.metadata.map(([k, v]) => [k, k === key ? { type: "string", value } : v] as const) });
    expect(() => adapterFromGguf(withMeta("general.type", "model"), config)).toThrow(expect.objectContaining({ code: "BAD_ADAPTER_FILE", message: expect.stringMatching(/general\.type "adapter"/) }));
    expect(() => adapterFromGguf(withMeta("general.architecture", "gpt2"), config)).toThrow(expect.objectContaining({ code: "BASE_MISMATCH" }));
    expect(() => adapterFromGguf(serializeGgufAdapter(config, randomAdapter(config, { r: 2 })), { ...config, nLayers: 1 })).toThrow(
      expect.objectContaining({ code: "BASE_MISMATCH", message: expect.stringMatching(/blk\.1\.attn_q\.weight/) }),
    );
    const wrongWidth = { ...config, hiddenDim: 96 };
    expect(() => adapterFromGguf(serializeGgufAdapter(config, randomAdapter(config, { targetModules: ["down_proj"], r: 2 })), wrongWidth)).toThrow(/model\.layers\.0\.mlp\.down_proj \(blk\.0\.ffn_down\.weight\): expected lora_a ne \[96, r\]/);
  });
});
