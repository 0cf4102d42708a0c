// The API's documentation: the OpenAPI 3.1 document at /docs/json, built from the gateway's own
// route table (openapi/document.ts), and Swagger UI at /docs and /docs/. The UI's script and
// stylesheet come from the installed swagger-ui-dist package: the docs work without internet.
import { dirname, join } from "node:path";
import { AuthModel } from "@careforall/auth";
import { BankModel } from "@careforall/bank";
import { CampaignModel, DonationModel } from "@careforall/campaign";
import { ChatModel } from "@careforall/chat";
import { Problem } from "@careforall/http";
import { NotificationModel } from "@careforall/notification";
import { PaymentModel } from "@careforall/payment";
import { PledgeModel } from "@careforall/pledge";
import { Elysia } from "elysia";
import { buildOpenApiDocument, type RouteLike } from "../openapi/document";
import { API_DESCRIPTION, TAGS } from "../openapi/intro";

const assets = dirname(Bun.resolveSync("swagger-ui-dist/package.json", import.meta.dir));
const ASSET_FILES = new Set(["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"]);

// The page loads only same-origin files (no inline script), so a strict CSP can hold.
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CareForAll API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
`;
const INIT = `window.ui = SwaggerUIBundle({
  url: "/docs/json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  displayRequestDuration: true,
  tryItOutEnabled: true,
});
`;

/** The shared models, named once under components.schemas. */
const NAMED = {
  Problem,
  Session: AuthModel.Session,
  User: AuthModel.User,
  Campaign: CampaignModel.Campaign,
  CampaignPage: CampaignModel.CampaignPage,
  Donation: DonationModel.Donation,
  DonationPage: DonationModel.DonationPage,
  Pledge: PledgeModel.Pledge,
  CreatedPledge: PledgeModel.CreatedPledge,
  PledgePage: PledgeModel.PledgePage,
  OpenedAccount: BankModel.OpenedAccount,
  BankFaults: BankModel.Faults,
  WebhookEvent: PaymentModel.WebhookEvent,
  ChatMessage: ChatModel.Message,
  Notification: NotificationModel.Notification,
  NotificationPage: NotificationModel.NotificationPage,
};

/** `table.routes` is read on the first request, once the app holding these routes is complete. */
export function docsRoutes(table: { routes: readonly RouteLike[] }) {
  let document: string | undefined;
  const html = () => new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
  return new Elysia({ name: "gateway-docs" })
    .get("/docs", html, { detail: { hide: true } })
    .get("/docs/", html, { detail: { hide: true } })
    .get(
      "/docs/json",
      () => {
        document ??= JSON.stringify(
          buildOpenApiDocument(table.routes, {
            info: { title: "CareForAll API", version: "1.0.0", description: API_DESCRIPTION },
            tags: TAGS,
            named: NAMED,
          }),
        );
        return new Response(document, { headers: { "content-type": "application/json; charset=utf-8" } });
      },
      { detail: { hide: true } },
    )
    .get(
      "/docs/assets/:file",
      ({ params, set }) => {
        if (params.file === "init.js")
          return new Response(INIT, { headers: { "content-type": "text/javascript; charset=utf-8" } });
        if (!ASSET_FILES.has(params.file)) {
          set.status = 404;
          return "not found";
        }
        set.headers["cache-control"] = "public, max-age=86400";
        return Bun.file(join(assets, params.file));
      },
      { detail: { hide: true } },
    );
}
