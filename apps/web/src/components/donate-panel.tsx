// The donate panel: presets and a custom amount in the campaign's currency, anonymous, a message, and
// where the money comes from (a signed-in donor's own account, a guest's one-click demo account, or
// any account and its secret). One Idempotency-Key per attempt: the same form sent again (a double
// click, a retry after a timeout or a 503) carries the same key, so the server replays instead of
// charging twice; changing the form starts a new attempt. Money never changes currency: a signed-in
// donor whose own account holds another currency than the campaign's is told so before sending and
// offered a demo account in the campaign's currency instead.
import { useNavigate } from "@solidjs/router";
import { createEffect, createSignal, For, on, Show } from "solid-js";
import { fieldErrors, type ProblemDetails, toProblem } from "../api/problem";
import { useServices } from "../context";
import { formatMoney, minorDigits, parseAmount, toDecimalString } from "../lib/money";
import type { DemoAccount } from "../lib/receipts";
import { fieldMessages } from "./field-messages";
import { ProblemBox } from "./status";

export interface DonateCampaign {
  id: string;
  title: string;
  currency: string;
  status: "active" | "closed";
}

const MIN_MINOR = 100;
const MAX_MINOR = 100_000_000;

/** Preset amounts in major units per currency (BDT amounts are larger: a taka is worth less). */
export function presetsFor(currency: string): number[] {
  const major = currency === "BDT" ? [500, 1_000, 2_500, 5_000] : [10, 25, 50, 100];
  return major.map((m) => m * 10 ** minorDigits(currency));
}

type Source = "own" | "demo" | "other";

/** A refusal said in the donor's words (the server's own title for these is a bare "Conflict"). */
export function donationProblem(p: ProblemDetails): ProblemDetails {
  const type = p.type ?? "";
  if (type.endsWith("campaign-closed"))
    return { ...p, title: "This campaign is closed and no longer takes donations.", detail: "Nothing was charged." };
  if (type.endsWith("campaign-ended"))
    return { ...p, title: "This campaign has ended and no longer takes donations.", detail: "Nothing was charged." };
  if (type.endsWith("currency-mismatch"))
    return { ...p, title: "That account cannot pay in this campaign's currency.", detail: p.detail ?? "" };
  return p;
}

