// Logs for a person: `./cfa start` at a terminal rewrites each service's JSON lines into one short
// line; JSON stays JSON for pipes, files and LOG_FORMAT=json.
import { describe, expect, test } from "bun:test";
import { prettyLine, prettyStream, wantsPrettyLogs } from "../src/pretty";

const ESC = "\u001b[";
const plain = { colour: false };

describe("prettyLine", () => {
  test("an access line: time, service, level, message, then its fields as key=value", () => {
    const line = JSON.stringify({
      level: "info",
      time: "2026-12-04T15:01:02.345Z",
      service: "gateway",
      msg: "request",
      method: "GET",
      route: "/api/campaigns/:id",
      status: 200,
      durationMs: 0.41,
      requestId: "abc-1",
    });
    expect(prettyLine("gateway", line, plain)).toBe(
      "15:01:02.345 gateway  INFO  request method=GET route=/api/campaigns/:id status=200 durationMs=0.41 requestId=abc-1",
    );
  });

  test("pino's numeric levels and epoch times are read too; text with spaces is quoted", () => {
    const line = JSON.stringify({ level: 40, time: Date.UTC(2026, 11, 4, 9, 8, 7, 6), msg: "slow", who: "রহিম উদ্দিন" });
    expect(prettyLine("pledge", line, plain)).toBe('09:08:07.006 pledge   WARN  slow who="রহিম উদ্দিন"');
  });

  test("an error shows its message, and its first stack frames below the line", () => {
    const line = JSON.stringify({
      level: "error",
      time: "2026-12-04T15:01:02.345Z",
      msg: "request.failed",
      err: { type: "Error", message: "boom", stack: "Error: boom\n    at a (x.ts:1:1)\n    at b (y.ts:2:2)" },
    });
    expect(prettyLine("bank", line, plain)).toBe(
      "15:01:02.345 bank     ERROR request.failed err=boom\n    at a (x.ts:1:1)\n    at b (y.ts:2:2)",
    );
  });

  test("a line that is not a JSON object passes through behind the service's name", () => {
    expect(prettyLine("auth", "error: something Bun printed", plain)).toBe(
      "             auth     error: something Bun printed",
    );
    expect(prettyLine("auth", "[1,2]", plain)).toEndWith("auth     [1,2]");
  });

  test("colours only when asked: one per service, the same every time", () => {
    const line = JSON.stringify({ level: "info", time: 0, msg: "x" });
    expect(prettyLine("gateway", line, plain)).not.toContain(ESC);
    const coloured = prettyLine("gateway", line, { colour: true });
    expect(coloured).toContain(ESC);
    expect(prettyLine("gateway", line, { colour: true })).toBe(coloured);
    const colourOf = (service: string) => prettyLine(service, line, { colour: true }).split(service)[0];
    expect(new Set(["gateway", "auth", "campaign", "pledge", "payment", "bank"].map(colourOf)).size).toBeGreaterThan(3);
  });
});

test("prettyStream joins lines that arrive in pieces and skips blank ones", () => {
  const out: string[] = [];
  const stream = prettyStream("payment", (t) => out.push(t), plain);
  const line = JSON.stringify({ level: "info", time: "2026-12-04T00:00:00.000Z", msg: "started" });
  stream.write(line.slice(0, 10));
  stream.write(`${line.slice(10)}\n\n${line.slice(0, 5)}`);
  expect(out).toEqual(["00:00:00.000 payment  INFO  started\n"]);
  stream.write(line.slice(5));
  stream.end();
  expect(out).toHaveLength(2);
});

test("pretty only at a terminal, and never with LOG_FORMAT=json", () => {
  expect(wantsPrettyLogs({}, true)).toBe(true);
  expect(wantsPrettyLogs({}, false)).toBe(false);
  expect(wantsPrettyLogs({}, undefined)).toBe(false);
  expect(wantsPrettyLogs({ LOG_FORMAT: "json" }, true)).toBe(false);
});
