// Per-request values every gateway route uses: the caller's IP (trusted-proxy aware) and the
// JWT guard. Shared as one named plugin so Elysia applies it once.
import { authGuard, type TokenVerifier } from "@careforall/http";
import { Elysia } from "elysia";
import { clientIp } from "../domain/client-ip";

export function gatewayContext(verifier: TokenVerifier, trustedProxies: Set<string>) {
  return new Elysia({ name: "gateway-context" })
    .use(authGuard(verifier))
    .derive({ as: "global" }, ({ request, server, set }) => ({
      /** Minted (or echoed) by httpKit's onRequest; forwarded to every upstream call. */
      requestId: String(set.headers["x-request-id"] ?? ""),
      ip: clientIp(server?.requestIP(request)?.address, request.headers.get("x-forwarded-for"), trustedProxies),
    }));
}

export type GatewayContext = ReturnType<typeof gatewayContext>;
