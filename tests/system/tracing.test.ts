// One donation followed by its trace (issue 12, Traces), on the real processes: every service
// exports its spans over OTLP/HTTP (JSON) to a small receiver inside this test. A guest's donation,
// sent with its own X-Request-Id while a socket follows the campaign, must come back as one
// connected trace (parent links, or span links where a batched consumer took several donations)
// reaching the gateway, pledge, payment, the bank and campaign — the bank call a CLIENT span, the
// bus hops PRODUCER/CONSUMER spans, the totals pushed to the socket a `ws.push` span — with the
// request id on every span of the donation's own trace, and the resource attributes set.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TestSocket, waitFor } from "@careforall/testkit";
import { call, createCampaign, openDemoAccount, register, type Session, uniqueEmail, useSystem } from "./support";

interface Span {
  service: string;
  resource: Record<string, unknown>;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  links: Array<{ traceId: string; spanId: string }>;
}

// ── the OTLP receiver ─────────────────────────────────────────────────────────────────────────

type KeyValue = { key: string; value: Record<string, unknown> };

/** An OTLP JSON AnyValue as a plain value. */
function anyValue(v: Record<string, unknown> | undefined): unknown {
  if (!v) return undefined;
  if ("stringValue" in v) return v.stringValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  if ("boolValue" in v) return v.boolValue;
  if ("arrayValue" in v)
    return ((v.arrayValue as { values?: Record<string, unknown>[] }).values ?? []).map((x) => anyValue(x));
  return undefined;
}

const attrs = (list: KeyValue[] | undefined): Record<string, unknown> =>
  Object.fromEntries((list ?? []).map((a) => [a.key, anyValue(a.value)]));

/** Ids arrive as hex (the JS exporter's JSON) or base64 (the protobuf JSON mapping): hex either way. */
function hexId(id: unknown): string {
  if (typeof id !== "string" || id === "") return "";
  return /^[0-9a-f]+$/i.test(id) && (id.length === 32 || id.length === 16)
    ? id.toLowerCase()
    : Buffer.from(id, "base64").toString("hex");
}

const spans: Span[] = [];
let exports = 0;
const receiver = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    if (new URL(req.url).pathname !== "/v1/traces") return new Response("not found", { status: 404 });
    const body = (await req.json()) as {
      resourceSpans?: Array<{
        resource?: { attributes?: KeyValue[] };
        scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }>;
      }>;
    };
    exports++;
    for (const rs of body.resourceSpans ?? []) {
      const resource = attrs(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? [])
        for (const s of ss.spans ?? [])
          spans.push({
            service: String(resource["service.name"]),
            resource,
            traceId: hexId(s.traceId),
            spanId: hexId(s.spanId),
            parentSpanId: hexId(s.parentSpanId),
            name: String(s.name),
            kind: Number(s.kind),
            attributes: attrs(s.attributes as KeyValue[]),
            links: ((s.links as Array<Record<string, unknown>>) ?? []).map((l) => ({
              traceId: hexId(l.traceId),
              spanId: hexId(l.spanId),
            })),
          });
    }
    return Response.json({});
  },
});

const sys = useSystem({
  label: "tracing",
  env: {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
    // Finished spans leave every 100 ms instead of every 5 s.
    OTEL_BSP_SCHEDULE_DELAY: "100",
    DEPLOYMENT_ENVIRONMENT: "tracing-test",
    AUDIT_INTERVAL_SECONDS: "0",
  },
});

let owner: Session;
let socket: TestSocket | undefined;

beforeAll(async () => {
  owner = await register(sys.gw, "Tracing Owner");
}, 60_000);

afterAll(() => {
  socket?.close();
  receiver.stop(true);
});

/**
 * The traces reachable from `traceId` through span links (either way): the donation's own trace
 * plus every batch trace that linked it, and whatever those caused.
 */
