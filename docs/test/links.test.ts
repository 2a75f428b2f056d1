// The guide's promises about where things are: every relative link and anchor resolves, each
// chapter links to its playground page, the index lists every chapter, and each package README
// links to the chapters that explain it.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { CHAPTERS, DOCS_DIR, GUIDE_DIR, PLAYGROUND_URL, REPO_ROOT, chapterFiles, playgroundLink } from "../src/guide";
import { headings, links } from "../src/markdown";
import { chapterSnippets } from "../src/snippets";

const read = (path: string): string => readFileSync(path, "utf8");
const routes = new Set(["autograd", "activations", "tokenizer", "attention", "training", "sampling", "quantization", "lora", "chat"]);

/** Problems with the links of one markdown file: missing files, missing anchors, unknown playground routes. */
function brokenLinks(file: string, only: (absoluteTarget: string) => boolean = () => true): string[] {
  const problems: string[] = [];
  for (const link of links(read(file))) {
    const where = `${relative(REPO_ROOT, file)}:${link.line} (${link.target})`;
    if (link.target.startsWith(PLAYGROUND_URL)) {
      const route = /^#\/([a-z]+)$/.exec(link.target.slice(PLAYGROUND_URL.length));
      if (route === null || !routes.has(route[1])) problems.push(`${where}: not a playground route`);
      continue;
    }
    if (/^[a-z]+:/i.test(link.target)) continue; // other sites: not checked offline
    const [path, anchor] = link.target.split("#", 2) as [string, string | undefined];
    const target = path === "" ? file : resolve(dirname(file), decodeURIComponent(path));
    if (!only(target)) continue;
    if (!existsSync(target)) {
      problems.push(`${where}: no such file`);
      continue;
    }
    if (anchor !== undefined && anchor !== "" && target.endsWith(".md") && statSync(target).isFile()) {
      if (!headings(read(target)).some((h) => h.anchor === anchor)) problems.push(`${where}: no heading with anchor #${anchor} in ${relative(REPO_ROOT, target)}`);
    }
  }
  return problems;
}

const guideFiles = [join(DOCS_DIR, "README.md"), ...chapterFiles().map((f) => join(GUIDE_DIR, f))];

describe("links", () => {
  it("every relative link and anchor in docs/ resolves, and playground links use known routes", () => {
    expect(guideFiles.flatMap((f) => brokenLinks(f))).toEqual([]);
  });

  it("every link from a README into docs/ resolves", () => {
    const readmes = [join(REPO_ROOT, "README.md")];
    for (const group of ["packages", "apps"]) {
      const dir = join(REPO_ROOT, group);
      for (const name of readdirSync(dir)) if (existsSync(join(dir, name, "README.md"))) readmes.push(join(dir, name, "README.md"));
    }
    const intoDocs = (target: string): boolean => target.startsWith(DOCS_DIR);
    expect(readmes.flatMap((f) => brokenLinks(f, intoDocs))).toEqual([]);
  });
});

describe("chapters", () => {
  const written = CHAPTERS.filter((c) => c.file !== null);

  it("docs/guide holds exactly the chapters written so far", () => {
    expect(chapterFiles()).toEqual(written.map((c) => c.file));
  });

  it("the index links every written chapter and lists the others by title without a page", () => {
    const index = read(join(DOCS_DIR, "README.md"));
    const targets = links(index).map((l) => l.target);
    for (const c of CHAPTERS) {
      if (c.file !== null) expect(targets, `chapter ${c.number}`).toContain(`guide/${c.file}`);
      else expect(index, `chapter ${c.number} in the outline`).toMatch(new RegExp(`^${c.number}\\. ${c.title}`, "m"));
    }
  });

  for (const c of written) {
    it(`${c.file} has programs that show their output`, () => {
      const { groups } = chapterSnippets(`docs/guide/${c.file}`, read(join(GUIDE_DIR, c.file ?? "")));
      expect(groups.flatMap((g) => g.parts).filter((p) => p.output !== null).length).toBeGreaterThan(0);
    });

    it(`${c.file} links to its playground page #/${c.route}`, () => {
      expect(links(read(join(GUIDE_DIR, c.file ?? ""))).map((l) => l.target)).toContain(playgroundLink(c.route));
    });
  }

  it("each package README links to the chapters that explain it (to the index while a chapter is planned)", () => {
    const missing: string[] = [];
    for (const c of CHAPTERS) {
      for (const pkg of c.packages) {
        const readme = join(REPO_ROOT, "packages", pkg, "README.md");
        if (c.file === null && !existsSync(readme)) continue; // the package has not landed either
        const targets = links(read(readme)).map((l) => resolve(dirname(readme), l.target.split("#")[0]));
        const target = c.file === null ? join(DOCS_DIR, "README.md") : join(GUIDE_DIR, c.file);
        if (!targets.includes(target)) missing.push(`packages/${pkg}/README.md -> ${relative(REPO_ROOT, target)} (chapter ${c.number})`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("the playground README links every written chapter", () => {
    const readme = join(REPO_ROOT, "apps", "playground", "README.md");
    const targets = new Set(links(read(readme)).map((l) => resolve(dirname(readme), l.target.split("#")[0])));
    expect(written.filter((c) => !targets.has(join(GUIDE_DIR, c.file ?? ""))).map((c) => c.file)).toEqual([]);
  });

  it("the root README links the guide and says how to build the API reference", () => {
    const readme = read(join(REPO_ROOT, "README.md"));
    expect(links(readme).map((l) => l.target)).toContain("docs/README.md");
    expect(readme).toMatch(/pnpm\.mjs run docs/);
  });
});
