// The images' HEALTHCHECK (deploy/docker/Dockerfile): asks the service in this container for its
// liveness answer (`GET /health`, 200 once it has booted: migrations applied, bus connected,
// listening) and exits 0 if it came within the timeout, 1 otherwise. Bun alone: the slim image
// has no curl. The port is PORT, else the app's default (APP is set in each image).
const DEFAULT_PORTS: Record<string, number> = {
  gateway: 3000,
  auth: 3101,
  campaign: 3102,
  pledge: 3103,
  payment: 3104,
  bank: 3105,
  notification: 3106,
  chat: 3107,
  archiver: 3108,
};

export function healthUrl(env: Record<string, string | undefined>): string {
  const port = env.PORT || String(DEFAULT_PORTS[env.APP ?? ""] ?? "");
  if (!/^\d+$/.test(port)) throw new Error(`no PORT, and no default port for APP=${env.APP}`);
  return `http://127.0.0.1:${port}/health`;
}

if (import.meta.main) {
  try {
    const res = await fetch(healthUrl(process.env), { signal: AbortSignal.timeout(2_500) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    process.exit(0);
  } catch (err) {
    console.error(`unhealthy: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
