// Server-side request timing from the services' own /metrics (Prometheus text): the
// careforall_http_request_duration_seconds sum and count per service, method and route template, so two
// scrapes give how many requests each route served in between and their mean time. That shows
// where a slow end-to-end answer spends its time (gateway → pledge → bank).

export interface RouteTiming {
  service: string;
  method: string;
  route: string;
  status: string;
  count: number;
  sumSec: number;
}

export type Scrape = Map<string, RouteTiming>;

function labels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) out[m[1] as string] = m[2] as string;
  return out;
}

/** One scrape of every service's request-duration totals (services that do not answer are skipped). */
export async function scrapeTimings(urls: Record<string, string>): Promise<Scrape> {
  const out: Scrape = new Map();
  await Promise.all(
    Object.entries(urls).map(async ([service, url]) => {
      const text = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })
        .then((r) => (r.ok ? r.text() : ""))
        .catch(() => "");
      for (const m of text.matchAll(/^careforall_http_request_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$/gm)) {
        const l = labels(m[2] as string);
        const key = `${service} ${l.method} ${l.route} ${l.status}`;
        const t = out.get(key) ?? {
          service,
          method: l.method ?? "",
          route: l.route ?? "",
          status: l.status ?? "",
          count: 0,
          sumSec: 0,
        };
        if (m[1] === "sum") t.sumSec = Number(m[3]);
        else t.count = Number(m[3]);
        out.set(key, t);
      }
    }),
  );
  return out;
}

export interface RouteDelta {
  service: string;
  route: string;
  status: string;
  requests: number;
  meanMs: number;
}

/** Requests each route served between two scrapes and their mean server time, busiest first. */
export function timingDelta(
  before: Scrape,
  after: Scrape,
  ignore: RegExp = /\/metrics|\/health|\/ready/,
): RouteDelta[] {
  const out: RouteDelta[] = [];
  for (const [key, t] of after) {
    if (ignore.test(t.route)) continue;
    const b = before.get(key);
    const requests = t.count - (b?.count ?? 0);
    if (requests <= 0) continue;
    out.push({
      service: t.service,
      route: `${t.method} ${t.route}`,
      status: t.status,
      requests,
      meanMs: ((t.sumSec - (b?.sumSec ?? 0)) / requests) * 1000,
    });
  }
  return out.sort((x, y) => y.requests - x.requests || y.meanMs - x.meanMs);
}
