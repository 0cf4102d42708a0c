// deploy/fluent-bit without a Fluent Bit binary (none in Debian, no Docker here): the config is
// parsed and checked — Docker's container logs in, our JSON parser on the `log` key, Elasticsearch
// out into careforall-logs-* — and a real service log line (libs/log, inside a request's context),
// wrapped as Docker's json-file driver writes it, is taken through the same steps the config
// names: the record that reaches Elasticsearch keeps requestId, traceId, spanId, service and level,
// its time parses with the parser's Time_Format, and its index is one the logs template covers.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger, withLogContext } from "@careforall/log";
import { parse as parseYaml } from "yaml";
import { LOGS_INDEX_PREFIX, logsIndexTemplate } from "../src/index-template";

const DIR = join(import.meta.dir, "..", "..", "..", "deploy", "fluent-bit");

interface Plugin {
  name: string;
  [key: string]: unknown;
}
interface FluentBitYaml {
  service: Record<string, unknown>;
  pipeline: { inputs: Plugin[]; filters: Plugin[]; outputs: Plugin[] };
}

const config = parseYaml(readFileSync(join(DIR, "fluent-bit.yaml"), "utf8")) as FluentBitYaml;

/** The [PARSER] sections of a classic-format parsers file, keys lower-cased. */
function parsersFile(text: string): Map<string, Record<string, string>> {
  const parsers = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (/^\[PARSER\]$/i.test(line)) {
      current = {};
      continue;
    }
    const m = /^(\S+)\s+(.+)$/.exec(line);
    if (!current || !m) throw new Error(`not a parsers file line: ${raw}`);
    current[(m[1] as string).toLowerCase()] = m[2] as string;
    if ((m[1] as string).toLowerCase() === "name") parsers.set(m[2] as string, current);
  }
  return parsers;
}

const on = (value: unknown) => value === true || value === "on" || value === "On" || value === "true";

/** Fluent Bit's tag matching: `*` matches any run of characters. */
const tagMatches = (pattern: string, tag: string) =>
  new RegExp(
    `^${pattern
      .split("*")
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  ).test(tag);

/** A strptime format as a regular expression over the text it accepts (the modifiers we use). */
function strptimeRegex(format: string): RegExp {
  const parts: Record<string, string> = {
    Y: "\\d{4}",
    m: "\\d{2}",
    d: "\\d{2}",
    H: "\\d{2}",
    M: "\\d{2}",
    S: "\\d{2}",
    L: "\\d+",
    z: "(?:Z|[+-]\\d{2}:?\\d{2})",
  };
  let out = "";
  for (let i = 0; i < format.length; i++) {
    const c = format[i] as string;
    if (c === "%") {
      const modifier = format[++i] as string;
      const part = parts[modifier];
      if (!part) throw new Error(`strptime modifier %${modifier} not modelled here`);
      out += part;
    } else out += c.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${out}$`);
}

/** strftime for the date modifiers of logstash_dateformat, in UTC (as the es output names indices). */
function strftimeUtc(format: string, date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return format
    .replaceAll("%Y", String(date.getUTCFullYear()))
    .replaceAll("%m", pad(date.getUTCMonth() + 1))
    .replaceAll("%d", pad(date.getUTCDate()));
}

const tail = config.pipeline.inputs.find((i) => i.name === "tail") as Plugin;
const parserFilter = config.pipeline.filters.find((f) => f.name === "parser") as Plugin;
const es = config.pipeline.outputs.find((o) => o.name === "es") as Plugin;
const parsers = parsersFile(readFileSync(join(DIR, String(config.service.parsers_file)), "utf8"));

