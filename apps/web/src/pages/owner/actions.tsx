// What a campaign's owner (or an admin) may do on its page: edit it, and close it after a
// confirmation (POST /api/campaigns/:id/close). A lazy chunk: donors never download it.
import { A } from "@solidjs/router";
import { createSignal, Show } from "solid-js";
import { type ProblemDetails, toProblem } from "../../api/problem";
import { ConfirmDialog } from "../../components/confirm-dialog";
import { ProblemBox } from "../../components/status";
import { useServices } from "../../context";
import { formatMoney } from "../../lib/money";
import type { CampaignView } from "../campaigns";

export default function OwnerActions(props: { campaign: CampaignView; onChange: (c: CampaignView) => void }) {
  const { api } = useServices();
  const [asking, setAsking] = createSignal(false);
  const [closing, setClosing] = createSignal(false);
  const [problem, setProblem] = createSignal<ProblemDetails | null>(null);

  async function close() {
    setClosing(true);
    setProblem(null);
    try {
      const res = await api.client.campaigns({ id: props.campaign.id }).close.post();
      if (!res.data) throw toProblem(res.error);
      setAsking(false);
      props.onChange(res.data as unknown as CampaignView);
    } catch (err) {
      setAsking(false);
      setProblem(err && typeof err === "object" && "title" in err ? (err as ProblemDetails) : toProblem(err));
    } finally {
      setClosing(false);
    }
  }

  return (
    <Show when={props.campaign.status === "active"}>
      <div class="owner-actions">
        <A href={`/campaigns/${props.campaign.id}/edit`} class="button-link secondary">
          Edit
        </A>
        <button type="button" class="danger" onClick={() => setAsking(true)}>
          Close the campaign
        </button>
      </div>
      <ProblemBox problem={problem()} />
      <ConfirmDialog
        open={asking()}
        title={`Close “${props.campaign.title}”?`}
        confirmLabel="Close it"
        cancelLabel="Keep it open"
        busy={closing()}
        onConfirm={close}
        onCancel={() => setAsking(false)}
      >
        <p>
          It stops taking donations now and cannot be opened again. The{" "}
          {formatMoney(props.campaign.raisedMinor, props.campaign.currency)} raised so far stays, and donations already
          on their way still count.
        </p>
      </ConfirmDialog>
    </Show>
  );
}
