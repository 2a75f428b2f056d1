import { WorkerClient } from "../lib/rpc";
import { errorBox, field, fmt, h, numberInput, replace } from "../ui/dom";
import type { TokenizerProtocol, TokenView, VocabId } from "../workers/tokenizer-protocol";

const PASTELS = ["#fde68a", "#bfdbfe", "#bbf7d0", "#fecaca", "#ddd6fe", "#fbcfe8", "#a5f3fc", "#fed7aa"];

/** One sentence in several languages and two kinds of non-prose (our own text, for the comparison). */
export const SAMPLES: ReadonlyArray<readonly [string, string]> = [
  ["English", "The quick brown fox jumps over the lazy dog while the jury deliberates."],
  ["French", "Le renard brun saute par-dessus le chien paresseux pendant que le jury délibère."],
  ["German", "Der schnelle braune Fuchs springt über den faulen Hund, während die Jury berät."],
  ["Russian", "Быстрая бурая лиса перепрыгивает через ленивую собаку, пока жюри совещается."],
  ["Chinese", "敏捷的棕色狐狸跳过了懒狗，而陪审团正在商议。"],
  ["Japanese", "素早い茶色の狐が怠け者の犬を飛び越え、陪審員が審議している。"],
  ["Hindi", "तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है जबकि जूरी विचार कर रही है।"],
  ["Arabic", "يقفز الثعلب البني السريع فوق الكلب الكسول بينما تتداول هيئة المحلفين."],
  ["Code", "for (let i = 0; i < tokens.length; i++) total += counts[tokens[i]] ?? 0;"],
  ["Numbers", "3.14159 2026-12-03 1,234,567 0x7fffffff"],
];

const COMPARED: VocabId[] = ["r50k_base", "cl100k_base", "o200k_base", "model"];
const VOCAB_LABELS: Record<VocabId, string> = {
  r50k_base: "r50k_base (GPT-2, GPT-3)", cl100k_base: "cl100k_base (GPT-4)", o200k_base: "o200k_base (GPT-4o)",
  model: "the embedded model's (2,048)", file: "a vocabulary file…", trained: "trained on this page",
};

const DEFAULT_TEXT = "The jury said it did not find any evidence. Tokenizers split text into pieces: 123456789, naïve café, 東京, 🙂.";
const TRAIN_TEXT = [
  "A tokenizer learns its vocabulary from text. It starts with the two hundred and fifty-six bytes, counts every pair of neighbouring tokens,",
  "and merges the most frequent pair into a new token. Then it counts again and merges again, until the vocabulary has the size that was asked for.",
  "The first merges join common letters, such as t and h, or e and r; later merges join whole syllables and then whole words, such as the, and, that,",
  "there and their. A word the tokenizer has seen often becomes one token; a rare word is spelled out in several pieces, and a word in a script",
  "it has never seen is spelled out byte by byte. The order of the merges is the order of their frequency, and encoding replays them in that order.",
].join(" ");

