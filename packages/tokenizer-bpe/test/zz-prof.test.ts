import { it } from "vitest";
import { mergeTablesOf } from "../src/bpe";
import { loadEncoding } from "./helpers/encodings";
import { loadBrownText } from "./helpers/brown";
it("prof", async () => {
  const tok = await loadEncoding("cl100k_base");
  tok.encode(loadBrownText().slice(0, 2_000_000));
  const { pairs } = mergeTablesOf(tok);
  let f = 0; let t0 = performance.now();
  for (let r = 0; r < 3_000_000; r++) f += pairs.find(64, 64);
  console.log("3M finds (a,a)", (performance.now() - t0).toFixed(0), "ms", f > 0);
  t0 = performance.now();
  for (let r = 0; r < 3_000_000; r++) f += pairs.find(r % 300, (r * 7) % 300);
  console.log("3M finds mixed", (performance.now() - t0).toFixed(0), "ms", f > 0);
  const t: any = (pairs as any);
  console.log(Object.keys(t));
}, 120000);
