// Preload for the web app's component tests ONLY (apps/web/test/dom, run in their own `bun test`
// process: see scripts/test.ts): a DOM (happy-dom) as globals, Solid's browser builds instead of its
// server ones, and Solid's JSX compiler for .tsx. None of it may reach the platform's tests, whose
// fetch, WebSocket and timers must stay Bun's, hence the separate process.
import { dirname, join } from "node:path";
import { transformAsync } from "@babel/core";
import presetTypescript from "@babel/preset-typescript";
import { GlobalRegistrator } from "@happy-dom/global-registrator";
import presetSolid from "babel-preset-solid";
import { plugin } from "bun";

GlobalRegistrator.register({ url: "http://localhost:3000/", width: 1280, height: 800 });

const solidDir = dirname(Bun.resolveSync("solid-js/package.json", import.meta.dir));
const BROWSER: Record<string, string> = {
  "solid-js": join(solidDir, "dist", "solid.js"),
  "solid-js/web": join(solidDir, "web", "dist", "web.js"),
  "solid-js/store": join(solidDir, "store", "dist", "store.js"),
};

plugin({
  name: "solid-for-happy-dom",
  setup(build) {
    build.onResolve({ filter: /^solid-js(\/web|\/store)?$/ }, (args) => ({ path: BROWSER[args.path] as string }));
    build.onLoad({ filter: /\.tsx$/ }, async (args) => {
      const source = await Bun.file(args.path).text();
      const out = await transformAsync(source, {
        filename: args.path,
        babelrc: false,
        configFile: false,
        presets: [
          [presetSolid, { generate: "dom", hydratable: false }],
          [presetTypescript, {}],
        ],
      });
      return { contents: out?.code ?? "", loader: "js" };
    });
  },
});