function connectedTraces(traceId: string): Set<string> {
  const linked = new Map<string, Set<string>>();
  const join = (a: string, b: string) => {
    if (!linked.has(a)) linked.set(a, new Set());
    if (!linked.has(b)) linked.set(b, new Set());
    linked.get(a)?.add(b);
    linked.get(b)?.add(a);
  };
  for (const s of spans) for (const l of s.links) if (l.traceId && l.traceId !== s.traceId) join(s.traceId, l.traceId);
  const seen = new Set([traceId]);
  const queue = [traceId];
  while (queue.length > 0) {
    const next = queue.pop() as string;
    for (const other of linked.get(next) ?? []) {
      if (!seen.has(other)) {
        seen.add(other);
        queue.push(other);
      }
    }
  }
  return seen;
}

describe("tracing", () => {
  test("a donation is one connected trace across gateway, pledge, payment, bank and campaign, the request id on every span", async () => {
    await sys.guard(async () => {
      const campaign = {
        id: await createCampaign(sys.gw, owner, "Followed by its trace", {
          description: "Tracing test",
          goalMinor: 1_000_000,
        }),
      };
      // A socket follows the campaign: the donation's totals are pushed to it.
      socket = await TestSocket.open(`${sys.gw}/api/ws`);
      await waitFor(
        async () => {
          const before = socket?.frames.length ?? 0;
          socket?.send({ op: "follow", campaignId: campaign.id });
          await socket?.barrier();
          return socket?.frames.slice(before).some((f) => f.type === "campaign.totals") ? true : undefined;
        },
        { what: "the campaign followed", intervalMs: 100, timeoutMs: 15_000 },
      );
      const account = await openDemoAccount(sys.gw);
      const requestId = `trace-me-${Date.now()}`;
      const key = crypto.randomUUID();
      const pledge = await waitFor(
        async () => {
          const reply = await call<{ id: string }>(
            sys.gw,
            "POST",
            `/api/campaigns/${campaign.id}/pledges`,
            {
              amountMinor: 2_500,
              currency: "BDT",
              donor: { email: uniqueEmail("trace"), name: "Traced Guest" },
              source: account,
            },
            { headers: { "idempotency-key": key, "x-request-id": requestId } },
          );
          if (reply.status === 202) return reply.body;
          if (reply.status === 404) return undefined; // pledge does not know the campaign yet
          throw new Error(`pledge refused: ${reply.status} ${reply.text}`);
        },
        { what: "the pledge accepted", intervalMs: 100, timeoutMs: 15_000 },
      );
      // The donation's totals reach the socket: the whole pipeline ran.
      await waitFor(
        () => socket?.frames.some((f) => f.type === "campaign.totals" && f.raisedMinor === 2_500) || undefined,
        { what: "the totals pushed to the socket", intervalMs: 100, timeoutMs: 30_000 },
      );

      // The gateway's SERVER span of the donation names its trace.
      const root = await waitFor(
        () =>
          spans.find(
            (s) =>
              s.service === "gateway" &&
              s.attributes["request.id"] === requestId &&
              s.attributes["http.route"] === "/api/campaigns/:id/pledges",
          ),
        { what: "the gateway's span of the donation", intervalMs: 200, timeoutMs: 30_000 },
      );
      const wanted = ["gateway", "pledge", "payment", "bank", "campaign"];
      const reached = () => {
        const traces = connectedTraces(root.traceId);
        return new Set(spans.filter((s) => traces.has(s.traceId)).map((s) => s.service));
      };
      /**
       * Within each trace, the spans whose parent is not (yet) there. Connected by parents means one
       * root per trace: the gateway's span in the donation's trace (its caller sent no traceparent),
       * the batch span in a batch's. A parent still running or being exported shows as another root.
       */
      const orphans = () => {
        const traces = connectedTraces(root.traceId);
        const found: string[] = [];
        for (const id of traces) {
          const own = spans.filter((s) => s.traceId === id);
          const ids = new Set(own.map((s) => s.spanId));
          const roots = own.filter((s) => !s.parentSpanId || !ids.has(s.parentSpanId));
          if (roots.length > 1) found.push(...roots.map((s) => `${s.service}:${s.name}`));
        }
        return found;
      };
      // Spans are exported every 100 ms by each process; the pipeline's last ones come later.
      await waitFor(
        () =>
          wanted.every((service) => reached().has(service)) &&
          spans.some((s) => s.name.startsWith("ws.push") && connectedTraces(root.traceId).has(s.traceId)) &&
          spans.some(
            (s) => s.attributes["http.route"] === "/api/webhooks/bank" && connectedTraces(root.traceId).has(s.traceId),
          ) &&
          orphans().length === 0
            ? true
            : undefined,
        {
          what: `spans of ${wanted.join(", ")} and the push in the donation's trace, every span's parent there (have ${[
            ...reached(),
          ].join(", ")}; without their parent: ${orphans().join(", ")})`,
          intervalMs: 250,
          timeoutMs: 45_000,
        },
      );
      const traces = connectedTraces(root.traceId);
      const trace = spans.filter((s) => traces.has(s.traceId));

      // Every hop is there: the pledge's accept, the relay's publish, payment's consumer and its
      // bank call (a CLIENT span answered by the bank's SERVER span), campaign's consumer, the push.
      const names = (service: string) => trace.filter((s) => s.service === service).map((s) => s.name);
      expect(names("pledge")).toContain("POST /campaigns/:id/pledges");
      expect(names("pledge")).toContain("pledge.created publish");
      expect(names("payment").some((n) => n.startsWith("pledge.created process"))).toBe(true);
      expect(names("payment").some((n) => n.startsWith("bank."))).toBe(true);
      const bankClient = trace.find(
        (s) => s.service === "payment" && s.kind === 3 && s.attributes["peer.service"] === "bank",
      );
      expect(bankClient).toBeDefined();
      const bankServer = trace.find((s) => s.service === "bank" && s.parentSpanId === bankClient?.spanId);
      expect(bankServer?.kind).toBe(2);
      expect(names("campaign").some((n) => n.startsWith("pledge.captured process"))).toBe(true);
      // The bank's webhook continues the trace of the call that queued it: the bank's CLIENT span
      // of the POST, answered by the gateway's SERVER span of /api/webhooks/bank.
      const webhookServer = trace.find(
        (s) => s.service === "gateway" && s.attributes["http.route"] === "/api/webhooks/bank",
      );
      const webhookClient = trace.find((s) => s.spanId === webhookServer?.parentSpanId);
      expect(webhookClient).toMatchObject({ service: "bank", kind: 3 });
      expect(trace.some((s) => s.name === "db.transaction" || s.name === "db.group_commit")).toBe(true);

      // The request id on every span of the donation's own trace.
      const own = spans.filter((s) => s.traceId === root.traceId);
      const without = own.filter((s) => s.attributes["request.id"] !== requestId).map((s) => `${s.service}:${s.name}`);
      expect(without).toEqual([]);
      expect(own.length).toBeGreaterThan(10);

      // Resource attributes on every span.
      for (const s of trace) {
        expect(s.resource["service.version"]).toMatch(/^\d+\.\d+\.\d+/);
        expect(s.resource["deployment.environment"]).toBe("tracing-test");
      }
      expect(pledge.id).toBeDefined();
      expect(exports).toBeGreaterThan(0);

      // The cached read (a Bun native route outside httpKit) is a SERVER span too while spans are recorded.
      const readId = `trace-read-${Date.now()}`;
      const read = await call(sys.gw, "GET", `/api/campaigns/${campaign.id}`, undefined, {
        headers: { "x-request-id": readId },
      });
      expect(read.status).toBe(200);
      const readSpan = await waitFor(() => spans.find((s) => s.attributes["request.id"] === readId), {
        what: "the cached read's span",
        intervalMs: 200,
        timeoutMs: 20_000,
      });
      expect(readSpan).toMatchObject({ service: "gateway", name: "GET /api/campaigns/:id", kind: 2 });
      expect(readSpan.attributes["http.response.status_code"]).toBe(200);
    });
  }, 150_000);
});
