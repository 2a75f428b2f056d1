import "./styles.css";
import { ROUTES } from "./routes";
import { h, replace, errorBox } from "./ui/dom";
import { threadSupport } from "./lib/threads";

/** index.html's fixed parts. */
function part(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`playground: expected #${id} in index.html, found none`);
  return el;
}
const nav = part("nav");
const main = part("main");
const threadsBadge = part("threads");

const support = threadSupport();
threadsBadge.textContent = support.label;
threadsBadge.title = support.detail;
threadsBadge.className = `threads ${support.threads > 1 ? "ok" : "warn"}`;

replace(nav, ...ROUTES.map((r) => h("a", { href: `#/${r.path}`, "data-route": r.path }, r.title)));

let dispose: (() => void) | null = null;
let generation = 0;

function home(): HTMLElement {
  return h("section", { class: "home" },
    h("h1", {}, "See a language model work"),
    h("p", { class: "lede" },
      "Every page runs the zero-llm packages in this browser (WebAssembly in Web Workers) or against the local server, shows the numbers they compute, and says in a few sentences what the idea is. ",
      "The guide (docs/README.md) explains each one at length; here you change the inputs and watch."),
    h("ol", { class: "cards" }, ...ROUTES.map((r) => h("li", {}, h("a", { href: `#/${r.path}` }, h("strong", {}, r.title), h("span", {}, r.summary))))),
    h("p", { class: "note" }, support.detail),
  );
}

async function show(): Promise<void> {
  const path = location.hash.replace(/^#\/?/, "");
  const current = ++generation;
  dispose?.();
  dispose = null;
  for (const a of nav.querySelectorAll("a")) a.toggleAttribute("aria-current", a.dataset.route === path);
  const route = ROUTES.find((r) => r.path === path);
  if (!route) {
    document.title = "zero-llm playground";
    replace(main, path === "" ? home() : h("section", {}, h("h1", {}, "No such page"), h("p", {}, `Expected one of ${ROUTES.map((r) => `#/${r.path}`).join(", ")}, found #/${path}.`), home()));
    return;
  }
  document.title = `${route.title} · zero-llm playground`;
  replace(main, h("p", { class: "loading" }, `Loading ${route.title}…`));
  try {
    const page = await route.load();
    if (current !== generation) return; // the reader moved on while the module loaded
    const root = h("section", { class: "page", "data-page": route.path });
    replace(main, root);
    dispose = page.render(root);
    main.focus({ preventScroll: true });
  } catch (error) {
    replace(main, errorBox(error));
  }
}

window.addEventListener("hashchange", () => void show());
void show();
