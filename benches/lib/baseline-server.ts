// The baseline's server process, spawned by baseline.ts: a bare Bun.serve that answers every
// request with one fixed body (read once from BASELINE_BODY_FILE) and nothing else, so its
// throughput is what Bun itself can do for a response of that size on this machine.
import { readFileSync } from "node:fs";

const file = process.env.BASELINE_BODY_FILE;
const port = Number(process.env.BASELINE_PORT);
const contentType = process.env.BASELINE_CONTENT_TYPE ?? "application/json";
if (!file || !Number.isInteger(port) || port <= 0) {
  console.error("baseline-server: BASELINE_BODY_FILE and BASELINE_PORT are required");
  process.exit(2);
}
const body = readFileSync(file, "utf8");

const server = Bun.serve({
  port,
  hostname: "127.0.0.1",
  fetch: () => new Response(body, { headers: { "content-type": contentType } }),
});

const stop = () => {
  server.stop(true);
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
