import { defineConfig } from "@playwright/test";
import { artifactsDir } from "./support/paths";

// Debian's Chromium: browsers cannot be downloaded on these machines. The flags keep Chromium
// from reaching for Google's hosts on a closed network.
export default defineConfig({
  testDir: "specs",
  // One at a time: the app smoke test owns the session bus's tray watcher name.
  workers: 1,
  fullyParallel: false,
  timeout: 90_000,
  expect: { timeout: 15_000 },
  outputDir: `${artifactsDir}/playwright`,
  reporter: [["list"], ["junit", { outputFile: process.env.PLAYWRIGHT_JUNIT_OUTPUT_NAME ?? `${artifactsDir}/junit/e2e.xml` }]],
  use: {
    browserName: "chromium",
    headless: true,
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
    trace: "retain-on-failure",
  },
});
