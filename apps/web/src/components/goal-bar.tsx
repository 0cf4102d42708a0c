// The goal progress bar with its numbers: raised of goal, percent, donors. A real <progress>-like
// role so screen readers hear the value, not only see a coloured bar.
import { formatMoney, progressPercent } from "../lib/money";

export function GoalBar(props: {
  raisedMinor: number;
  goalMinor: number;
  currency: string;
  donorCount: number;
  large?: boolean;
}) {
  const pct = () => progressPercent(props.raisedMinor, props.goalMinor);
  return (
    <div class={props.large ? "goal goal-large" : "goal"}>
      <div
        class="bar"
        role="progressbar"
        aria-label="Raised towards the goal"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct()}
      >
        <span style={{ width: `${pct()}%` }} />
      </div>
      <p class="goal-numbers">
        <strong data-testid="raised">{formatMoney(props.raisedMinor, props.currency)}</strong>
        <span> raised of {formatMoney(props.goalMinor, props.currency, { compact: true })}</span>
        <span class="muted">
          {" · "}
          {pct()}% · <span data-testid="donors">{props.donorCount}</span> {props.donorCount === 1 ? "donor" : "donors"}
        </span>
      </p>
    </div>
  );
}
