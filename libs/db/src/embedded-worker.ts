// The worker side of createEmbeddedDatabaseThread: the embedded database, served from this thread.

import { createEmbeddedDatabase, type EmbeddedDatabase, type EmbeddedDatabaseOptions } from "./embedded";

declare const self: Worker;

type Request = { type: "open"; options: EmbeddedDatabaseOptions } | { type: "close" };

let database: EmbeddedDatabase | undefined;

self.onmessage = async (event: MessageEvent<Request>) => {
  const request = event.data;
  try {
    if (request.type === "open") {
      database = await createEmbeddedDatabase({
        ...request.options,
        onConnectionError: (err) => self.postMessage({ type: "connection-error", message: describe(err) }),
      });
      self.postMessage({ type: "opened", url: database.url });
    } else {
      await database?.close();
      self.postMessage({ type: "closed" });
    }
  } catch (err) {
    self.postMessage({ type: "failed", message: describe(err) });
  }
};

const describe = (err: unknown) => (err instanceof Error ? err.message : String(err));
