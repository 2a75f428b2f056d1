import { PlaygroundError } from "../lib/errors";
import { SseParser, type ChatChunk, type TokenLogprob } from "../lib/sse";
import { errorBox, field, fmt, h, numberInput, replace } from "../ui/dom";

interface Message { role: "system" | "user" | "assistant"; content: string; /** the reply as it was drawn (with its probability marks) */ view?: HTMLElement }

/** A probability's colour: green when the model was sure, through yellow, to red when it was not. */
const probColor = (p: number) => `hsl(${Math.round(120 * p)}, 75%, ${p > 0.5 ? 40 : 45}%)`;

export function render(root: HTMLElement): () => void {
  const messages: Message[] = [];
  let controller: AbortController | null = null;
  const modelSelect = h("select", { "data-testid": "model" });
  const systemIn = h("input", { type: "text", size: 50, value: "", placeholder: "(none)", "data-testid": "system", "aria-label": "system message" });
  const tempIn = numberInput(0.8, { min: 0, max: 2, step: 0.1, testid: "temperature" });
  const maxIn = numberInput(60, { min: 1, max: 500, step: 1, testid: "max-tokens" });
  const seedIn = numberInput(1, { min: -1, step: 1, testid: "seed" });
  const showProbs = h("input", { type: "checkbox", "data-testid": "show-probs" });
  const log = h("div", { class: "chat-log", "data-testid": "log", "aria-live": "polite" });
  const input = h("textarea", { rows: 2, "data-testid": "message", "aria-label": "your message", placeholder: "Write a message; Enter sends, Shift+Enter is a new line" });
  const sendButton = h("button", { class: "primary", "data-testid": "send" }, "Send");
  const stopButton = h("button", { disabled: true, "data-testid": "stop-chat" }, "Stop");
  const clearButton = h("button", {}, "New chat");
  const stats = h("p", { "data-testid": "chat-stats", class: "note" });
  const detail = h("div", { class: "panel", "data-testid": "token-detail" }, "Tick “show probabilities”, then choose a token of a reply to see the model's alternatives.");
  const serverNote = h("p", { class: "note", "data-testid": "server" });

  const showDetail = (lp: TokenLogprob): void => {
    replace(detail,
      h("p", {}, "Token ", h("code", {}, JSON.stringify(lp.token)), ": probability ", h("b", { "data-testid": "detail-prob" }, fmt(Math.exp(lp.logprob), 4)), ` (log-probability ${fmt(lp.logprob, 4)}), of the model's raw distribution, before temperature and truncation.`),
      h("table", {}, h("thead", {}, h("tr", {}, h("th", { class: "text" }, "alternative"), h("th", {}, "probability"))),
        h("tbody", {}, ...lp.top_logprobs.map((t) => h("tr", {}, h("td", { class: "text" }, h("code", {}, JSON.stringify(t.token))), h("td", { class: "num" }, fmt(Math.exp(t.logprob), 4)))))));
  };

  const tokenSpan = (lp: TokenLogprob): HTMLElement => {
    const p = Math.exp(lp.logprob);
    const span = h("span", { class: "lp-token", tabindex: 0, role: "button", title: `p = ${fmt(p, 3)}`, "data-p": p }, lp.token);
    span.style.borderBottomColor = probColor(p);
    span.addEventListener("click", () => showDetail(lp));
    span.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); showDetail(lp); } });
    return span;
  };

  const draw = (pending?: { text: HTMLElement }): void => {
    replace(log, ...messages.map((m) => h("div", { class: `msg ${m.role}` }, h("span", { class: "who" }, m.role), m.view ?? h("span", { class: "text" }, m.content))), pending ? h("div", { class: "msg assistant" }, h("span", { class: "who" }, "assistant"), pending.text) : null);
    log.scrollTop = log.scrollHeight;
  };

  const send = async (): Promise<void> => {
    const content = input.value.trim();
    if (!content || controller) return;
    input.value = "";
    const system = systemIn.value.trim();
    messages.push({ role: "user", content });
    const text = h("span", { class: "text", "data-testid": "reply" });
    draw({ text });
    controller = new AbortController();
    sendButton.disabled = true;
    stopButton.disabled = false;
    const started = performance.now();
    let first = 0, last = 0, reply = "", tokens = 0;
    let usage: ChatChunk["usage"] = null, finish = "";
    try {
      const response = await fetch("v1/chat/completions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        signal: controller.signal,
        body: JSON.stringify({
          model: modelSelect.value || undefined,
          messages: (system ? [{ role: "system" as const, content: system }, ...messages] : messages).map((m) => ({ role: m.role, content: m.content })),
          max_tokens: Math.round(maxIn.valueAsNumber), temperature: tempIn.valueAsNumber, seed: Math.round(seedIn.valueAsNumber),
          stream: true, stream_options: { include_usage: true }, logprobs: true, top_logprobs: 5,
        }),
      });
      if (!response.ok || !response.body) {
        const body = await response.text();
        let message = body;
        try { message = (JSON.parse(body) as { error: { message: string } }).error.message; } catch { /* not JSON: show it as it is */ }
        throw new PlaygroundError("SERVER_ERROR", `chat: expected HTTP 200 from the server, found ${response.status}: ${message}`);
      }
      const reader = response.body.getReader();
      const parser = new SseParser();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.push(value) as ChatChunk[]) {
          if (event.error) throw new PlaygroundError("SERVER_ERROR", `chat: the server stopped the stream: ${event.error.message}`);
          if (event.usage) usage = event.usage;
          const choice = event.choices[0];
          if (!choice) continue;
          if (choice.finish_reason) finish = choice.finish_reason;
          const delta = choice.delta.content ?? "";
          const lps = choice.logprobs?.content ?? [];
          if (delta === "" && lps.length === 0) continue;
          const now = performance.now();
          if (!first) first = now;
          last = now;
          reply += delta;
          tokens += lps.length;
          if (showProbs.checked && lps.length) for (const lp of lps) text.append(tokenSpan(lp));
          else text.append(delta);
          replace(stats, `time to first token `, h("b", { "data-testid": "ttft" }, fmt(first - started, 4)), " ms");
        }
      }
      // a token that completed a stop string was generated (and counted) but is not part of the
      // reply: its probability stays on view, marked as the stop
      let offset = 0;
      for (const span of [...text.querySelectorAll<HTMLElement>(".lp-token")]) {
        const piece = span.textContent ?? "";
        const keep = Math.max(0, reply.length - offset);
        offset += piece.length;
        if (keep >= piece.length) continue;
        const stop = h("span", { class: "lp-token lp-stop", title: `${span.title} (completed a stop string: not part of the reply)` }, piece.slice(keep));
        if (keep === 0) span.replaceWith(stop);
        else {
          span.textContent = piece.slice(0, keep); // the token straddles the stop: its first part is reply text
          span.after(stop);
        }
      }
      messages.push({ role: "assistant", content: reply, view: text });
      const completion = usage?.completion_tokens ?? tokens;
      replace(stats, "time to first token ", h("b", { "data-testid": "ttft" }, fmt(first - started, 4)), " ms; ",
        h("b", { "data-testid": "completion-tokens" }, completion), ` tokens, `, h("b", { "data-testid": "tokens-per-second" }, completion > 1 ? fmt((completion - 1) / ((last - first) / 1000), 4) : "—"),
        ` tokens/s after the first; prompt ${usage?.prompt_tokens ?? "?"} tokens; finish: `, h("span", { "data-testid": "finish" }, finish || "?"), ".");
      draw();
    } catch (error) {
      if ((error as { name?: string }).name === "AbortError") {
        messages.push({ role: "assistant", content: reply, view: text });
        stats.append(" — stopped.");
      } else {
        messages.pop();
        replace(stats, errorBox(error));
      }
    } finally {
      controller = null;
      sendButton.disabled = false;
      stopButton.disabled = true;
    }
  };

  sendButton.addEventListener("click", () => void send());
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      void send();
    }
  });
  stopButton.addEventListener("click", () => controller?.abort());
  clearButton.addEventListener("click", () => {
    messages.length = 0;
    draw();
    replace(stats);
  });

  fetch("v1/models").then(async (r) => {
    if (!r.ok) throw new PlaygroundError("SERVER_ERROR", `GET /v1/models: expected HTTP 200, found ${r.status}`);
    const list = (await r.json()) as { data: Array<{ id: string; context_length?: number }> };
    replace(modelSelect, ...list.data.map((m) => h("option", { value: m.id }, m.id)));
    replace(serverNote, `Connected to ${location.host}: ${list.data.map((m) => `${m.id} (context ${m.context_length ?? "?"})`).join(", ")}.`);
  }).catch((error: unknown) => replace(serverNote, errorBox(error), "The chat needs the OpenAI-compatible server: run npm start and open the URL it prints."));

  root.append(
    h("h1", {}, "Chat with the local server"),
    h("p", { class: "lede" },
      "This page talks to zllm serve, the OpenAI-compatible server that serves it (same origin: no CORS). A reply streams back token by token as server-sent events; the time to the first token is the prompt's prefill, the rate after it is the decode speed. ",
      "The embedded model is a 1M-parameter base model trained on 1960s American prose, not an assistant: expect fluent fragments, not answers."),
    serverNote,
    h("div", { class: "controls" }, field("model", modelSelect), field("system", systemIn), field("temperature", tempIn), field("max tokens", maxIn), field("seed", seedIn, "−1: random"),
      h("label", {}, showProbs, " show probabilities")),
    log,
    h("div", { class: "controls" }, h("div", { style: "flex: 1 1 400px" }, input), sendButton, stopButton, clearButton),
    stats,
    detail,
  );
  return () => controller?.abort();
}
