// What every page shares, made once per tab: the API client (with the session), the one WebSocket,
// and the browser's remembered receipts. Tests build their own with fakes.
import { createContext, useContext } from "solid-js";
import type { Api } from "./api/client";
import type { Receipts } from "./lib/receipts";
import type { Realtime } from "./realtime/socket";

export interface AppServices {
  api: Api;
  realtime: Realtime;
  receipts: Receipts;
  /** Idempotency keys and other random ids. */
  newKey: () => string;
}

export const Services = createContext<AppServices>();

export function useServices(): AppServices {
  const services = useContext(Services);
  if (!services) throw new Error("useServices outside <Services.Provider>");
  return services;
}
