// Account routes: open a demo account, balances, grants and the audit log of entries. Internal
// paths; the gateway exposes what the public contract needs through Eden.
import { type authGuard, Problem, serviceCallers } from "@careforall/http";
import { Elysia } from "elysia";
import { BankModel } from "../model";
import type { BankService } from "../service";

const detail = (summary: string) => ({ tags: ["bank-accounts"], summary });

export interface AccountRoutesDeps {
  service: BankService;
  /** The admin macro, for the operator reads the gateway makes on an administrator's behalf. */
  guard: ReturnType<typeof authGuard>;
}

// Callers: the gateway opens demo accounts and reads an owner's account (a user's own, a
// campaign's for the audit); only pledge asks for grants (it alone has verified the donor);
// balances and entries of any account are operator reads (the gateway, for an admin).
export function accountRoutes({ service, guard }: AccountRoutesDeps) {
  return new Elysia({ prefix: "/bank" })
    .use(serviceCallers)
    .use(guard)
    .post("/accounts", async ({ body, status }) => status(201, await service.openDemoAccount(body.currency)), {
      callers: ["gateway"],
      body: BankModel.OpenAccountBody,
      response: { 201: BankModel.OpenedAccount, 400: Problem, 404: Problem },
      detail: detail(
        "Open a demo account funded with the demo balance (BDT unless asked); its secret is shown once. " +
          "404 demo-bank-off while DEMO_BANK is off (the default in production)",
      ),
    })
    .post("/check-balance", ({ body }) => service.checkBalance(body.accountId), {
      parse: "json",
      callers: ["gateway"],
      admin: true,
      body: BankModel.CheckBalanceBody,
      response: { 200: BankModel.Balance, 400: Problem, 404: Problem },
      detail: detail("Balance, held and available amounts of an account"),
    })
    .get(
      "/accounts/by-owner/:ownerType/:ownerId",
      ({ params }) => service.balanceByOwner(params.ownerType, params.ownerId),
      {
        callers: ["gateway"],
        params: BankModel.OwnerParams,
        response: { 200: BankModel.Balance, 400: Problem, 404: Problem },
        detail: detail("The account of an owner (a user's or a campaign's)"),
      },
    )
    .post("/grants", async ({ body, status }) => status(201, await service.grant(body)), {
      parse: "json",
      callers: ["pledge"],
      body: BankModel.GrantBody,
      response: { 201: BankModel.Grant, 400: Problem, 402: Problem },
      detail: detail("Verify the account secret (or the owning user) and issue a signed grant to draw on it"),
    })
    .get("/accounts/:id/transactions", ({ params, query }) => service.transactions(params.id, query), {
      callers: ["gateway"],
      admin: true,
      params: BankModel.AccountParams,
      query: BankModel.TransactionsQuery,
      response: { 200: BankModel.TransactionPage, 400: Problem, 404: Problem },
      detail: detail("The account's ledger entries, newest first"),
    });
}
