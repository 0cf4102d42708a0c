// Chat rooms and who may enter them: `campaign:<id>` is public Q&A (anyone reads, signed-in users
// post), `support:<userId>` belongs to that user and the administrators. Pure: the socket asks,
// the chat service decides again when a message is posted.

export type Room = { kind: "campaign"; id: string; name: string } | { kind: "support"; userId: string; name: string };

const ROOM = /^(campaign|support):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/** The room named, normalised to lower case (ids are UUIDs, case-insensitive); null when malformed. */
export function parseRoom(raw: string): Room | null {
  const match = ROOM.exec(raw);
  if (!match) return null;
  const id = (match[2] as string).toLowerCase();
  return match[1] === "campaign"
    ? { kind: "campaign", id, name: `campaign:${id}` }
    : { kind: "support", userId: id, name: `support:${id}` };
}

export interface Viewer {
  id: string;
  role: "donor" | "admin";
}

/** Whether `viewer` (null: anonymous) may listen in `room`. Campaign rooms: anyone. */
export function mayJoin(room: Room, viewer: Viewer | null): boolean {
  if (room.kind === "campaign") return true;
  return viewer !== null && (viewer.role === "admin" || viewer.id === room.userId);
}
