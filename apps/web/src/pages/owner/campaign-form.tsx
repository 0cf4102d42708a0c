// The campaign form both owner screens use (start, edit): title, story, goal in the chosen currency
// (its Intl text shown as it is typed), currency (chosen once, at the start) and an optional end day.
// Checked before sending; the server's problems are shown next to their fields, the rest above the button.
import { createSignal, type JSX, Show } from "solid-js";
import { fieldErrors, type ProblemDetails, toProblem } from "../../api/problem";
import { fieldMessages } from "../../components/field-messages";
import { ProblemBox } from "../../components/status";
import {
  type CampaignDraft,
  type CampaignLike,
  CURRENCIES,
  type Currency,
  DESCRIPTION_MAX,
  type FormErrors,
  goalMinor,
  localDay,
  TITLE_MAX,
  validateCampaign,
} from "../../lib/campaign-form";
import { formatMoney } from "../../lib/money";

const CURRENCY_NAMES: Record<Currency, string> = {
  BDT: "BDT — Bangladeshi taka",
  USD: "USD — US dollar",
  EUR: "EUR — euro",
};

export function CampaignForm(props: {
  initial: CampaignDraft;
  /** The campaign being edited (its currency is fixed); absent when starting one. */
  original?: CampaignLike;
  submitLabel: string;
  busyLabel: string;
  now?: () => Date;
  /** Sends the draft; resolves to nothing on success (the caller navigates), or throws the problem. */
  onSubmit: (draft: CampaignDraft) => Promise<void>;
  children?: JSX.Element;
}) {
  const now = () => props.now?.() ?? new Date();
  const [draft, setDraft] = createSignal<CampaignDraft>({ ...props.initial });
  const [local, setLocal] = createSignal<FormErrors>({});
  const [problem, setProblem] = createSignal<ProblemDetails | null>(null);
  const [sending, setSending] = createSignal(false);
  let form: HTMLFormElement | undefined;

  const errors = () => ({ ...fieldErrors(problem()), ...local() });
  /** The API field each input answers for: editing it clears that field's message. */
  const FIELD: Record<keyof CampaignDraft, string[]> = {
    title: ["title"],
    description: ["description"],
    goalText: ["goalMinor"],
    currency: ["currency", "goalMinor"],
    endsOn: ["endsAt"],
  };
  const set = <K extends keyof CampaignDraft>(key: K, value: CampaignDraft[K]) => {
    setDraft((d) => ({ ...d, [key]: value }));
    const fields = FIELD[key];
    if (fields.some((f) => local()[f]))
      setLocal((l) => Object.fromEntries(Object.entries(l).filter(([f]) => !fields.includes(f))));
    const p = problem();
    if (p?.errors?.some((e) => fields.includes(e.path.split("/").filter(Boolean).join(".")))) {
      setProblem({
        ...p,
        errors: p.errors.filter((e) => !fields.includes(e.path.split("/").filter(Boolean).join("."))),
      });
    }
  };
  const goal = () => goalMinor(draft());

  async function submit(e: Event) {
    e.preventDefault();
    if (sending()) return;
    const invalid = validateCampaign(draft(), now(), props.original);
    setLocal(invalid);
    setProblem(null);
    if (Object.keys(invalid).length > 0) {
      form?.querySelector<HTMLElement>("[aria-invalid='true']")?.focus();
      return;
    }
    setSending(true);
    try {
      await props.onSubmit(draft());
    } catch (err) {
      const p = err && typeof err === "object" && "title" in err ? (err as ProblemDetails) : toProblem(err);
      setProblem(p);
      queueMicrotask(() => form?.querySelector<HTMLElement>("[aria-invalid='true']")?.focus());
    } finally {
      setSending(false);
    }
  }

  const { invalid, FieldError } = fieldMessages(errors);

  return (
    <form class="panel campaign-form" onSubmit={submit} noValidate ref={form}>
      <label for="campaign-title">Title</label>
      <input
        id="campaign-title"
        maxLength={TITLE_MAX}
        autocomplete="off"
        value={draft().title}
        onInput={(e) => set("title", e.currentTarget.value)}
        aria-invalid={invalid("title")}
        aria-describedby="err-title"
      />
      <FieldError field="title" />

      <label for="campaign-description">Story</label>
      <textarea
        id="campaign-description"
        rows="6"
        maxLength={DESCRIPTION_MAX}
        value={draft().description}
        onInput={(e) => set("description", e.currentTarget.value)}
        aria-invalid={invalid("description")}
        aria-describedby="hint-description err-description"
      />
      <span class="hint" id="hint-description">
        What the money is for and who it helps. A blank line starts a new paragraph.
      </span>
      <FieldError field="description" />

      <div class="form-row">
        <div>
          <label for="campaign-goal">Goal ({draft().currency})</label>
          <input
            id="campaign-goal"
            inputmode="decimal"
            autocomplete="off"
            value={draft().goalText}
            onInput={(e) => set("goalText", e.currentTarget.value)}
            aria-invalid={invalid("goalMinor")}
            aria-describedby="goal-preview err-goalMinor"
          />
          <span class="hint" id="goal-preview" data-testid="goal-preview" aria-live="polite">
            {goal() !== null ? formatMoney(goal() ?? 0, draft().currency) : " "}
          </span>
          <FieldError field="goalMinor" />
        </div>
        <div>
          <Show
            when={!props.original}
            fallback={
              <>
                <span class="label">Currency</span>
                <p class="muted" data-testid="currency">
                  {CURRENCY_NAMES[draft().currency]} (fixed once a campaign starts)
                </p>
              </>
            }
          >
            <label for="campaign-currency">Currency</label>
            <select
              id="campaign-currency"
              value={draft().currency}
              onChange={(e) => set("currency", e.currentTarget.value as Currency)}
              aria-invalid={invalid("currency")}
              aria-describedby="hint-currency err-currency"
            >
              {CURRENCIES.map((c) => (
                <option value={c}>{CURRENCY_NAMES[c]}</option>
              ))}
            </select>
            <span class="hint" id="hint-currency">
              Every donation is made in it; it cannot change later.
            </span>
            <FieldError field="currency" />
          </Show>
        </div>
      </div>

      <label for="campaign-ends">Ends on (optional)</label>
      <input
        id="campaign-ends"
        type="date"
        min={localDay(new Date(now().getTime() + 86_400_000))}
        value={draft().endsOn}
        onInput={(e) => set("endsOn", e.currentTarget.value)}
        aria-invalid={invalid("endsAt")}
        aria-describedby="hint-ends err-endsAt"
      />
      <span class="hint" id="hint-ends">
        It stops taking donations at the end of that day. Leave it empty to keep it open until you close it.
      </span>
      <FieldError field="endsAt" />

      <ProblemBox problem={problem()} />
      <div class="form-actions">
        <button type="submit" class="primary" disabled={sending()} aria-busy={sending()}>
          {sending() ? props.busyLabel : props.submitLabel}
        </button>
        {props.children}
      </div>
    </form>
  );
}
