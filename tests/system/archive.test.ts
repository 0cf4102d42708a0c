// The event archive on the real processes (issue 12): the platform plus the archiver process,
// which reads every domain event from the platform's JetStream stream and indexes it with the
// official Elasticsearch client into a local stand-in of the bulk API (no Elasticsearch runs here).
// Donations made through the gateway land in the archive under their event ids, each event of a
// pledge once, carrying the request id and the trace id of the request that caused it; an archiver
// SIGKILLed in the middle of a burst and started again loses none of the burst's events.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freePort } from "@careforall/http";
import { waitFor } from "@careforall/testkit";
import { type StandIn, startStandIn } from "../../apps/archiver/test/es-stand-in";
import { ROOT, waitReady } from "../../scripts/stack";
import {
  call,
  createCampaign,
  mapLimited,
  openDemoAccount,
  register,
  type Session,
  uniqueEmail,
  useSystem,
} from "./support";

let es: StandIn | undefined;
let owner: Session;
let archiver: ReturnType<typeof Bun.spawn> | undefined;
// Registered before the platform's own hooks, so the archiver stops before its stream is deleted.
afterAll(() => {
  archiver?.kill("SIGKILL");
  es?.stop();
});

const sys = useSystem({ label: "archive" });

/** Starts the archiver process against the platform's bus and the stand-in; resolves once /ready. */
async function startArchiver(): Promise<void> {
  const port = freePort();
  archiver = Bun.spawn(["bun", `${ROOT}/apps/archiver/src/main.ts`], {
    cwd: ROOT,
    env: {
      ...(process.env as Record<string, string>),
      NODE_ENV: "test",
      LOG_LEVEL: "warn",
      PORT: String(port),
      NATS_URL: sys.natsUrl,
      BUS_PREFIX: sys.busPrefix,
      SERVICE_PRIVATE_KEY: sys.keys.services.archiver.privateKeyPem,
      ELASTICSEARCH_URL: standIn().url,
      ARCHIVE_BATCH_WAIT_MS: "20",
      // The events a SIGKILLed archiver held come back after its ack wait, which these bound (~11 s).
      ELASTICSEARCH_TIMEOUT_MS: "2000",
      ELASTICSEARCH_MAX_RETRIES: "0",
      ARCHIVE_RETRY_BACKOFF_MS: "100,200,500",
    },
    stdout: "inherit",
    stderr: "inherit",
  });
  await waitReady(`http://127.0.0.1:${port}`, 30_000, archiver);
}

const standIn = (): StandIn => {
  if (!es) throw new Error("the stand-in is not started");
  return es;
};

beforeAll(async () => {
  es = startStandIn();
  owner = await register(sys.gw, "Archive Owner");
  await startArchiver();
}, 60_000);

interface Doc {
  id: string;
  type: string;
  aggregateId: string;
  requestId?: string;
  traceId?: string;
  data: Record<string, unknown>;
}

/** The archived documents of one pledge (its own events and the payment's, which name it). */
function pledgeDocs(pledgeId: string): Doc[] {
  return [...standIn().docs.values()]
    .map((d) => d.source as unknown as Doc)
    .filter((d) => d.aggregateId === pledgeId || d.data?.pledgeId === pledgeId);
}

const campaign = () => createCampaign(sys.gw, owner, "Archived donations", { description: "Archive test" });

/** A guest donation with its own request id; retried while pledge does not know the campaign yet. */
async function donate(campaignId: string, requestId: string): Promise<string> {
  const account = await openDemoAccount(sys.gw);
  const key = crypto.randomUUID();
  return waitFor(
    async () => {
      const reply = await call<{ id: string }>(
        sys.gw,
        "POST",
        `/api/campaigns/${campaignId}/pledges`,
        {
          amountMinor: 1_000,
          currency: "BDT",
          donor: { email: uniqueEmail("archive"), name: "আর্কাইভ দাতা" },
          source: account,
        },
        { headers: { "idempotency-key": key, "x-request-id": requestId } },
      );
      if (reply.status === 202) return reply.body.id;
      if (reply.status === 404) return undefined;
      throw new Error(`pledge refused: ${reply.status} ${reply.text}`);
    },
    { what: "the pledge accepted", intervalMs: 100, timeoutMs: 20_000 },
  );
}

const captured = (pledgeId: string) => pledgeDocs(pledgeId).some((d) => d.type === "pledge.captured");
/** Both ends of the pledge's life are archived. */
const archived = (pledgeId: string) =>
  captured(pledgeId) && pledgeDocs(pledgeId).some((d) => d.type === "pledge.created");

describe("the event archive on the real platform", () => {
  test("a donation's events are archived under their ids, once each, with its request id and one trace id", async () => {
    await sys.guard(async () => {
      const id = await campaign();
      const requestId = `archive-me-${Date.now()}`;
      const pledgeId = await donate(id, requestId);
      await waitFor(() => captured(pledgeId) || undefined, {
        what: "pledge.captured in the archive",
        intervalMs: 100,
        timeoutMs: 60_000,
      });
      const docs = pledgeDocs(pledgeId);
      const types = docs.map((d) => d.type);
      expect(types).toEqual(expect.arrayContaining(["pledge.created", "pledge.captured"]));
      // The document id is the event id, and an event is one document.
      for (const d of docs) expect(standIn().docs.get(d.id)?.id).toBe(d.id);
      expect(new Set(docs.map((d) => d.id)).size).toBe(docs.length);
      // The pledge's own events are the request's: they carry its id and its trace.
      const own = docs.filter((d) => d.aggregateId === pledgeId);
      expect(own.map((d) => d.requestId)).toEqual(own.map(() => requestId));
      expect(new Set(own.map((d) => d.traceId)).size).toBe(1);
      expect(own[0]?.traceId).toMatch(/^[0-9a-f]{32}$/);
      // The campaign's events reach the archive too.
      await waitFor(
        () =>
          [...standIn().docs.values()].some(
            (d) => (d.source as unknown as Doc).type === "campaign.created" && d.source.aggregateId === id,
          ) || undefined,
        { what: "campaign.created in the archive", intervalMs: 100, timeoutMs: 30_000 },
      );
    });
  }, 120_000);

  test("the archiver SIGKILLed in the middle of a burst and started again: every pledge's events are archived", async () => {
    await sys.guard(async () => {
      const id = await campaign();
      const pledges = await mapLimited(
        Array.from({ length: 16 }, (_, i) => i),
        4,
        async (i) => {
          const pledgeId = await donate(id, `archive-burst-${i}-${Date.now()}`);
          if (i === 5) archiver?.kill("SIGKILL");
          return pledgeId;
        },
      );
      await archiver?.exited;
      expect(archiver?.signalCode).toBe("SIGKILL");
      await startArchiver();
      // What the killed process held comes back after its ack wait; the rest flows at once.
      await waitFor(() => pledges.every(archived) || undefined, {
        what: `pledge.created and pledge.captured of all ${pledges.length} pledges in the archive (have ${pledges.filter(archived).length})`,
        intervalMs: 200,
        timeoutMs: 90_000,
      });
      for (const p of pledges) {
        const docs = pledgeDocs(p);
        expect(docs.filter((d) => d.type === "pledge.created")).toHaveLength(1);
        expect(docs.filter((d) => d.type === "pledge.captured")).toHaveLength(1);
      }
      expect(standIn().violations).toEqual([]);
    });
  }, 180_000);
});