export function render(root: HTMLElement): () => void {
  const client = new WorkerClient<TokenizerProtocol>(new Worker(new URL("../workers/tokenizer.worker.ts", import.meta.url), { type: "module" }));
  let vocab: VocabId = "cl100k_base";

  const select = h("select", { "data-testid": "vocab" }, ...(Object.keys(VOCAB_LABELS) as VocabId[]).map((v) => h("option", { value: v, disabled: v === "trained" }, VOCAB_LABELS[v])));
  select.value = vocab;
  const fileInput = h("input", { type: "file", "data-testid": "vocab-file", "aria-label": "vocabulary file (GGUF, tokenizer.json, .tiktoken, tokenizer.bin)" });
  const drop = h("div", { class: "panel", tabindex: 0 }, "Drop a vocabulary file here (GGUF, tokenizer.json, .tiktoken, llama2.c tokenizer.bin) or choose one: ", fileInput);
  const textArea = h("textarea", { "data-testid": "text", rows: 4, "aria-label": "text to tokenize" }, DEFAULT_TEXT);
  const vocabInfo = h("p", { class: "note", "data-testid": "vocab-info" });
  const stats = h("p", { "data-testid": "token-stats" });
  const tokensBox = h("div", { class: "tokens", "data-testid": "tokens", "aria-label": "the text, token by token" });
  const table = h("div", { class: "tok-list" });
  const compareBox = h("div", { "data-testid": "compare" }, h("p", { class: "loading" }, "Counting…"));

  const showTokens = (text: string, tokens: TokenView[], count: number): void => {
    replace(tokensBox, ...tokens.map((t, i) => {
      const shown = t.end > t.start ? text.slice(t.start, t.end) : t.piece;
      return h("span", { class: "tok", style: `background:${PASTELS[i % PASTELS.length]}`, title: `token ${i}: id ${t.id}, bytes ${t.byteStart}–${t.byteEnd}, piece ${JSON.stringify(t.piece)}` },
        shown, h("sub", {}, t.id));
    }), count > tokens.length ? h("span", { class: "note" }, ` … ${count - tokens.length} more`) : null);
    replace(table, h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "id"), h("th", { class: "text" }, "piece"), h("th", {}, "bytes"), h("th", {}, "text span"))),
      h("tbody", {}, ...tokens.slice(0, 200).map((t, i) => h("tr", {}, h("td", {}, i), h("td", { class: "num" }, t.id), h("td", { class: "text" }, h("code", {}, JSON.stringify(t.piece))), h("td", { class: "num" }, `${t.byteStart}–${t.byteEnd}`), h("td", { class: "num" }, `${t.start}–${t.end}`))))));
  };

  let pending = 0;
  const encode = async (): Promise<void> => {
    const ticket = ++pending;
    const text = textArea.value;
    try {
      const r = await client.call("encode", { vocab, text, limit: 2000 });
      if (ticket !== pending) return;
      const chars = [...text].length;
      replace(stats, h("b", { "data-testid": "token-count" }, r.count), ` tokens for ${chars} characters (${r.bytes} bytes of UTF-8): ${r.count ? fmt(r.bytes / r.count, 3) : "—"} bytes and ${r.count ? fmt(chars / r.count, 3) : "—"} characters per token; encoded in ${fmt(r.ms, 2)} ms.`);
      showTokens(text, r.tokens, r.count);
    } catch (error) {
      replace(stats, errorBox(error));
    }
  };

  const choose = async (v: VocabId, bytes?: Uint8Array, name?: string): Promise<void> => {
    replace(vocabInfo, "Loading the vocabulary…");
    try {
      const info = await client.call("load", { vocab: v, bytes, name });
      vocab = v;
      select.value = v;
      replace(vocabInfo, `${info.label}: ${info.kind}, ${info.vocabSize.toLocaleString("en")} tokens, loaded in ${fmt(info.ms, 3)} ms.`);
      await encode();
    } catch (error) {
      replace(vocabInfo, errorBox(error));
    }
  };

  const readFile = async (file: File): Promise<void> => {
    const bytes = new Uint8Array(await file.arrayBuffer());
    await choose("file", bytes, file.name);
    if (vocab === "file") {
      fileName = file.name;
      await compare();
    }
  };
  select.addEventListener("change", () => {
    if (select.value === "file") fileInput.click();
    else void choose(select.value as VocabId);
  });
  fileInput.addEventListener("change", () => {
    const file = fileInput.files?.[0];
    if (file) void readFile(file);
  });
  drop.addEventListener("dragover", (e) => e.preventDefault());
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    const file = e.dataTransfer?.files[0];
    if (file) void readFile(file);
  });
  let typing = 0;
  textArea.addEventListener("input", () => {
    clearTimeout(typing);
    typing = window.setTimeout(() => void encode(), 120);
  });

  // compare token counts across vocabularies and languages
  let fileName: string | null = null;
  const compare = async (): Promise<void> => {
    // a dropped vocabulary joins the comparison
    const vocabs: VocabId[] = fileName === null ? COMPARED : [...COMPARED, "file"];
    try {
      const counts = await client.call("count", { vocabs, texts: SAMPLES.map(([, t]) => t) });
      replace(compareBox, h("table", { "data-testid": "compare-table" },
        h("thead", {}, h("tr", {}, h("th", { class: "text" }, "text"), h("th", {}, "characters"), ...vocabs.map((v) => h("th", {}, v === "model" ? "embedded model" : v === "file" ? fileName : v)))),
        h("tbody", {}, ...SAMPLES.map(([lang, text], i) => {
          const chars = [...text].length;
          const fewest = Math.min(...counts[i]);
          return h("tr", {}, h("td", { class: "text", title: text }, lang), h("td", { class: "num" }, chars),
            ...counts[i].map((c) => h("td", { class: `num${c === fewest ? " ok-text" : ""}` }, `${c}`, h("small", {}, ` (${fmt(chars / c, 2)} ch/tok)`))));
        }))));
    } catch (error) {
      replace(compareBox, errorBox(error));
    }
  };

  // train a BPE on pasted text
  const trainText = h("textarea", { rows: 4, "data-testid": "train-text", "aria-label": "training text" }, TRAIN_TEXT);
  const trainSize = numberInput(300, { min: 257, max: 5000, step: 1, testid: "train-vocab-size" });
  const trainButton = h("button", { class: "primary", "data-testid": "train" }, "Train BPE");
  const trainStats = h("p", { "data-testid": "train-stats" });
  const mergesBox = h("ol", { class: "tok-list", start: 0, "data-testid": "merges", style: "columns: 3; font-family: monospace; font-size: 0.9em" });
  const showPiece = (p: string) => JSON.stringify(p).slice(1, -1).replace(/ /g, "␣");
  trainButton.addEventListener("click", () => {
    replace(mergesBox);
    trainButton.disabled = true;
    client.call("train", { text: trainText.value, vocabSize: Math.round(trainSize.valueAsNumber) }, ({ merges, done, total }) => {
      for (const m of merges) mergesBox.append(h("li", { title: `seen ${m.count} times` }, `${showPiece(m.left)} + ${showPiece(m.right)} → ${showPiece(m.merged)} (${m.count})`));
      replace(trainStats, `merge ${done} of ${total}…`);
    }).then((r) => {
      replace(trainStats, `${r.merges} merges in ${fmt(r.ms, 3)} ms: a vocabulary of `, h("b", { "data-testid": "trained-vocab-size" }, r.vocabSize),
        ` tokens (256 bytes + merges). The training text is now `, h("b", { "data-testid": "trained-count" }, r.count), " tokens.",
        r.shortfall ? " The text ran out of pairs before the size asked for: every piece is one token." : "");
      (select.querySelector('option[value="trained"]') as HTMLOptionElement).disabled = false;
    }, (error: unknown) => replace(trainStats, errorBox(error))).finally(() => (trainButton.disabled = false));
  });

  root.append(
    h("h1", {}, "Tokenizer: text in, ids out"),
    h("p", { class: "lede" },
      "A model reads integers, not letters. Byte-pair encoding starts from the 256 bytes and repeatedly merges the most frequent adjacent pair into a new token; encoding replays those merges in the order they were learned. ",
      "Frequent words become single tokens, rare ones fall apart into pieces, and a language the vocabulary saw little of costs more tokens per character."),
    h("div", { class: "controls" }, field("vocabulary", select)),
    drop, vocabInfo, textArea, stats, tokensBox,
    h("details", {}, h("summary", {}, "every token: id, piece, byte span, text span"), table),
    h("h2", {}, "The same sentence in every vocabulary"),
    h("p", {}, "Token counts for one sentence written in several languages, and for code and numbers. Fewer tokens means a cheaper, longer-reaching context; the fewest in each row are green."),
    compareBox,
    h("h2", {}, "Train a BPE and watch the merges"),
    h("p", {}, "Paste text and train: each line is one merge, the pair that was most frequent at that moment (␣ is a space; the count is how often the pair occurred). Pre-tokenization (the cl100k pattern) keeps merges inside words, numbers and punctuation runs."),
    trainText,
    h("div", { class: "controls" }, field("vocabulary size", trainSize), trainButton),
    trainStats, mergesBox,
  );
  void choose(vocab).then(compare);
  return () => client.terminate();
}
