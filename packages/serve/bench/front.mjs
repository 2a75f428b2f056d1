// The HTTP front thread alone (src/http/front.ts, "worker" mode): what it costs per streamed
// chunk, without a model. A route stand-in opens `--streams` event streams and, as a decode step
// does, writes one chunk (a completion chunk's size) to every stream per event-loop turn; the
// clients are raw sockets that read and drop the bytes. The figure is the front thread's CPU time
// (/proc/self/task/TID/stat) from the first measured turn until every byte reached the clients,
// divided by the chunks. With --compare, another checkout's front thread (its source bundled the
// same way) is measured in the same run, the two taking turns in fresh processes:
//   cd packages/serve && node bench/front.mjs [--streams 32] [--turns 4000] [--rounds 4]
//                                             [--compare OTHER_CHECKOUT/packages/serve]
// Linux only (/proc). Prints each round, the medians and this ÷ the other, with the load average.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { setImmediate as nextTurn } from "node:timers/promises";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    streams: { type: "string", default: "32" },
    turns: { type: "string", default: "4000" },
    rounds: { type: "string", default: "4" },
    compare: { type: "string" },
    // internal: run one measurement with this bundle and print its figure as JSON
    child: { type: "string" },
  },
});
const here = path.dirname(fileURLToPath(import.meta.url));
const streams = Number(values.streams);
const turns = Number(values.turns);
const WARM_UP_TURNS = 500;
/** A content chunk as the completions route writes it at temperature 0.8 (244 bytes). */
const CHUNK = `data: {"id":"cmpl-abcdefghijklmnopqrstuvwx","object":"text_completion","created":1796398565,"model":"default","system_fingerprint":"zllm-default","choices":[{"text":" tok","index":0,"logprobs":null,"finish_reason":null}],"usage":null}\n\n`;

if (values.child) {
  console.log(JSON.stringify(await measure(values.child)));
  process.exit(0);
}

/** One measurement in this process: the front thread of `bundle` under the synthetic load. */
async function measure(bundle) {
  const { FrontThread } = await import(pathToFileURL(bundle).href);
  const limits = { maxBodyBytes: 1 << 20, bodyTimeoutMs: 10_000, headersTimeoutMs: 10_000, stallTimeoutMs: 10_000, maxBufferedBytes: 1 << 24 };
  const open = [];
  const before = new Set(readdirSync("/proc/self/task"));
  const front = new FrontThread(
    limits,
    (_req, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache" });
      res.flushHeaders();
      open.push(res);
    },
    () => {},
  );
  const url = await front.listen(0, "127.0.0.1");
  // the thread listen() started is the front
  const tid = [...readdirSync("/proc/self/task")].find((t) => !before.has(t));
  const cpuTicks = () => {
    const fields = readFileSync(`/proc/self/task/${tid}/stat`, "utf8").split(") ")[1].split(" ");
    return Number(fields[11]) + Number(fields[12]); // user + system, 1/100 s
  };
  let received = 0;
  const { port } = new URL(url);
  const sockets = Array.from({ length: streams }, () => {
    const socket = net.connect(Number(port), "127.0.0.1", () => socket.write("GET / HTTP/1.1\r\nHost: bench\r\n\r\n"));
    socket.on("data", (d) => (received += d.length));
    return socket;
  });
  while (open.length < streams) await new Promise((resolve) => setTimeout(resolve, 5));
  const run = async (n) => {
    for (let i = 0; i < n; i++) {
      for (const res of open) res.write(CHUNK);
      await nextTurn();
    }
  };
  // every chunk on the wire: its size line, the chunk, two CRLFs
  const onWire = Buffer.byteLength(CHUNK).toString(16).length + 4 + Buffer.byteLength(CHUNK);
  const delivered = async (bytes) => {
    while (received < bytes) await new Promise((resolve) => setTimeout(resolve, 2));
  };
  await run(WARM_UP_TURNS);
  // the warm-up's bytes out (heads aside), and a moment for the last of them
  await delivered(streams * WARM_UP_TURNS * onWire);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const base = received;
  const ticks0 = cpuTicks();
  await run(turns);
  await delivered(base + streams * turns * onWire);
  const ticks = cpuTicks() - ticks0;
  for (const socket of sockets) socket.destroy();
  await front.closeAll();
  return { usPerChunk: (ticks * 1e4) / (streams * turns) };
}

/** The front thread of `serveDir` bundled into one ESM file (tsup, as the package's build, without types). */
async function bundle(serveDir, outDir) {
  const { build } = await import("tsup");
  await build({ entry: { front: path.join(serveDir, "src/http/front.ts") }, format: ["esm"], outDir, dts: false, silent: true, config: false, platform: "node", target: "node20" });
  return path.join(outDir, "front.js");
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const loadAverage = () => os.loadavg().map((x) => x.toFixed(2)).join(" ");
const dir = mkdtempSync(path.join(os.tmpdir(), "zllm-front-"));
try {
  const builds = [{ label: "this checkout", file: await bundle(path.resolve(here, ".."), path.join(dir, "this")) }];
  if (values.compare) builds.push({ label: path.resolve(values.compare), file: await bundle(path.resolve(values.compare), path.join(dir, "other")) });
  console.log(`the front thread alone: ${streams} event streams, one ${Buffer.byteLength(CHUNK)}-byte chunk each per turn, ${turns} turns after ${WARM_UP_TURNS}; load average ${loadAverage()}`);
  const figures = builds.map(() => []);
  for (let round = 0; round < Number(values.rounds); round++) {
    for (let b = 0; b < builds.length; b++) {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--child", builds[b].file, "--streams", String(streams), "--turns", String(turns)]);
      figures[b].push(JSON.parse(out.toString()).usPerChunk);
    }
  }
  console.log(`(load average at the end ${loadAverage()})`);
  console.log("\n| build | front thread CPU µs per chunk, each round | median |");
  console.log("|---|---|---:|");
  builds.forEach((b, i) => console.log(`| ${b.label} | ${figures[i].map((x) => x.toFixed(1)).join(" / ")} | ${median(figures[i]).toFixed(1)} |`));
  if (builds.length > 1) console.log(`\nthis ÷ the other (medians): ${(median(figures[0]) / median(figures[1])).toFixed(2)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
