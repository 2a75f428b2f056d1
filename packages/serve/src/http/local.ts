import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { readBodyBytes } from "./body";
import { KEEP_ALIVE_HINT_S, answerClientError, httpServerOptions, type HttpRequest, type HttpTransport, type RequestHandler, type TransportLimits } from "./exchange";

/**
 * node:http on the engine's own thread ("main" mode): parsing, body reading and socket writes run
 * between the engine's steps. The routes get node's ServerResponse itself; streaming stalls are
 * watched by SseStream (http/respond.ts).
 */
export class LocalHttp implements HttpTransport {
  private readonly http: Server;
  private readonly sockets = new Set<Socket>();

  constructor(limits: TransportLimits, onRequest: RequestHandler) {
    this.http = createHttpServer(httpServerOptions(limits));
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
    this.http.on("clientError", answerClientError);
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
