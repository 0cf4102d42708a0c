// The bank's fault knobs (GET/PUT /api/admin/bank/faults): rates 0..1, latency 0..60000 ms, reorder on
// or off. Checked here before sending; the server's problems are shown next to their fields.
import { createResource, createSignal, For, Show } from "solid-js";
import { fieldErrors, type ProblemDetails, toProblem } from "../../api/problem";
import { Loading, ProblemBox } from "../../components/status";
import { useServices } from "../../context";

export interface Faults {
  errorRate: number;
  lostResponseRate: number;
  latencyMs: number;
  webhookDuplicateRate: number;
  webhookReorder: boolean;
  webhookDropRate: number;
}
type NumberKnob = Exclude<keyof Faults, "webhookReorder">;

const KNOBS: { key: NumberKnob; label: string; hint: string }[] = [
  { key: "errorRate", label: "Error rate", hint: "0 to 1" },
  { key: "lostResponseRate", label: "Lost response rate", hint: "0 to 1" },
  { key: "latencyMs", label: "Latency (ms)", hint: "0 to 60000" },
  { key: "webhookDuplicateRate", label: "Webhook duplicate rate", hint: "0 to 1" },
  { key: "webhookDropRate", label: "Webhook drop rate", hint: "0 to 1" },
];

/** The form's text → the PUT body, or the message per field. Pure, so it is easy to trust. */
export function validateFaults(
  text: Record<NumberKnob, string>,
  webhookReorder: boolean,
): { body: Faults } | { errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const body = { webhookReorder } as Faults;
  for (const { key } of KNOBS) {
    const raw = text[key].trim();
    const n = Number(raw);
    if (raw === "" || !Number.isFinite(n)) errors[key] = "Enter a number";
    else if (key === "latencyMs" && (!Number.isInteger(n) || n < 0 || n > 60_000))
      errors[key] = "A whole number of milliseconds from 0 to 60000";
    else if (key !== "latencyMs" && (n < 0 || n > 1)) errors[key] = "A rate from 0 to 1";
    else body[key] = n;
  }
  return Object.keys(errors).length > 0 ? { errors } : { body };
}

export function FaultsPanel() {
  const { api } = useServices();
  const [faults, { refetch, mutate }] = createResource(async () => {
    const res = await api.client.admin.bank.faults.get();
    if (!res.data) throw toProblem(res.error);
    return res.data as Faults;
  });
  const [edits, setEdits] = createSignal<Partial<Record<NumberKnob, string>>>({});
  const [reorder, setReorder] = createSignal<boolean | null>(null);
  const [errors, setErrors] = createSignal<Record<string, string>>({});
  const [problem, setProblem] = createSignal<ProblemDetails | null>(null);
  const [saved, setSaved] = createSignal(false);
  const [busy, setBusy] = createSignal(false);

  const value = (f: Faults, key: NumberKnob) => edits()[key] ?? String(f[key]);

  async function save(e: Event, f: Faults) {
    e.preventDefault();
    setSaved(false);
    setProblem(null);
    const text = Object.fromEntries(KNOBS.map(({ key }) => [key, value(f, key)])) as Record<NumberKnob, string>;
    const checked = validateFaults(text, reorder() ?? f.webhookReorder);
    if ("errors" in checked) {
      setErrors(checked.errors);
      document.getElementById(`fault-${Object.keys(checked.errors)[0]}`)?.focus();
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      const res = await api.client.admin.bank.faults.put(checked.body);
      if (res.data) {
        mutate(res.data as Faults);
        setEdits({});
        setReorder(null);
        setSaved(true);
      } else {
        const p = toProblem(res.error);
        setProblem(p);
        setErrors(fieldErrors(p));
      }
    } catch (err) {
      setProblem(toProblem(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="admin-card" aria-labelledby="faults-h">
      <h2 id="faults-h">Bank fault knobs</h2>
      <Show when={faults.error}>
        <ProblemBox problem={faults.error} retry={refetch} />
      </Show>
      <Show
        when={faults.latest}
        fallback={
          <Show when={!faults.error}>
            <Loading label="Reading the knobs…" />
          </Show>
        }
      >
        {(f) => (
          <form class="admin-faults" onSubmit={(e) => void save(e, f())} noValidate>
            <For each={KNOBS}>
              {(k) => (
                <div class="admin-field">
                  <label for={`fault-${k.key}`}>
                    {k.label} <span class="muted">({k.hint})</span>
                  </label>
                  <input
                    id={`fault-${k.key}`}
                    inputmode="decimal"
                    value={value(f(), k.key)}
                    onInput={(e) => {
                      const v = e.currentTarget.value;
                      setEdits((x) => ({ ...x, [k.key]: v }));
                      setSaved(false);
                    }}
                    aria-invalid={errors()[k.key] ? "true" : undefined}
                    aria-describedby={`err-fault-${k.key}`}
                  />
                  <Show when={errors()[k.key]}>
                    <span class="field-error" id={`err-fault-${k.key}`}>
                      {errors()[k.key]}
                    </span>
                  </Show>
                </div>
              )}
            </For>
            <label class="choice">
              <input
                type="checkbox"
                checked={reorder() ?? f().webhookReorder}
                onChange={(e) => {
                  setReorder(e.currentTarget.checked);
                  setSaved(false);
                }}
              />{" "}
              Reorder webhooks
            </label>
            <ProblemBox problem={problem()} />
            <div class="admin-head">
              <button type="submit" class="primary" disabled={busy()}>
                {busy() ? "Saving…" : "Save knobs"}
              </button>
              <Show when={saved()}>
                <output data-testid="faults-saved">Saved: the bank now uses these values.</output>
              </Show>
            </div>
          </form>
        )}
      </Show>
    </section>
  );
}
