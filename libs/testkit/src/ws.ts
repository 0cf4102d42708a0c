// A WebSocket client for tests of GET /api/ws: every frame kept in arrival order, waits with a
// deadline, and a barrier (ping → pong) that says every earlier frame has been handled.
import { waitFor } from "./index";

// biome-ignore lint/suspicious/noExplicitAny: frames are whatever JSON the server sent
export type Frame = Record<string, any>;

export class TestSocket {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (e) => {
      this.frames.push(JSON.parse(String(e.data)) as Frame);
    });
    ws.addEventListener("close", (e) => {
      this.closed = { code: e.code, reason: e.reason };
    });
  }

  /** Opens `url` (ws:// or http://, which becomes ws://); rejects if the upgrade is refused. */
  static open(url: string): Promise<TestSocket> {
    const ws = new WebSocket(url.replace(/^http/, "ws"));
    const socket = new TestSocket(ws);
    return new Promise((resolve, reject) => {
      ws.addEventListener("open", () => resolve(socket), { once: true });
      ws.addEventListener("error", () => reject(new Error(`could not open ${url}`)), { once: true });
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" || frame instanceof Uint8Array ? frame : JSON.stringify(frame));
  }

  /** Frames of one type. */
  of(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  /** Waits for the `count`th frame matching `match` (counting from the start). */
  async next(match: (f: Frame) => boolean, what: string, count = 1, timeoutMs = 10_000): Promise<Frame> {
    return waitFor(() => this.frames.filter(match)[count - 1], { what, timeoutMs, intervalMs: 5 });
  }

  /**
   * Everything sent before now has been handled: frames of one socket run in order, so the pong
   * answering this ping comes after the answers to all earlier frames.
   */
  async barrier(): Promise<void> {
    const pongs = this.of("pong").length;
    this.send({ op: "ping" });
    await this.next((f) => f.type === "pong", "pong", pongs + 1);
  }

  async waitClosed(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
    return waitFor(() => this.closed, { what: "the socket to close", timeoutMs, intervalMs: 5 });
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
  }
}