export function DonatePanel(props: { campaign: DonateCampaign; onRefused?: () => void }) {
  const { api, receipts, newKey } = useServices();
  const navigate = useNavigate();
  const user = api.session.user;
  const currency = () => props.campaign.currency;
  const presets = () => presetsFor(currency());

  const [amountText, setAmountText] = createSignal(toDecimalString(presets()[1] ?? 1000, currency()));
  const [anonymous, setAnonymous] = createSignal(false);
  const [message, setMessage] = createSignal("");
  const [name, setName] = createSignal("");
  const [email, setEmail] = createSignal("");
  const [source, setSource] = createSignal<Source>(user() ? "own" : "demo");
  const [demo, setDemo] = createSignal<DemoAccount | undefined>(receipts.demoAccount(currency()));
  const [otherId, setOtherId] = createSignal("");
  const [otherSecret, setOtherSecret] = createSignal("");
  const [sending, setSending] = createSignal(false);
  const [opening, setOpening] = createSignal(false);
  const [problem, setProblem] = createSignal<ProblemDetails | null>(null);
  const [local, setLocal] = createSignal<Record<string, string>>({});

  // The attempt in progress: its body's fingerprint and its key.
  let attempt: { fingerprint: string; key: string } | null = null;
  // Set synchronously, before any await: a second click in the same tick sends nothing.
  let inFlight = false;

  const amountMinor = () => parseAmount(amountText(), currency());
  const errors = () => ({ ...fieldErrors(problem()), ...local() });
  // The signed-in donor's own account's currency (GET /api/me/bank), to warn before a donation the
  // server would refuse (422): money is never converted.
  const [ownCurrency, setOwnCurrency] = createSignal<string | null>(null);
  createEffect(
    on(
      () => user()?.id,
      (id) => {
        setOwnCurrency(null);
        if (!id) return;
        api.client.me.bank
          .get()
          .then((res) => {
            if (res.data && user()?.id === id) setOwnCurrency(res.data.currency);
          })
          .catch(() => undefined);
      },
    ),
  );
  const ownMismatch = () => !!user() && ownCurrency() !== null && ownCurrency() !== currency();
  const effectiveSource = (): Source => (source() === "own" && (!user() || ownMismatch()) ? "demo" : source());

  async function openDemoAccount() {
    if (opening()) return;
    setOpening(true);
    setProblem(null);
    const res = await api.client.bank["demo-accounts"].post({ currency: currency() as "BDT" }).catch((e) => ({
      data: null,
      error: e,
    }));
    setOpening(false);
    if (!res.data) return setProblem(toProblem(res.error));
    const account = {
      bankAccountId: res.data.bankAccountId,
      accountSecret: res.data.accountSecret,
      currency: res.data.currency,
    };
    receipts.rememberDemoAccount(account);
    setDemo(account);
  }

  function validate(): Record<string, string> {
    const out: Record<string, string> = {};
    const amount = amountMinor();
    if (amount === null)
      out.amountMinor = `Enter an amount in ${currency()}, like ${toDecimalString(presets()[0] ?? 100, currency())}`;
    else if (amount < MIN_MINOR) out.amountMinor = `The smallest donation is ${formatMoney(MIN_MINOR, currency())}`;
    else if (amount > MAX_MINOR) out.amountMinor = `The largest donation is ${formatMoney(MAX_MINOR, currency())}`;
    if (message().length > 280) out.message = "Keep the message to 280 characters";
    if (!user()) {
      if (!name().trim()) out["donor.name"] = "Your name, for the receipt";
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email().trim()))
        out["donor.email"] = "An email address, like you@example.com";
    }
    const src = effectiveSource();
    if (src === "demo" && !demo()) out.source = "Open a demo bank account first (one click)";
    if (src === "other") {
      if (!otherId().trim()) out["source.bankAccountId"] = "The account to pay from";
      if (!otherSecret()) out["source.accountSecret"] = "The account's secret";
    }
    return out;
  }

  function body() {
    const src = effectiveSource();
    const account =
      src === "demo"
        ? { bankAccountId: demo()?.bankAccountId ?? "", accountSecret: demo()?.accountSecret ?? "" }
        : src === "other"
          ? { bankAccountId: otherId().trim(), accountSecret: otherSecret() }
          : undefined;
    return {
      amountMinor: amountMinor() ?? 0,
      currency: currency() as "BDT",
      anonymous: anonymous(),
      ...(message().trim() ? { message: message().trim() } : {}),
      ...(account ? { source: account } : {}),
      ...(user() ? {} : { donor: { email: email().trim(), name: name().trim() } }),
    };
  }

  /** The key of this attempt: the same form → the same key; another form → a new attempt. */
  function keyFor(payload: object): string {
    const fingerprint = JSON.stringify([user()?.id ?? null, props.campaign.id, payload]);
    if (!attempt || attempt.fingerprint !== fingerprint) attempt = { fingerprint, key: newKey() };
    return attempt.key;
  }

  async function donate(event: Event) {
    event.preventDefault();
    if (inFlight) return;
    const invalid = validate();
    setLocal(invalid);
    setProblem(null);
    if (Object.keys(invalid).length > 0) {
      const first = document.querySelector<HTMLElement>("[aria-invalid='true']");
      first?.focus();
      return;
    }
    inFlight = true;
    setSending(true);
    const payload = body();
    const key = keyFor(payload);
    try {
      const res = await api.client.campaigns({ id: props.campaign.id }).pledges.post(payload, {
        headers: { "idempotency-key": key },
      });
      if (res.data) {
        receipts.remember({
          pledgeId: res.data.id,
          campaignId: props.campaign.id,
          campaignTitle: props.campaign.title,
          amountMinor: res.data.amountMinor,
          currency: res.data.currency,
          ...(res.data.receiptToken ? { receiptToken: res.data.receiptToken } : {}),
          at: res.data.createdAt,
        });
        attempt = null;
        navigate(`/pledges/${res.data.id}`);
        return;
      }
      const refused = donationProblem(toProblem(res.error));
      setProblem(refused);
      if (/campaign-(closed|ended)$/.test(refused.type ?? "")) props.onRefused?.();
    } catch (err) {
      setProblem(toProblem(err));
    } finally {
      inFlight = false;
      setSending(false);
    }
  }

  const { invalid, FieldError } = fieldMessages(errors);

  return (
    <form class="panel donate" onSubmit={donate} noValidate aria-labelledby="donate-title">
      <h2 id="donate-title">Donate</h2>
      <Show
        when={props.campaign.status === "active"}
        fallback={
          // A donation refused because the campaign closed meanwhile keeps its message (the page re-reads).
          <Show when={problem()} fallback={<p class="muted">This campaign is closed and no longer takes donations.</p>}>
            <ProblemBox problem={problem()} />
          </Show>
        }
      >
        <fieldset>
          <legend>Amount ({currency()})</legend>
          <div class="presets">
            <For each={presets()}>
              {(minor) => (
                <button
                  type="button"
                  class="preset"
                  aria-pressed={amountMinor() === minor}
                  onClick={() => setAmountText(toDecimalString(minor, currency()))}
                >
                  {formatMoney(minor, currency(), { compact: true })}
                </button>
              )}
            </For>
          </div>
          <label for="amount">Amount</label>
          <input
            id="amount"
            name="amount"
            inputmode="decimal"
            autocomplete="off"
            value={amountText()}
            onInput={(e) => setAmountText(e.currentTarget.value)}
            aria-invalid={invalid("amountMinor")}
            aria-describedby="err-amountMinor"
          />
          <FieldError field="amountMinor" />
        </fieldset>

        <Show when={!user()}>
          <fieldset>
            <legend>You</legend>
            <label for="donor-name">Name</label>
            <input
              id="donor-name"
              autocomplete="name"
              value={name()}
              onInput={(e) => setName(e.currentTarget.value)}
              aria-invalid={invalid("donor.name")}
              aria-describedby="err-donor.name"
            />
            <FieldError field="donor.name" />
            <label for="donor-email">Email (for your receipt)</label>
            <input
              id="donor-email"
              type="email"
              autocomplete="email"
              value={email()}
              onInput={(e) => setEmail(e.currentTarget.value)}
              aria-invalid={invalid("donor.email")}
              aria-describedby="err-donor.email"
            />
            <FieldError field="donor.email" />
          </fieldset>
        </Show>

        <fieldset>
          <legend>Pay from</legend>
          <Show when={user()}>
            <label class="choice">
              <input
                type="radio"
                name="source"
                checked={effectiveSource() === "own"}
                disabled={ownMismatch()}
                aria-describedby={ownMismatch() ? "currency-warning" : undefined}
                onChange={() => setSource("own")}
              />{" "}
              My CareForAll bank account
              <Show when={ownCurrency()}>{(c) => <span class="muted">{`\u00a0(${c()})`}</span>}</Show>
            </label>
            <Show when={ownMismatch()}>
              <p class="warning" id="currency-warning" data-testid="currency-warning">
                Your CareForAll account holds {ownCurrency()}, and this campaign collects {currency()}. A donation is
                made in the campaign's currency and money is never converted, so it cannot pay here. Pay from a demo
                account in {currency()} (one click below) or another {currency()} account.
              </p>
            </Show>
          </Show>
          <label class="choice">
            <input
              type="radio"
              name="source"
              checked={effectiveSource() === "demo"}
              onChange={() => setSource("demo")}
            />{" "}
            A demo bank account
          </label>
          <Show when={effectiveSource() === "demo"}>
            <div class="indent">
              <Show
                when={demo()}
                fallback={
                  <button type="button" class="secondary" onClick={openDemoAccount} disabled={opening()}>
                    {opening() ? "Opening…" : `Get a demo bank account in ${currency()}`}
                  </button>
                }
              >
                {(a) => (
                  <p class="muted" data-testid="demo-account">
                    Demo account <code>{a().bankAccountId}</code> ({a().currency})
                  </p>
                )}
              </Show>
              <FieldError field="source" />
            </div>
          </Show>
          <label class="choice">
            <input
              type="radio"
              name="source"
              checked={effectiveSource() === "other"}
              onChange={() => setSource("other")}
            />{" "}
            Another account
          </label>
          <Show when={effectiveSource() === "other"}>
            <div class="indent">
              <label for="source-id">Account id</label>
              <input
                id="source-id"
                autocomplete="off"
                value={otherId()}
                onInput={(e) => setOtherId(e.currentTarget.value)}
                aria-invalid={invalid("source.bankAccountId")}
              />
              <FieldError field="source.bankAccountId" />
              <label for="source-secret">Account secret</label>
              <input
                id="source-secret"
                type="password"
                autocomplete="off"
                value={otherSecret()}
                onInput={(e) => setOtherSecret(e.currentTarget.value)}
                aria-invalid={invalid("source.accountSecret")}
              />
              <FieldError field="source.accountSecret" />
            </div>
          </Show>
        </fieldset>

        <label class="choice">
          <input type="checkbox" checked={anonymous()} onChange={(e) => setAnonymous(e.currentTarget.checked)} /> Donate
          anonymously (your name is not shown)
        </label>
        <label for="message">Message (optional)</label>
        <textarea
          id="message"
          rows="2"
          maxLength={280}
          value={message()}
          onInput={(e) => setMessage(e.currentTarget.value)}
          aria-invalid={invalid("message")}
        />
        <FieldError field="message" />

        <ProblemBox problem={problem()} />
        <button type="submit" class="primary" disabled={sending()} aria-busy={sending()}>
          {sending()
            ? "Sending…"
            : amountMinor() !== null
              ? `Donate ${formatMoney(amountMinor() ?? 0, currency())}`
              : "Donate"}
        </button>
      </Show>
    </form>
  );
}
