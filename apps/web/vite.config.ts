// Vite for the web app: Solid's compiler, hashed assets under /assets (served immutable by the
// gateway), and in development /api and /api/ws forwarded to a running gateway (GATEWAY_URL).
import { defineConfig } from "vite";
import solid from "vite-plugin-solid";

const gateway = process.env.GATEWAY_URL ?? "http://127.0.0.1:3000";

export default defineConfig({
  plugins: [solid()],
  // The manifest lets the budget check (tests/web/budget.test.ts) find the donor pages' chunks.
  build: { target: "es2022", outDir: "dist", emptyOutDir: true, assetsDir: "assets", sourcemap: false, manifest: true },
  server: {
    port: Number(process.env.WEB_PORT ?? 5173),
    strictPort: true,
    proxy: { "/api": { target: gateway, changeOrigin: false, ws: true } },
  },
});
