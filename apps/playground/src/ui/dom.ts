/**
 * A small element builder, so pages read as the tree they draw:
 * `h("label", { for: "t" }, "Temperature ", input)`. Attributes are strings (numbers and booleans
 * are converted; `false` leaves the attribute out); keys starting with "on" are event listeners.
 */
export type Child = Node | string | number | null | undefined | false;
export type Attributes = Record<string, string | number | boolean | ((event: Event) => void) | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttributes(el, attrs);
  append(el, ...children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** The same for SVG elements (charts). */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attributes = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttributes(el, attrs);
  append(el, ...children);
  return el;
}

function setAttributes(el: Element, attrs: Attributes): void {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(key.slice(2).toLowerCase(), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

export function append(el: Element, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "number" ? String(child) : child);
  }
}

/** Replaces every child of `el`. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

/** A labelled control: the label wraps its input, so a click on the text focuses it. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLLabelElement {
  return h("label", { class: "field" }, h("span", { class: "field-label" }, label), control, hint ? h("small", {}, hint) : null);
}

/** A numeric input that reports its value as a number; `onInput` fires on every valid change. */
export function numberInput(
  value: number,
  opts: { min?: number; max?: number; step?: number | "any"; id?: string; onInput?: (v: number) => void; testid?: string } = {},
): HTMLInputElement {
  const el = h("input", {
    type: "number", value, min: opts.min, max: opts.max, step: opts.step ?? "any", id: opts.id, "data-testid": opts.testid,
  });
  if (opts.onInput) {
    const onInput = opts.onInput;
    el.addEventListener("input", () => {
      const v = el.valueAsNumber;
      if (Number.isFinite(v)) onInput(v);
    });
  }
  return el;
}

/** A short text that says what went wrong, in the page (not the console). */
export function errorBox(error: unknown): HTMLElement {
  const message = error instanceof Error ? error.message : String(error);
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
  return h("p", { class: "error", role: "alert" }, code ? h("code", {}, code) : null, code ? " " : null, message);
}

/** Numbers as the pages print them: 4 significant digits, exponent form outside [1e-3, 1e5). */
export function fmt(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(digits - 1);
  return String(Number(x.toPrecision(digits)));
}

/** Bytes as KiB / MiB / GiB (binary units, as memory is sized). */
export function formatBytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${fmt(v, 4)} ${units[u]}`;
}
