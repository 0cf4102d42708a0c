// The admin panel (a lazy chunk: donors never load it): the money audit, pledges by state with
// refund, operator notifications, the bank's fault knobs and a live sparkline. Non-admins get a
// clear "admins only" message; the API refuses them (403) anyway.
import { A } from "@solidjs/router";
import { onMount, Show } from "solid-js";
import { useServices } from "../../context";
import { AuditPanel } from "./audit";
import { FaultsPanel } from "./faults";
import { NotificationsPanel } from "./notifications";
import { PledgesPanel } from "./pledges";

export default function AdminPage() {
  const { api, realtime } = useServices();
  const isAdmin = () => api.session.user()?.role === "admin";
  // Operator notifications are pushed to the admin's own socket topics, with nothing followed. Not
  // turned off on leaving: keepAlive is one switch the header's notification badge shares (it turns it
  // off at sign-out), and a signed-in user's socket is meant to stay open anyway.
  onMount(() => {
    if (isAdmin()) realtime.keepAlive(true);
  });
  return (
    <Show
      when={isAdmin()}
      fallback={
        <section class="narrow" data-testid="admins-only">
          <h1>Admin panel</h1>
          <p class="problem" role="alert">
            <strong>Admins only.</strong> This page is for the platform's administrators.{" "}
            <Show when={!api.session.user()}>
              <A href="/signin?next=%2Fadmin">Sign in as an administrator</A>
            </Show>
          </p>
        </section>
      }
    >
      <section class="admin">
        <h1>Admin panel</h1>
        <AuditPanel />
        <PledgesPanel />
        <div class="admin-grid">
          <NotificationsPanel />
          <FaultsPanel />
        </div>
      </section>
    </Show>
  );
}
