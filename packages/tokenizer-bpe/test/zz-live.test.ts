import { it } from "vitest";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { loadVocab, VOCAB_FILES, vocabPath } from "./helpers/vocab-files";
import { readVocabTest } from "./helpers/fixtures";
import { mulberry32, randomText } from "./helpers/fuzz";
it("live", async () => {
  const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.disabled });
  const inputs = readVocabTest(vocabPath("gpt-2")).map((c) => c.text);
  const models = new Map();
  const ONLY = process.env.ONLY; const files = VOCAB_FILES.filter((f) => !ONLY || f.name === ONLY);
  for (const f of files) models.set(f.name, await llama.loadModel({ modelPath: vocabPath(f.name), vocabOnly: true }));
  for (const f of files) {
    const tok = loadVocab(f.name);
    const m = models.get(f.name);
    const rand = mulberry32(5);
    const texts = [...inputs];
    for (let k = 0; k < 300; k++) texts.push(randomText(rand, 80));
    let bad = 0;
    for (const text of texts) {
      const exp = Array.from(m.tokenize(text), Number);
      const exp2 = Array.from(m.tokenize(text), Number);
      if (exp.join() !== exp2.join()) console.log("FLAKY", JSON.stringify(text).slice(0, 60));
      const got = tok.encode(text);
      if (JSON.stringify(exp) !== JSON.stringify(got)) {
        let t = text; let changed = true;
        const same = (x: string) => JSON.stringify(Array.from(m.tokenize(x), Number)) === JSON.stringify(tok.encode(x));
        while (changed) { changed = false; const cps = Array.from(t); for (let k = 0; k < cps.length; k++) { const u = cps.slice(0, k).concat(cps.slice(k + 1)).join(""); if (!same(u)) { t = u; changed = true; break; } } }
        console.log("MIN", Array.from(t, (c) => c.codePointAt(0)!.toString(16)).join(" "), "|", Array.from(m.tokenize(t), Number).map((i) => JSON.stringify(tok.tokenText(i))).join(" "), "|", tok.encode(t).map((i) => JSON.stringify(tok.tokenText(i))).join(" "));
        bad++; if (bad <= 3) console.log(f.name, JSON.stringify(text), "\n  exp", exp.join(" "), "\n  got", got.join(" ")); }
    }
    console.log(f.name, `${texts.length - bad}/${texts.length}`);
  }
}, 600_000);
