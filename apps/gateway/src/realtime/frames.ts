// Reading one client frame: whatever arrives (text Elysia could or could not parse as JSON, or
// binary) becomes either a valid op or the error frame that answers it. Compiled TypeBox checkers,
// built once; the op decides which schema applies, so an error names the field that is wrong.
import type { TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { RealtimeModel } from "./model";

type Check<T> = {
  Check(value: unknown): value is T;
  Errors(value: unknown): Iterable<{ path: string; message: string }>;
};
const compile = <T extends TSchema>(schema: T) => TypeCompiler.Compile(schema);

const checks = {
  followCampaign: compile(RealtimeModel.FollowCampaign),
  followPledge: compile(RealtimeModel.FollowPledge),
  unfollowCampaign: compile(RealtimeModel.UnfollowCampaign),
  unfollowPledge: compile(RealtimeModel.UnfollowPledge),
  join: compile(RealtimeModel.Join),
  leave: compile(RealtimeModel.Leave),
  say: compile(RealtimeModel.Say),
  ping: compile(RealtimeModel.Ping),
};

export const OPS = ["follow", "unfollow", "join", "leave", "say", "ping"] as const;
export type Op = (typeof OPS)[number];

export type FrameReading =
  | { ok: true; frame: RealtimeModel.ClientFrame }
  | { ok: false; op: Op | null; code: RealtimeModel.ErrorCode; message: string };

function refuse(op: Op | null, code: RealtimeModel.ErrorCode, message: string): FrameReading {
  return { ok: false, op, code, message };
}

function checked<T extends RealtimeModel.ClientFrame>(op: Op, check: Check<T>, value: object): FrameReading {
  if (check.Check(value)) return { ok: true, frame: value };
  const first = check.Errors(value)[Symbol.iterator]().next().value;
  const where = first?.path ? first.path.slice(1) : "frame";
  return refuse(op, "invalid_frame", `${op}: ${where}: ${first?.message ?? "invalid"}`);
}

/** 1..2000 code points ("দান" is 3 characters, an emoji 1), stopping as soon as the answer is known. */
function textFits(text: string): boolean {
  if (text.length === 0) return false;
  if (text.length <= RealtimeModel.TEXT_MAX_CHARACTERS) return true;
  let n = 0;
  for (const _ of text) if (++n > RealtimeModel.TEXT_MAX_CHARACTERS) return false;
  return true;
}

/** Elysia hands over text it parsed as JSON (an object, array, number…), text it could not, or bytes. */
export function readFrame(message: unknown): FrameReading {
  let value = message;
  if (value instanceof Uint8Array) {
    try {
      value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(value));
    } catch {
      return refuse(null, "invalid_json", "A frame must be one JSON object (UTF-8 text)");
    }
  } else if (typeof value === "string") {
    // Elysia parses JSON-looking text; a string left here did not parse.
    return refuse(null, "invalid_json", "A frame must be one JSON object");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value))
    return refuse(null, "invalid_frame", "A frame must be a JSON object with an `op`");
  const op = (value as { op?: unknown }).op;
  if (op === undefined) return refuse(null, "invalid_frame", "The frame has no `op`");
  if (typeof op !== "string" || !(OPS as readonly string[]).includes(op))
    return refuse(
      null,
      "unknown_op",
      `Unknown op ${JSON.stringify(op).slice(0, 40)}; expected one of ${OPS.join(", ")}`,
    );
  switch (op as Op) {
    case "follow":
      return "pledgeId" in value
        ? checked("follow", checks.followPledge, value)
        : checked("follow", checks.followCampaign, value);
    case "unfollow":
      return "pledgeId" in value
        ? checked("unfollow", checks.unfollowPledge, value)
        : checked("unfollow", checks.unfollowCampaign, value);
    case "join":
      return checked("join", checks.join, value);
    case "leave":
      return checked("leave", checks.leave, value);
    case "say": {
      const reading = checked("say", checks.say, value);
      if (reading.ok && !textFits((value as RealtimeModel.Say).text))
        return refuse("say", "invalid_text", `\`text\` must be 1 to ${RealtimeModel.TEXT_MAX_CHARACTERS} characters`);
      return reading;
    }
    case "ping":
      return checked("ping", checks.ping, value);
  }
}
