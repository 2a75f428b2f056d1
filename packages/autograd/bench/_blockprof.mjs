import * as tensorPkg from "@zero-llm/tensor";
import { F, Var, nn } from "../dist/index.js";
const { Generator, Tensor, setBackend, createWasmBackend } = tensorPkg;
setBackend(await createWasmBackend({ threads: 1 }));
const BATCH = 12, SEQ = 64, WIDTH = 128, HEADS = 4;
const g = new Generator(0);
const linear = (i, o) => new nn.Linear(i, o, { std: 0.02, generator: g });
const block = { ln1: new nn.LayerNorm(WIDTH), ln2: new nn.LayerNorm(WIDTH), qkv: linear(WIDTH, 3 * WIDTH), proj: linear(WIDTH, WIDTH), fc: linear(WIDTH, 4 * WIDTH), fc2: linear(4 * WIDTH, WIDTH) };
const params = Object.values(block).flatMap((m) => m.parameters());
const x = new Var(new Tensor(new Float32Array(BATCH * SEQ * WIDTH).map(() => g.normal()), [BATCH, SEQ, WIDTH]));
function step() {
  const h1 = block.ln1.forward(x);
  const qkv = block.qkv.forward(h1);
  const head = (i) => F.reshape(F.slice(qkv, -1, i * WIDTH, (i + 1) * WIDTH), [BATCH, SEQ, HEADS, WIDTH / HEADS]);
  const att = F.reshape(F.attention(head(0), head(1), head(2)), [BATCH, SEQ, WIDTH]);
  const r = F.add(x, block.proj.forward(att));
  const out = F.add(r, block.fc2.forward(F.gelu(block.fc.forward(block.ln2.forward(r)))));
  const loss = F.mean(F.mul(out, out));
  loss.backward();
  for (const p of params) p.zeroGrad();
}
for (let i = 0; i < 5; i++) step();
const t0 = performance.now(); for (let i = 0; i < 60; i++) step();
console.log(((performance.now() - t0) / 60).toFixed(2), "ms/step");
process.exit(0);
