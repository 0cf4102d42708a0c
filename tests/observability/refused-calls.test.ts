// careforall_internal_calls_refused_total (the InternalCallsRefused alert) on a real httpKit app
// with a service identity: a call with no credential is counted as `credential`, a proven service
// the route does not accept as `caller`, and an accepted call is not counted at all.
import { expect, test } from "bun:test";
import {
  createHttpMetrics,
  createServiceIdentity,
  generateServiceKeySet,
  httpKit,
  SERVICE_TOKEN_HEADER,
  serviceCallers,
} from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { Elysia } from "elysia";

test("refused internal calls are counted by reason, accepted ones are not", async () => {
  const keys = await generateServiceKeySet();
  const trusted = { gateway: keys.gateway.publicKeyPem, payment: keys.payment.publicKeyPem };
  const bank = await createServiceIdentity({ self: "bank", privateKeyPem: keys.bank.privateKeyPem, trusted });
  const gateway = await createServiceIdentity({ self: "gateway", privateKeyPem: keys.gateway.privateKeyPem, trusted });
  const payment = await createServiceIdentity({ self: "payment", privateKeyPem: keys.payment.privateKeyPem, trusted });
  const metrics = createHttpMetrics("bank");
  const app = new Elysia()
    .use(httpKit({ service: "bank", log: silentLogger("bank"), metrics, trust: bank }))
    .use(serviceCallers)
    .get("/operator", () => ({ ok: true }), { callers: ["gateway"] });
  const send = async (token?: string) =>
    (
      await app.handle(
        new Request("http://bank.internal/operator", { headers: token ? { [SERVICE_TOKEN_HEADER]: token } : {} }),
      )
    ).status;
  const refused = async (reason: string) => {
    const page = await metrics.registry.getSingleMetricAsString("careforall_internal_calls_refused_total");
    return Number(new RegExp(`reason="${reason}"[^}]*\\} (\\S+)`).exec(page)?.[1] ?? Number.NaN);
  };

  expect([await refused("credential"), await refused("caller")]).toEqual([0, 0]);
  expect(await send()).toBe(401);
  expect(await send("not-a-jwt")).toBe(401);
  expect(await send(await payment.tokenFor("bank"))).toBe(403);
  expect(await send(await gateway.tokenFor("bank"))).toBe(200);
  // A gateway token addressed to another service proves nothing here.
  expect(await send(await gateway.tokenFor("pledge"))).toBe(401);
  expect([await refused("credential"), await refused("caller")]).toEqual([3, 1]);
});
