// What a test that calls a started platform's internal services directly must send: the service
// credential of the service that makes that call in the platform, and an administrator's access
// token on the operator routes — minted with the stack's own keys, as the real caller would.
import {
  createServiceIdentity,
  SERVICE_TOKEN_HEADER,
  type ServiceIdentity,
  type ServiceKeySet,
  type ServiceName,
} from "@careforall/http";
import { BANK_OPERATOR_PATHS, bankCallerOf } from "./callers";
import { adminTokenFor } from "./index";

const OPERATOR: Partial<Record<ServiceName, RegExp>> = {
  auth: /^\/users\//,
  bank: BANK_OPERATOR_PATHS,
  campaign: /^\/campaigns\/[^/]+\/rebuild\b/,
  payment: /^\/payments\/(?!webhook\b)/,
  pledge: /^\/(admin\/|campaigns\/[^/]+\/captured\b)/,
};

export interface StackCredentials {
  /** Base URL of each service. */
  urls: Record<string, string>;
  keys: { privateKeyPem: string; services: ServiceKeySet };
}

/**
 * A function giving the headers for a direct call to `base + path`: none for the gateway (the
 * public origin) or an unknown base; otherwise the platform caller's service token for that
 * service, plus an administrator's bearer token on operator routes (unless `asAdmin` is false).
 */
export function stackCallHeaders({ urls, keys }: StackCredentials) {
  const identities = new Map<ServiceName, Promise<ServiceIdentity>>();
  const identity = (name: ServiceName) => {
    let found = identities.get(name);
    if (!found) {
      found = createServiceIdentity({ self: name, privateKeyPem: keys.services[name].privateKeyPem, trusted: {} });
      identities.set(name, found);
    }
    return found;
  };
  const admin = adminTokenFor(keys.privateKeyPem);
  const byBase = new Map(Object.entries(urls).map(([name, url]) => [url.replace(/\/$/, ""), name as ServiceName]));
  return async (base: string, path: string, { asAdmin = true }: { asAdmin?: boolean } = {}) => {
    const audience = byBase.get(base.replace(/\/$/, ""));
    if (!audience || audience === "gateway" || ["/health", "/ready", "/metrics"].includes(path.split("?")[0] ?? ""))
      return {};
    const caller: ServiceName = audience === "bank" ? bankCallerOf(path) : "gateway";
    const headers: Record<string, string> = {
      [SERVICE_TOKEN_HEADER]: await (await identity(caller)).tokenFor(audience),
    };
    if (asAdmin && OPERATOR[audience]?.test(path)) headers.authorization = `Bearer ${await admin}`;
    return headers;
  };
}

// Started stacks by service base URL, so a test's `call(base, …)` helper finds what to send.
const registered = new Map<string, ReturnType<typeof stackCallHeaders>>();

/** Makes a started stack's internal URLs known to `internalCallHeaders`. */
export function registerStack(credentials: StackCredentials): void {
  const headersFor = stackCallHeaders(credentials);
  for (const url of Object.values(credentials.urls)) registered.set(url.replace(/\/$/, ""), headersFor);
}

/** The credentials a direct call to a registered stack's internal service carries ({} otherwise). */
export async function internalCallHeaders(
  base: string,
  path: string,
  options: { asAdmin?: boolean } = {},
): Promise<Record<string, string>> {
  const headersFor = registered.get(base.replace(/\/$/, ""));
  return headersFor ? headersFor(base, path, options) : {};
}
