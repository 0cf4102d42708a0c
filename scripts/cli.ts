// How the command-line scripts end: a sentence for the person at the terminal, not a stack trace.
import { classifyUnavailable } from "@careforall/resilience";

/** A failure the user can act on; its message is printed as it is. */
export class CliError extends Error {}

/** Runs a script's main; a failure prints one line to stderr and exits 1. */
export async function runCli(main: () => Promise<unknown>): Promise<void> {
  try {
    await main();
  } catch (err) {
    const message =
      err instanceof CliError
        ? err.message
        : classifyUnavailable(err)
          ? "The platform did not answer: is `./cfa start` running?"
          : `failed: ${err instanceof Error ? err.message : String(err)}`;
    console.error(`[cfa] ${message}`);
    process.exit(1);
  }
}

/** fetch, with "nothing answers there" said as such. */
export async function reach(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    if (classifyUnavailable(err))
      throw new CliError(`Nothing answers at ${new URL(url).origin}: is \`./cfa start\` running?`);
    throw err;
  }
}

/** Signs the admin in; a refusal names the settings to check instead of carrying on as someone else. */
export async function adminSignIn(gatewayUrl: string, admin: { email: string; password: string }): Promise<string> {
  const res = await reach(`${gatewayUrl}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(admin),
  });
  if (res.status === 401 || res.status === 400)
    throw new CliError(
      `The admin sign-in as ${admin.email} was refused: check ADMIN_EMAIL and ADMIN_PASSWORD ` +
        "(the values the platform was started with).",
    );
  if (res.status !== 200) throw new CliError(`The admin sign-in failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { accessToken: string }).accessToken;
}
