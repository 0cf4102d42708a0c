// Demo data through the public API (so it takes the real path: validation, events, caches):
// a few donors and a dozen realistic campaigns. Idempotent: re-running adds nothing twice.

import { adminSignIn, reach, runCli } from "./cli";

export interface SeedOptions {
  gatewayUrl: string;
  admin: { email: string; password: string };
  log?: (msg: string) => void;
}

export const DEMO_DONORS = [
  { email: "ayesha@example.org", password: "donor-pass-1", name: "Ayesha Rahman" },
  { email: "rafiq@example.org", password: "donor-pass-2", name: "Rafiq Hossain" },
  { email: "nusrat@example.org", password: "donor-pass-3", name: "Nusrat Jahan" },
  { email: "tanvir@example.org", password: "donor-pass-4", name: "Tanvir Ahmed" },
];

const CAMPAIGNS = [
  [
    "Clean water wells for Sylhet villages",
    "Tube wells and filters for 14 flood-hit villages in Sylhet division.",
    2_500_000,
  ],
  ["Winter blankets for Rangpur", "Warm blankets and jackets for families facing the northern cold wave.", 800_000],
  ["School meals in Kurigram", "A daily hot lunch for 600 primary pupils for one school year.", 1_500_000],
  [
    "Cyclone shelter repairs in Bhola",
    "Roofs, doors and solar lights for three community cyclone shelters.",
    3_200_000,
  ],
  [
    "Mobile clinic for Char islands",
    "A boat clinic bringing a nurse and medicines to river islands twice a month.",
    4_000_000,
  ],
  [
    "Books for the Mirpur community library",
    "Bangla and English books plus shelves for a neighbourhood reading room.",
    300_000,
  ],
  [
    "Sewing machines for women's co-op",
    "Twenty machines and training for a garment co-operative in Gazipur.",
    1_200_000,
  ],
  ["Cataract surgeries in Barishal", "Sight-restoring surgeries for 150 elderly patients.", 2_250_000],
  ["Flood relief food packs", "Rice, lentils, oil and ORS for 1,000 households after the monsoon floods.", 5_000_000],
  ["Solar lamps for Sundarbans fishers", "Solar lanterns so fishing families can work and study after dark.", 650_000],
  ["Wheelchairs for Chattogram", "Forty wheelchairs fitted for children with mobility impairments.", 900_000],
  [
    "Scholarships for first-generation students",
    "University fees and stipends for ten first-generation students.",
    2_000_000,
  ],
] as const;

async function api<T>(
  url: string,
  init: RequestInit & { json?: unknown; token?: string } = {},
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  const res = await reach(url, {
    ...init,
    headers,
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function signIn(base: string, account: { email: string; password: string; name?: string }): Promise<string> {
  const login = await api<{ accessToken: string }>(`${base}/api/auth/login`, {
    method: "POST",
    json: { email: account.email, password: account.password },
  });
  if (login.status === 200) return login.body.accessToken;
  const reg = await api<{ accessToken: string }>(`${base}/api/auth/register`, { method: "POST", json: account });
  if (reg.status !== 201)
    throw new Error(`could not register ${account.email}: ${reg.status} ${JSON.stringify(reg.body)}`);
  return reg.body.accessToken;
}

export async function seed({ gatewayUrl, admin, log = console.log }: SeedOptions): Promise<void> {
  // Never signIn(): on a refused password it would register the admin's email as a donor.
  const adminToken = await adminSignIn(gatewayUrl, admin);
  const donorTokens = [];
  for (const donor of DEMO_DONORS) donorTokens.push(await signIn(gatewayUrl, donor));

  const existing = await api<{ items: { title: string }[] }>(`${gatewayUrl}/api/campaigns?limit=100`);
  const titles = new Set(existing.body.items.map((c) => c.title));
  let created = 0;
  for (const [i, [title, description, goalMinor]] of CAMPAIGNS.entries()) {
    if (titles.has(title)) continue;
    const owner = i % 3 === 0 ? adminToken : (donorTokens[i % donorTokens.length] as string);
    const endsAt = new Date(Date.now() + (30 + i * 7) * 86_400_000).toISOString();
    const res = await api(`${gatewayUrl}/api/campaigns`, {
      method: "POST",
      token: owner,
      json: { title, description, goalMinor, currency: "BDT", endsAt },
    });
    if (res.status !== 201) throw new Error(`could not create "${title}": ${res.status} ${JSON.stringify(res.body)}`);
    created++;
  }
  log(`seed: ${DEMO_DONORS.length} donors, ${created} new campaigns (${CAMPAIGNS.length - created} already there)`);
  await seedDonations(gatewayUrl, donorTokens, log);
}

/**
 * A few real donations from the demo donors' own bank accounts, so totals are not all zero on a
 * fresh start. Each has a fixed Idempotency-Key, so a re-run replays instead of paying twice.
 */
async function seedDonations(gatewayUrl: string, donorTokens: string[], log: (msg: string) => void) {
  const { items } = (await api<{ items: { id: string; title: string }[] }>(`${gatewayUrl}/api/campaigns?limit=100`))
    .body;
  const seeded = items.filter((c) => CAMPAIGNS.some(([title]) => title === c.title));
  let accepted = 0;
  for (const [d, token] of donorTokens.entries()) {
    // The bank opens each donor's account from user.registered; wait for it before paying from it.
    const deadline = Date.now() + 15_000;
    while ((await api(`${gatewayUrl}/api/me/bank`, { token })).status !== 200) {
      if (Date.now() > deadline) throw new Error("a demo donor's bank account was not opened in time");
      await Bun.sleep(200);
    }
    for (let k = 0; k < 3; k++) {
      const campaign = seeded[(d * 3 + k) % seeded.length];
      if (!campaign) continue;
      const donate = () =>
        fetch(`${gatewayUrl}/api/campaigns/${campaign.id}/pledges`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${token}`,
            "idempotency-key": `seed:${DEMO_DONORS[d]?.email}:${campaign.id}`,
          },
          body: JSON.stringify({ amountMinor: 5_000 * (k + 1) + 1_000 * d, currency: "BDT", anonymous: k === 2 }),
        });
      let res = await donate();
      // A campaign created a moment ago may not have reached the pledge service yet (404, not stored).
      for (let attempt = 0; res.status === 404 && attempt < 20; attempt++) {
        await Bun.sleep(100);
        res = await donate();
      }
      if (res.status === 202) accepted++;
      else log(`seed: a demo donation answered ${res.status}: ${await res.text()}`);
    }
  }
  log(`seed: ${accepted} demo donations accepted (replays included)`);
}

if (import.meta.main) {
  await runCli(() =>
    seed({
      gatewayUrl: process.argv[2] ?? process.env.GATEWAY_URL ?? "http://127.0.0.1:3000",
      admin: {
        email: process.env.ADMIN_EMAIL ?? "admin@careforall.local",
        password: process.env.ADMIN_PASSWORD ?? "admin-dev-password",
      },
    }),
  );
}
