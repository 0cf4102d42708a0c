import { expect, test } from "bun:test";
import { createMemoryBus, exportBusMetrics } from "@careforall/bus";
import { createHttpMetrics } from "@careforall/http";
import { silentLogger } from "@careforall/log";
import { waitFor } from "@careforall/testkit";

test("bus counters appear on /metrics and only ever grow by what happened", async () => {
  const bus = createMemoryBus({ log: silentLogger() });
  const metrics = createHttpMetrics("bus-metrics-test");
  exportBusMetrics(metrics, bus);
  let handled = 0;
  const sub = await bus.subscribe({ durable: "m", types: ["thing.done"], handler: async () => void handled++ });
  const event = {
    id: Bun.randomUUIDv7(),
    type: "thing.done",
    occurredAt: new Date().toISOString(),
    aggregateId: "a",
    data: {},
  };
  await bus.publish(event);
  await bus.publish(event);
  await waitFor(() => handled === 1, { what: "handled once" });
  const text = async () => metrics.registry.metrics();
  const first = await text();
  expect(first).toContain('careforall_bus_events_published_total{service="bus-metrics-test"} 1');
  expect(first).toContain('careforall_bus_events_duplicate_total{service="bus-metrics-test"} 1');
  expect(first).toContain('careforall_bus_events_handled_total{service="bus-metrics-test"} 1');
  expect(first).toContain('careforall_bus_events_terminated_total{service="bus-metrics-test"} 0');
  // A second scrape adds nothing that did not happen.
  expect(await text()).toContain('careforall_bus_events_published_total{service="bus-metrics-test"} 1');
  await sub.stop();
  await bus.close();
});
