// The login rule through real processes and real Redis: failures are counted per (IP, email) and
// per IP, never per email alone. A stack with RATE_LIMIT_LOGIN_PER_ACCOUNT=3 and RATE_LIMIT_AUTH=6,
// behind a trusted proxy (the test runner), so X-Forwarded-For names each client's address.
import { describe, expect, test } from "bun:test";
import { type Account, call, expectProblem, PASSWORD, type Reply, uniqueEmail, useStack } from "./support";

const PER_ACCOUNT = 3;
const PER_IP = 6;
const e2e = useStack(
  {
    RATE_LIMIT_AUTH: String(PER_IP),
    RATE_LIMIT_LOGIN_PER_ACCOUNT: String(PER_ACCOUNT),
    TRUSTED_PROXIES: "127.0.0.1,::1",
  },
  { label: "gw_login_limits" },
);

let octet = 0;
/** A client address of its own for each scenario (documentation range). */
const newIp = () => `203.0.113.${++octet}`;
/** Registration has its own per-IP limit: each account comes from an address of its own. */
const newAccount = () => registerFrom(`198.51.100.${++octet}`);

async function registerFrom(ip: string): Promise<Account> {
  const email = uniqueEmail("victim");
  const reply = await call<Account["session"]>(
    e2e.gw,
    "POST",
    "/api/auth/register",
    { email, password: PASSWORD, name: "Victim" },
    { headers: { "x-forwarded-for": ip } },
  );
  expect(reply.status).toBe(201);
  return { email, password: PASSWORD, name: "Victim", session: reply.body, token: reply.body.accessToken };
}

const loginFrom = (ip: string, email: string, password: string) =>
  call(e2e.gw, "POST", "/api/auth/login", { email, password }, { headers: { "x-forwarded-for": ip } });

function expectRateLimited(reply: Reply) {
  const problem = expectProblem(reply, 429);
  expect(problem.type).toContain("rate-limited");
  const retryAfter = Number(reply.res.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

describe("a third party cannot lock an account owner out", () => {
  test("failures for the victim's email from the attacker's IP stop the attacker (429), not the victim", async () => {
    const victim = await newAccount();
    const attacker = newIp();
    for (let i = 0; i < PER_ACCOUNT; i++) {
      expect((await loginFrom(attacker, victim.email, `guess-${i}`)).status).toBe(401);
    }
    // The attacker is stopped, even with the right password, however long they keep at it…
    for (let i = 0; i < 2 * PER_IP; i++) {
      expectRateLimited(await loginFrom(attacker, victim.email, `guess-${PER_ACCOUNT + i}`));
    }
    expectRateLimited(await loginFrom(attacker, victim.email, PASSWORD));
    // …and the victim, from their own address, signs in as usual (a per-email count would be far past
    // both limits by now).
    const own = await loginFrom(newIp(), victim.email, PASSWORD);
    expect(own.status).toBe(200);
  });

  test("the email's case does not buy the attacker a fresh allowance", async () => {
    const victim = await newAccount();
    const attacker = newIp();
    for (let i = 0; i < PER_ACCOUNT; i++) await loginFrom(attacker, victim.email, `guess-${i}`);
    expectRateLimited(await loginFrom(attacker, victim.email.toUpperCase(), "guess"));
  });
});

describe("one IP spraying many emails is stopped", () => {
  test(`after ${PER_IP} failures across distinct emails, the next login from that IP → 429, whatever the email`, async () => {
    const sprayer = newIp();
    for (let i = 0; i < PER_IP; i++) {
      expect((await loginFrom(sprayer, uniqueEmail("spray"), "password-guess")).status).toBe(401);
    }
    expectRateLimited(await loginFrom(sprayer, uniqueEmail("spray"), "password-guess"));
    // A real account's owner elsewhere is unaffected.
    const owner = await newAccount();
    expectRateLimited(await loginFrom(sprayer, owner.email, PASSWORD));
    expect((await loginFrom(newIp(), owner.email, PASSWORD)).status).toBe(200);
  });
});

describe("only failures count", () => {
  test("successful logins from one IP, beyond both limits, all succeed", async () => {
    const account = await newAccount();
    const ip = newIp();
    for (let i = 0; i < PER_IP + 2; i++) expect((await loginFrom(ip, account.email, PASSWORD)).status).toBe(200);
    // And failures still count after them.
    for (let i = 0; i < PER_ACCOUNT; i++) expect((await loginFrom(ip, account.email, "wrong")).status).toBe(401);
    expectRateLimited(await loginFrom(ip, account.email, PASSWORD));
  });

  test("concurrent guesses cannot slip past the count: at most the allowance is tried", async () => {
    const victim = await newAccount();
    const attacker = newIp();
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) => loginFrom(attacker, victim.email, `parallel-${i}`)),
    );
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(PER_ACCOUNT);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(12 - PER_ACCOUNT);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
  });
});
