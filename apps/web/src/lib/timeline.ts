// A pledge's receipt timeline: the happy path (pending → authorized → captured) with what is done,
// current and still to come, or the steps it reached and where it stopped (failed, cancelled,
// expired; refunded follows captured).
const HAPPY = ["pending", "authorized", "captured"] as const;
type StepState = "done" | "current" | "todo" | "stopped";

/** The steps to draw: the happy path so far and to come, or where the pledge left it. */
export function timeline(p: {
  status: string;
  history: { status: string; at: string }[];
}): { status: string; at?: string; state: StepState }[] {
  const at = new Map(p.history.map((h) => [h.status, h.at]));
  const idx = HAPPY.indexOf(p.status as (typeof HAPPY)[number]);
  if (idx >= 0)
    return HAPPY.map((s, i) => ({
      status: s,
      at: at.get(s),
      state: i < idx || p.status === "captured" ? "done" : i === idx ? "current" : "todo",
    }));
  const reached = HAPPY.filter((s) => at.has(s)).map((s) => ({ status: s, at: at.get(s), state: "done" as const }));
  return [...reached, { status: p.status, at: at.get(p.status), state: p.status === "refunded" ? "done" : "stopped" }];
}
