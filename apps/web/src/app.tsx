// The shell: header with navigation and who is signed in, the "your session ended" notice, and the
// routes.
import { A, Route, Router, type RouteSectionProps, useLocation, useNavigate } from "@solidjs/router";
import { createEffect, type JSX, lazy, on, Show } from "solid-js";
import { useServices } from "./context";
import { SignIn, SignUp } from "./pages/auth";
import CampaignPage from "./pages/campaign";
import Campaigns from "./pages/campaigns";
import { NotificationsLink } from "./pages/me/badge";
import Receipt from "./pages/receipt";

// The signed-in screens (me & chat): lazy chunks, outside the donor budget; the badge is in the header.
const MyDonations = lazy(() => import("./pages/me/donations"));
const MyNotifications = lazy(() => import("./pages/me/notifications"));
const Support = lazy(() => import("./pages/me/support"));

// A campaign owner's screens (start, edit, my campaigns): lazy chunks, outside the donor budget.
const StartCampaign = lazy(() => import("./pages/owner/start"));
const EditCampaign = lazy(() => import("./pages/owner/edit"));
const MyCampaigns = lazy(() => import("./pages/owner/mine"));

// Admin screens: a lazy chunk, never part of the donor budget.
const AdminPage = lazy(() => import("./pages/admin"));

// The donor pages are in the entry chunk (about 9 KiB gzipped together): a direct visit to a campaign
// then costs one script and one API call, not a script, a chunk and a call in a row. Screens donors
// never see (admin, a campaign owner's screens) are lazy() chunks.
function Layout(props: RouteSectionProps) {
  const { api } = useServices();
  const navigate = useNavigate();
  const user = api.session.user;
  const location = useLocation();
  let main: HTMLElement | undefined;
  // After a navigation (not the first load) focus moves to the new page, as a page load would move it,
  // so keyboard and screen-reader users start at the content instead of the link they left.
  createEffect(
    on(
      () => location.pathname,
      () => main?.focus({ preventScroll: true }),
      { defer: true },
    ),
  );

  async function signOut() {
    const refreshToken = api.session.refreshToken();
    api.session.signOut();
    if (refreshToken) await api.client.auth.logout.post({ refreshToken }).catch(() => undefined);
    navigate("/");
  }

  return (
    <>
      {/* biome-ignore lint/a11y/useValidAnchor: a skip link is a link (#main works without script); the router swallows its default, so it moves focus itself */}
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          main?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <A href="/" class="brand" end>
          CareForAll
        </A>
        <nav aria-label="Main">
          <A href="/" end>
            Campaigns
          </A>
          <Show
            when={user()}
            fallback={
              <>
                <A href="/signin">Sign in</A>
                <A href="/signup" class="button-link">
                  Sign up
                </A>
              </>
            }
          >
            {(u) => (
              <>
                <A href="/me/donations">My donations</A>
                <A href="/me/campaigns">My campaigns</A>
                <NotificationsLink />
                <A href="/me/support">Support</A>
                <Show when={u().role === "admin"}>
                  <A href="/admin">Admin</A>
                </Show>
                <span class="who" data-testid="who">
                  {u().name}
                </span>
                <button type="button" class="link" onClick={signOut}>
                  Sign out
                </button>
              </>
            )}
          </Show>
        </nav>
      </header>
      <Show when={api.session.expired()}>
        <div class="notice" role="alert">
          Your session ended. <A href={`/signin?next=${encodeURIComponent(location.pathname)}`}>Sign in again</A>{" "}
          <button type="button" class="link" onClick={() => api.session.dismissExpired()}>
            Dismiss
          </button>
        </div>
      </Show>
      <main id="main" tabindex="-1" ref={main}>
        {props.children}
      </main>
    </>
  );
}

function NotFound(): JSX.Element {
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        <A href="/">See the campaigns</A>
      </p>
    </section>
  );
}

export function App() {
  return (
    <Router root={Layout}>
      <Route path="/" component={Campaigns} />
      <Route path="/campaigns/new" component={StartCampaign} />
      <Route path="/campaigns/:id" component={CampaignPage} />
      <Route path="/campaigns/:id/edit" component={EditCampaign} />
      <Route path="/pledges/:id" component={Receipt} />
      <Route path="/signin" component={SignIn} />
      <Route path="/signup" component={SignUp} />
      <Route path="/admin" component={AdminPage} />
      <Route path="/me/donations" component={MyDonations} />
      <Route path="/me/notifications" component={MyNotifications} />
      <Route path="/me/campaigns" component={MyCampaigns} />
      <Route path="/me/support" component={Support} />
      <Route path="*404" component={NotFound} />
    </Router>
  );
}
