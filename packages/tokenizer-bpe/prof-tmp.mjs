import ranks from "js-tiktoken/ranks/cl100k_base";
const { fromTiktoken } = await import("./dist/index.js");
const tok = fromTiktoken({ ranks, encoding: "cl100k_base" });
let s = ""; let x = 1; for (let i = 0; i < 1 << 20; i++) { x = (x * 1103515245 + 12345) >>> 0; s += "acgt"[x >>> 30]; }
for (const [label, text] of [["a", "a".repeat(1<<20)], ["a", "a".repeat(1<<20)], [" ", " ".repeat(1<<20)], ["ab", "ab".repeat(1<<19)], ["acgt random", s]]) {
let t0 = performance.now(); const ids = tok.encode(text); console.log(JSON.stringify(label), "1MB", (performance.now() - t0).toFixed(0), "ms", ids.length);
}
