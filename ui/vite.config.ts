import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// While developing in a browser, O365_AUTH_API=http://127.0.0.1:PORT (a running
// `o365-auth daemon --http`) sends the API through the dev server, so the page keeps one
// origin as it has when the daemon serves it. The daemon checks Origin against its own.
const api = process.env.O365_AUTH_API;
const proxy = api ? { target: api, changeOrigin: true, headers: { origin: api } } : undefined;

// Tauri loads the built files from ui/dist; a fixed dev port lets `tauri dev` find the server.
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  server: { port: 5173, strictPort: true, proxy: proxy ? { "/rpc": proxy, "/events": proxy } : undefined },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
  },
  resolve: process.env.VITEST ? { conditions: ["browser"] } : undefined,
});
