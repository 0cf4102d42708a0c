// The entry: one API client, one WebSocket and one receipt store for the tab, then the app.
import { render } from "solid-js/web";
import { browserApi } from "./api/client";
import { App } from "./app";
import { type AppServices, Services } from "./context";
import { createReceipts } from "./lib/receipts";
import { browserStorage } from "./lib/storage";
import { createRealtime } from "./realtime/socket";
import "./styles.css";

const api = browserApi();
const realtime = createRealtime({
  url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/ws`,
  token: () => api.session.accessToken(),
});
// A signed-in socket carries the user's own pushes; signing in or out reconnects it as the new user.
api.session.onChange(() => realtime.reconnectNow());

const services: AppServices = {
  api,
  realtime,
  receipts: createReceipts(browserStorage()),
  newKey: () => crypto.randomUUID(),
};

const root = document.getElementById("root");
if (root)
  render(
    () => (
      <Services.Provider value={services}>
        <App />
      </Services.Provider>
    ),
    root,
  );
