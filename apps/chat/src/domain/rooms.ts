// Rooms and who may use them — pure rules. A room name is `campaign:<campaignId>` (public Q&A:
// anyone reads, signed-in users post) or `support:<userId>` (that user and admins only).
// Ids are UUIDs in their canonical lowercase form, as auth and campaign issue them, so one room
// has exactly one name (a differently cased spelling would otherwise be a second room).

export interface Viewer {
  id: string;
  role: "donor" | "admin";
}

export type Room =
  | { kind: "campaign"; name: string; campaignId: string }
  | { kind: "support"; name: string; userId: string };

const CANONICAL_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const ROOM = new RegExp(`^(campaign|support):(${CANONICAL_UUID})$`);

/** The room a name denotes, or null when it is not a room name (any other text, case, padding). */
export function parseRoom(name: string): Room | null {
  const match = ROOM.exec(name);
  if (!match) return null;
  const [, kind, id] = match as unknown as [string, "campaign" | "support", string];
  return kind === "campaign" ? { kind, name, campaignId: id } : { kind, name, userId: id };
}

/**
 * Whether `viewer` (null: a guest) may read the room. Support rooms are private to their user and
 * the administrators; callers answer 404 otherwise, so a room's existence is never revealed.
 */
export function canRead(room: Room, viewer: Viewer | null): boolean {
  if (room.kind === "campaign") return true;
  return viewer !== null && (viewer.id === room.userId || viewer.role === "admin");
}

/** Whether a signed-in user may post: anyone in a campaign room, the owner and admins in a support room. */
export function canPost(room: Room, poster: Viewer): boolean {
  return canRead(room, poster);
}
