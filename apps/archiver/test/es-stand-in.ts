// A small local stand-in for the parts of Elasticsearch the archiver's real client talks to: the
// product check (every 2xx carries `x-elastic-product: Elasticsearch`), `HEAD /` for /ready,
// `PUT /_index_template/<name>`, and `POST /_bulk` with ndjson parsed line by line into a store
// of documents by index and id (an `index` action overwrites). It can be told to fail whole
// requests, to lose answers (store, then answer 500), and to answer per-document statuses.
export interface StoredDocument {
  index: string;
  id: string;
  source: Record<string, unknown>;
  /** How many times an `index` action wrote it (a redelivery overwrites: one document, more writes). */
  writes: number;
}

export interface StandIn {
  url: string;
  /** Documents by id (the archive's ids are event ids, unique across its indices). */
  docs: Map<string, StoredDocument>;
  /** Index templates put, by name. */
  templates: Map<string, Record<string, unknown>>;
  /** Every request in order: `PUT /_index_template/x`, `POST /_bulk` … */
  requests: string[];
  /** Bulk actions for this id that the stand-in answered per document (not failed as a whole request). */
  attempts(id: string): number;
  /** When (performance.now()) each bulk request carrying this id arrived, failed ones included. */
  sightings(id: string): number[];
  /** The next whole bulk requests answer these statuses (an ES error body), in order. */
  failNext(statuses: number[]): void;
  /** Drops the failures failNext queued and not yet answered. */
  clearFailures(): void;
  /**
   * A bulk request carrying the first action for any of these ids is applied, then answered 500
   * as if the answer was lost on the way back.
   */
  loseFirstAnswerFor(ids: Iterable<string>): void;
  /** A per-document status for an action (undefined: accepted); `attempt` counts from 1. */
  itemStatus: (id: string, attempt: number) => number | undefined;
  /** What the client sent that Elasticsearch would not take (none expected). */
  violations: string[];
  /** Bulk requests that ever reached it (answered or failed). */
  bulkRequests(): number;
  stop(): void;
}

const PRODUCT = { "x-elastic-product": "Elasticsearch" };

function errorBody(status: number, type: string, reason: string) {
  return Response.json(
    { error: { type, reason, root_cause: [{ type, reason }] }, status },
    { status, headers: PRODUCT },
  );
}

const ERROR_TYPES: Record<number, string> = {
  400: "mapper_parsing_exception",
  429: "es_rejected_execution_exception",
  500: "internal_server_error",
  502: "bad_gateway",
  503: "unavailable_shards_exception",
  504: "gateway_timeout",
};

export function startStandIn(): StandIn {
  const docs = new Map<string, StoredDocument>();
  const templates = new Map<string, Record<string, unknown>>();
  const requests: string[] = [];
  const violations: string[] = [];
  const attempts = new Map<string, number>();
  const failures: number[] = [];
  const lose = new Set<string>();
  const sightings = new Map<string, number[]>();
  let bulks = 0;

  const bulk = async (req: Request, pathIndex: string | undefined): Promise<Response> => {
    bulks++;
    // The client sends ndjson in Elasticsearch's compatible media type.
    const type = req.headers.get("content-type") ?? "";
    if (!type.includes("x-ndjson")) violations.push(`bulk sent as ${type}`);
    const lines = (await req.text()).split("\n").filter((line) => line.trim() !== "");
    const at = performance.now();
    for (let i = 0; i < lines.length; i += 2) {
      const id = Object.values(JSON.parse(lines[i] as string) as Record<string, { _id?: string }>)[0]?._id ?? "";
      sightings.set(id, [...(sightings.get(id) ?? []), at]);
    }
    const failure = failures.shift();
    if (failure !== undefined) return errorBody(failure, ERROR_TYPES[failure] ?? "error", "stand-in told to fail");
    const items: Array<Record<string, unknown>> = [];
    let lost = false;
    for (let i = 0; i < lines.length; i += 2) {
      const action = JSON.parse(lines[i] as string) as Record<string, { _index?: string; _id?: string }>;
      const [op] = Object.keys(action);
      const meta = action[op as string] ?? {};
      const index = meta._index ?? pathIndex ?? "";
      const id = meta._id ?? "";
      if (op !== "index") violations.push(`bulk action ${op}: the archiver only indexes`);
      if (!id) violations.push("bulk action without an _id");
      const source = JSON.parse(lines[i + 1] as string) as Record<string, unknown>;
      const attempt = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, attempt);
      if (attempt === 1 && lose.has(id)) lost = true;
      const status = itemStatusOf(id, attempt);
      if (status !== undefined && status >= 300) {
        const type = ERROR_TYPES[status] ?? "error";
        items.push({ index: { _index: index, _id: id, status, error: { type, reason: `stand-in refused ${id}` } } });
        continue;
      }
      const existing = docs.get(id);
      docs.set(id, { index, id, source, writes: (existing?.writes ?? 0) + 1 });
      items.push({
        index: {
          _index: index,
          _id: id,
          _version: (existing?.writes ?? 0) + 1,
          result: existing ? "updated" : "created",
          status: existing ? 200 : 201,
        },
      });
    }
    if (lost) {
      return errorBody(500, "internal_server_error", "stand-in lost the answer");
    }
    return Response.json(
      { took: 1, errors: items.some((it) => (it.index as { status: number }).status >= 300), items },
      { headers: PRODUCT },
    );
  };

  let itemStatusOf: (id: string, attempt: number) => number | undefined = () => undefined;

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const { pathname } = new URL(req.url);
      requests.push(`${req.method} ${pathname}`);
      if (pathname === "/" && (req.method === "HEAD" || req.method === "GET"))
        return Response.json(
          {
            name: "stand-in",
            cluster_name: "careforall-test",
            version: { number: "8.19.0" },
            tagline: "You Know, for Search",
          },
          { headers: PRODUCT },
        );
      const template = /^\/_index_template\/([^/]+)$/.exec(pathname);
      if (template && req.method === "PUT") {
        templates.set(template[1] as string, (await req.json()) as Record<string, unknown>);
        return Response.json({ acknowledged: true }, { headers: PRODUCT });
      }
      const bulkPath = /^(?:\/([^/_][^/]*))?\/_bulk$/.exec(pathname);
      if (bulkPath && (req.method === "POST" || req.method === "PUT")) return bulk(req, bulkPath[1]);
      return errorBody(404, "resource_not_found_exception", `${req.method} ${pathname} is not part of the stand-in`);
    },
  });

  const standIn: StandIn = {
    url: `http://127.0.0.1:${server.port}`,
    docs,
    templates,
    requests,
    violations,
    attempts: (id) => attempts.get(id) ?? 0,
    sightings: (id) => sightings.get(id) ?? [],
    failNext: (statuses) => void failures.push(...statuses),
    clearFailures: () => {
      failures.length = 0;
    },
    loseFirstAnswerFor: (ids) => {
      for (const id of ids) lose.add(id);
    },
    get itemStatus() {
      return itemStatusOf;
    },
    set itemStatus(rule) {
      itemStatusOf = rule;
    },
    bulkRequests: () => bulks,
    stop: () => void server.stop(true),
  };
  return standIn;
}
