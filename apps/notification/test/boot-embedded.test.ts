// notificationService booted by bootService on the embedded profile (PGlite, the in-memory bus,
// cache and fan-out), as the one-process platform runs it: its migrations apply on PGlite, a
// donor's captured pledge on the bus is stored and pushed once, and the route lists it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { bootForTest, type TestBootFor, waitFor } from "@careforall/testkit";
import { notificationService } from "../src/main";
import { pledgeChange, pledgeCreated, user } from "./support";

let t: TestBootFor<"embedded", unknown>;

beforeAll(async () => {
  t = await bootForTest(notificationService, { label: "notification", profile: "embedded" });
}, 120_000); // PGlite's first start takes tens of seconds on a loaded machine

afterAll(() => t?.close());

test("on PGlite and the in-memory bus: a captured pledge is stored and pushed once, and listed", async () => {
  const donor = user("Nusrat");
  const created = pledgeCreated({ donorId: donor.id });
  const frames: Array<Record<string, unknown>> = [];
  const unsubscribe = t.replicas[0]!.subscribe(`user.${donor.id}`, (json) => frames.push(JSON.parse(json)));
  const captured = pledgeChange(created.data, "captured");
  for (const event of [created, captured]) await t.bus.publish(event);

  const listed = await waitFor(async () => {
    const res = await t.call("GET", "/notifications", { as: donor });
    const body = (await res.json()) as { items: Array<{ kind: string }> };
    return body.items.length > 0 ? body.items : null;
  });
  expect(listed.map((n) => n.kind)).toEqual(["pledge.captured"]);
  await waitFor(() => frames.length === 2, { what: "status and notification frames" });
  expect(frames.map((f) => f.type)).toEqual(["pledge.status", "notification"]);
  unsubscribe();
});
