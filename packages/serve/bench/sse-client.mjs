// The benches' streaming client: one POST with a JSON body over a keep-alive node:http agent,
// its server-sent events handed over one by one as they arrive. The client shares the machine
// with the server it measures (2 cores here), so it is kept lean: undici's fetch with a web
// ReadableStream and a TextDecoder cost about 100 µs of client CPU per streamed token, CPU the
// server then lacks (most at 2 server threads, where the client competes for the second core).
import http from "node:http";

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

/**
 * POSTs `body` to `url` and calls onEvent(data, arrivedAt) for each `data: …` event of the
 * response (arrivedAt: performance.now() when the bytes holding it were read). Resolves when the
 * response ends; rejects on a status other than 200 (with the body) or a connection error.
 *
 * A kept-alive connection the server closed while idle (its keep-alive timeout, while this
 * process was busy and did not see the close) fails before any response: such a request never
 * reached the server and is sent once more.
 */
export async function streamEvents(url, body, onEvent) {
  try {
    return await streamOnce(url, body, onEvent);
  } catch (error) {
    if (error.code !== "ECONNRESET" || error.responded) throw error;
    return streamOnce(url, body, onEvent);
  }
}

function streamOnce(url, body, onEvent) {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify(body));
    let responded = false;
    const req = http.request(url, { method: "POST", agent, headers: { "Content-Type": "application/json", "Content-Length": payload.length } }, (res) => {
      responded = true;
      res.setEncoding("utf8");
      if (res.statusCode !== 200) {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => reject(new Error(`status ${res.statusCode}: ${text}`)));
        return;
      }
      let buffered = "";
      res.on("data", (text) => {
        const now = performance.now();
        buffered += text;
        let at;
        while ((at = buffered.indexOf("\n\n")) >= 0) {
          const event = buffered.slice(0, at);
          buffered = buffered.slice(at + 2);
          if (event.startsWith("data: ")) onEvent(event.slice(6), now);
        }
      });
      res.on("end", resolve);
      res.on("error", reject);
    });
    req.on("error", (error) => {
      error.responded = responded;
      reject(error);
    });
    req.end(payload);
  });
}
