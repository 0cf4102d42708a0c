// Logs for a person at a terminal: `./cfa start` turns each service's JSON lines into one short
// line — time, service (its own colour), level, message, then the fields that matter — instead of
// raw JSON. Files, pipes and LOG_FORMAT=json keep the JSON untouched (machines read those).

const RESET = "\u001b[0m";
const DIM = "\u001b[2m";
const BOLD = "\u001b[1m";
const SERVICE_COLOURS = [
  "\u001b[36m",
  "\u001b[35m",
  "\u001b[33m",
  "\u001b[32m",
  "\u001b[34m",
  "\u001b[96m",
  "\u001b[95m",
];
const LEVELS: Record<string, { label: string; colour: string }> = {
  trace: { label: "TRACE", colour: DIM },
  debug: { label: "DEBUG", colour: DIM },
  info: { label: "INFO ", colour: "\u001b[32m" },
  warn: { label: "WARN ", colour: "\u001b[33m" },
  error: { label: "ERROR", colour: "\u001b[31m" },
  fatal: { label: "FATAL", colour: "\u001b[41m\u001b[97m" },
};
const NUMERIC_LEVELS: Record<number, string> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};
/** Fields shown in the line's own places, not repeated as key=value. */
const PLACED = new Set(["level", "time", "service", "msg", "pid", "hostname"]);
const SERVICE_WIDTH = 8;

export interface PrettyOptions {
  /** ANSI colours (a terminal); false gives the same layout in plain text. */
  colour: boolean;
}

/** Whether `./cfa start` should print logs for a person: a terminal, unless LOG_FORMAT=json. */
export function wantsPrettyLogs(env: Record<string, string | undefined>, isTTY: boolean | undefined): boolean {
  return Boolean(isTTY) && env.LOG_FORMAT !== "json";
}

function serviceColour(service: string): string {
  let hash = 0;
  for (const ch of service) hash = (hash * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  return SERVICE_COLOURS[hash % SERVICE_COLOURS.length] as string;
}

function show(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}

function time(value: unknown): string {
  const date = typeof value === "number" || typeof value === "string" ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) return "--:--:--.---";
  return date.toISOString().slice(11, 23);
}

/**
 * One log line as a person reads it. A JSON line becomes `12:01:02.345 gateway  INFO  request
 * method=GET route=/api/campaigns/:id status=200 durationMs=0.4 requestId=…`; an error's message
 * and stack follow it; anything that is not a JSON object (a stack trace Bun printed, a banner) is
 * returned as it came, behind the service's prefix.
 */
export function prettyLine(service: string, line: string, { colour }: PrettyOptions): string {
  const paint = (code: string, text: string) => (colour ? `${code}${text}${RESET}` : text);
  const prefix = paint(serviceColour(service), service.padEnd(SERVICE_WIDTH));
  let record: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
    record = parsed as Record<string, unknown>;
  } catch {
    return `${paint(DIM, "            ")} ${prefix} ${line}`;
  }
  const levelName =
    typeof record.level === "number" ? (NUMERIC_LEVELS[record.level] ?? "info") : String(record.level ?? "info");
  const level = LEVELS[levelName] ?? (LEVELS.info as { label: string; colour: string });
  const fields: string[] = [];
  let err: { message?: unknown; stack?: unknown } | undefined;
  for (const [key, value] of Object.entries(record)) {
    if (PLACED.has(key) || value === undefined) continue;
    if (key === "err" && value && typeof value === "object") {
      err = value as { message?: unknown; stack?: unknown };
      fields.push(`err=${show(err.message ?? "")}`);
      continue;
    }
    fields.push(`${paint(DIM, `${key}=`)}${show(value)}`);
  }
  const message = paint(BOLD, String(record.msg ?? ""));
  let text = `${paint(DIM, time(record.time))} ${prefix} ${paint(level.colour, level.label)} ${message}`;
  if (fields.length > 0) text += ` ${fields.join(" ")}`;
  if (err && typeof err.stack === "string" && levelName !== "info")
    text += `\n${paint(DIM, err.stack.split("\n").slice(1, 6).join("\n"))}`;
  return text;
}

/**
 * A sink for one service's output stream: splits chunks into lines (a line may arrive in pieces)
 * and writes each pretty line to `out`. `end()` flushes a last line without a newline.
 */
export function prettyStream(service: string, out: (text: string) => void, options: PrettyOptions) {
  let pending = "";
  return {
    write(chunk: string) {
      pending += chunk;
      let newline = pending.indexOf("\n");
      while (newline >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.trim() !== "") out(`${prettyLine(service, line, options)}\n`);
        newline = pending.indexOf("\n");
      }
    },
    end() {
      if (pending.trim() !== "") out(`${prettyLine(service, pending, options)}\n`);
      pending = "";
    },
  };
}
