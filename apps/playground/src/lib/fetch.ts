import { PlaygroundError } from "./errors";

/**
 * Files served beside the app (the embedded model under models/default/), resolved against the
 * app's own URL so the playground works under any path. A failed fetch says which file and why.
 */
export async function fetchBytes(file: string): Promise<Uint8Array> {
  return new Uint8Array(await (await get(file)).arrayBuffer());
}

export async function fetchText(file: string): Promise<string> {
  return (await get(file)).text();
}

async function get(file: string): Promise<Response> {
  const url = new URL(file, appBase());
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new PlaygroundError("FETCH_FAILED", `fetch ${url.pathname}: expected the file, found a network error (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
  if (!response.ok) throw new PlaygroundError("FETCH_FAILED", `fetch ${url.pathname}: expected HTTP 200, found ${response.status} ${response.statusText}`);
  return response;
}

/**
 * The app's base URL (where index.html is). In a built worker the script sits in assets/, under
 * `vite dev` in src/; on the page itself it is the document's directory.
 */
function appBase(): string {
  const here = new URL(self.location.href);
  for (const dir of ["/assets/", "/src/"]) {
    const at = here.pathname.lastIndexOf(dir);
    if (at >= 0) return new URL(here.pathname.slice(0, at + 1), here).href;
  }
  return new URL("./", here).href;
}
