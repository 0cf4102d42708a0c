// The reference every scenario is compared with: a bare Bun.serve in its own child process
// (like each service), answering with a fixed body of exactly the byte size the scenario's real
// response has, content-type application/json. The body travels through a temp file.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@careforall/http";
import { startBenchServer } from "./process";

export interface Baseline {
  url: string;
  port: number;
  bodyBytes: number;
  stop(): Promise<void>;
}

export interface BaselineOptions {
  /** The exact body to serve; its UTF-8 byte size is what the comparison is about. */
  body: string;
  contentType?: string;
  readyTimeoutMs?: number;
}

/** A JSON document of exactly `bytes` UTF-8 bytes (for scenarios that only know the size). */
export function jsonBodyOfSize(bytes: number): string {
  const shell = '{"baseline":""}';
  if (bytes < shell.length) throw new Error(`a JSON body needs at least ${shell.length} bytes, asked for ${bytes}`);
  return `{"baseline":"${"x".repeat(bytes - shell.length)}"}`;
}

export async function startBaseline(options: BaselineOptions): Promise<Baseline> {
  const bodyBytes = Buffer.byteLength(options.body, "utf8");
  const dir = mkdtempSync(join(tmpdir(), "cfa-bench-baseline-"));
  const file = join(dir, "body");
  writeFileSync(file, options.body);
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const { stop } = await startBenchServer({
    name: "baseline server",
    script: join(import.meta.dir, "baseline-server.ts"),
    env: {
      BASELINE_BODY_FILE: file,
      BASELINE_PORT: String(port),
      BASELINE_CONTENT_TYPE: options.contentType ?? "application/json",
    },
    ready: async () => {
      const res = await fetch(`${url}/`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      if (!res) return false;
      const got = (await res.arrayBuffer()).byteLength;
      if (res.status !== 200 || got !== bodyBytes) {
        throw new Error(`baseline answered ${res.status} with ${got} bytes, expected 200 with ${bodyBytes}`);
      }
      return true;
    },
    readyTimeoutMs: options.readyTimeoutMs ?? 10_000,
    graceMs: 3000,
    afterStop: () => rmSync(dir, { recursive: true, force: true }),
  });
  return { url, port, bodyBytes, stop };
}
