// What a WebSocket asks other services, through the gateway's Eden clients: the chat service
// stores and publishes a `say` (the user's bearer forwarded), and the pledge service says whether a
// receipt token (or the signed-in donor) may see a pledge — the rule of GET /api/pledges/:id.
import type { GatewayClients } from "../app";
import { upstreamHeaders } from "../upstream";
import type { RealtimeUpstreams, UpstreamStatus } from "./index";

async function statusOf(request: () => Promise<{ status: number }>): Promise<UpstreamStatus> {
  try {
    return (await request()).status;
  } catch {
    // Refused by the breaker or never answered: the socket is told the service is unavailable.
    return 0;
  }
}

export function clientUpstreams(clients: Pick<GatewayClients, "chat" | "pledge">): RealtimeUpstreams {
  return {
    say(message, bearer, requestId) {
      const { room, ...body } = message;
      return statusOf(() =>
        clients.chat.rooms({ room }).messages.post(body, { headers: upstreamHeaders(requestId, `Bearer ${bearer}`) }),
      );
    },
    pledgeVisible(pledgeId, receiptToken, bearer, requestId) {
      const headers = upstreamHeaders(requestId, bearer ? `Bearer ${bearer}` : undefined);
      if (receiptToken) headers["x-receipt-token"] = receiptToken;
      return statusOf(() => clients.pledge.pledges({ id: pledgeId }).get({ headers }));
    },
  };
}