describe("deploy/fluent-bit", () => {
  test("reads Docker's json-file container logs, rejoining split lines, with offsets and buffer kept on disk", () => {
    expect(tail).toBeDefined();
    expect(tail.path).toBe("/var/lib/docker/containers/*/*-json.log");
    expect(
      String(tail["multiline.parser"])
        .split(",")
        .map((s) => s.trim()),
    ).toContain("docker");
    expect(String(tail.db)).toStartWith("/fluent-bit/state/");
    expect(String(config.service["storage.path"])).toStartWith("/fluent-bit/state/");
    expect(tail["storage.type"]).toBe("filesystem");
  });

  test("parses the `log` key with our JSON parser, keeping Docker's fields beside it", () => {
    expect(parserFilter.key_name).toBe("log");
    expect(tagMatches(String(parserFilter.match), "docker.var.lib.docker.containers.abc.abc-json.log")).toBe(true);
    expect(tagMatches(String(parserFilter.match), String(tail.tag).replace("*", "x"))).toBe(true);
    expect(on(parserFilter.reserve_data)).toBe(true);
    const parser = parsers.get(String(parserFilter.parser));
    expect(parser).toMatchObject({ format: "json", time_key: "time" });
  });

  test("ships into Elasticsearch 8 as careforall-logs-YYYY.MM.DD, the pattern the logs template covers", () => {
    expect(tagMatches(String(es.match), String(tail.tag).replace("*", "x"))).toBe(true);
    expect(on(es.logstash_format)).toBe(true);
    expect(es.logstash_prefix).toBe(LOGS_INDEX_PREFIX);
    expect(on(es.suppress_type_name)).toBe(true);
    expect(es.retry_limit).toBe("no_limits");
    const index = `${es.logstash_prefix}-${strftimeUtc(String(es.logstash_dateformat), new Date("2026-12-04T10:00:00Z"))}`;
    expect(index).toBe("careforall-logs-2026.12.04");
    const pattern = logsIndexTemplate().index_patterns[0] as string;
    expect(tagMatches(pattern, index)).toBe(true);
  });

  test("a service's line, as Docker writes it, reaches Elasticsearch with requestId, traceId, spanId, service and level", () => {
    const lines: string[] = [];
    const log = createLogger({
      service: "pledge",
      level: "info",
      destination: { write: (l: string) => lines.push(l) },
    });
    const ids = {
      requestId: "req-7f3a",
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
    };
    withLogContext(ids, () => log.info({ pledgeId: "p-1", amountMinor: 2500 }, "pledge.accepted"));
    const line = lines[0] as string;
    expect(line).toBeDefined();

    // Docker's json-file driver: one JSON object per line around what the process wrote.
    const dockerLine = JSON.stringify({ log: line, stream: "stdout", time: "2026-12-04T10:00:00.123456789Z" });
    // tail + multiline.parser docker: the wrapper's fields become the record.
    const record: Record<string, unknown> = JSON.parse(dockerLine);
    // The parser filter: key_name's value parsed as JSON; reserve_data keeps the rest; preserve_key off drops it.
    const parsed = JSON.parse(String(record[String(parserFilter.key_name)])) as Record<string, unknown>;
    const shipped: Record<string, unknown> = { ...record, ...parsed };
    if (!on(parserFilter.preserve_key)) delete shipped[String(parserFilter.key_name)];

    expect(shipped).toMatchObject({
      ...ids,
      service: "pledge",
      level: "info",
      msg: "pledge.accepted",
      stream: "stdout",
    });
    expect(shipped.log).toBeUndefined();
    // The line's own time is the record's time: the parser's format reads it.
    const parser = parsers.get(String(parserFilter.parser)) as Record<string, string>;
    expect(String(shipped[parser.time_key as string])).toMatch(strptimeRegex(parser.time_format as string));
    // Every correlation field is a keyword in the logs template (exact search in Kibana).
    const properties = logsIndexTemplate().template.mappings.properties as Record<string, { type: string }>;
    for (const field of ["requestId", "traceId", "spanId", "service", "level"])
      expect([field, properties[field]?.type]).toEqual([field, "keyword"]);
  });
});
