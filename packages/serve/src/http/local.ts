import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { readBodyBytes } from "./body";
import { KEEP_ALIVE_HINT_S, KEEP_ALIVE_IDLE_MS, type HttpRequest, type HttpTransport, type RequestHandler, type TransportLimits } from "./exchange";

/**
 * node:http on the engine's own thread ("main" mode): parsing, body reading and socket writes run
 * between the engine's steps. The routes get node's ServerResponse itself; streaming stalls are
 * watched by SseStream (http/respond.ts).
 */
export class LocalHttp implements HttpTransport {
  private readonly http: Server;
  private readonly sockets = new Set<Socket>();

  constructor(limits: TransportLimits, onRequest: RequestHandler) {
    this.http = createHttpServer({
      headersTimeout: limits.headersTimeoutMs,
      // node's own whole-request limit, a backstop behind the body timer
      requestTimeout: limits.headersTimeoutMs + limits.bodyTimeoutMs + 1000,
      // how often node checks those two timeouts (its default, 30 s, would let a slow client hang on)
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
      // idle connections outlive what clients are told (exchange.ts): the client stops reusing first
      keepAliveTimeout: KEEP_ALIVE_IDLE_MS,
    });
    const bodyLimits = { maxBytes: limits.maxBodyBytes, timeoutMs: limits.bodyTimeoutMs };
    this.http.on("request", (req: IncomingMessage, res) => {
      res.setHeader("Keep-Alive", `timeout=${KEEP_ALIVE_HINT_S}`);
      const request: HttpRequest = {
        method: req.method ?? "GET",
        url: req.url ?? "/",
        headers: req.headers,
        body: () => readBodyBytes(req, bodyLimits),
      };
      onRequest(request, res);
    });
    this.http.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    this.http.on("clientError", (error: Error & { code?: string }, socket: Socket) => {
      // malformed HTTP or a header timeout: answer if the socket still can, then close it
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      const status = error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "408 Request Timeout" : error.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
  }

  listen(port: number, host: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.http.once("error", onError);
      this.http.listen(port, host, () => {
        this.http.off("error", onError);
        const address = this.http.address() as AddressInfo;
        const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
        resolve(`http://${shown}:${address.port}`);
      });
    });
  }

  stopAccepting(): void {
    this.http.close();
  }

  closeAll(): Promise<void> {
    this.http.close();
    for (const socket of this.sockets) socket.destroy();
    this.http.closeAllConnections();
    return Promise.resolve();
  }
}
