import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "../../..");
export const binDir = process.env.O365_AUTH_BIN_DIR ?? path.join(repoRoot, "target/debug");
export const artifactsDir = process.env.O365_AUTH_ARTIFACTS ?? path.join(repoRoot, "artifacts");
export const screenshotsDir = path.join(artifactsDir, "screenshots");

export function bin(name: string): string {
  return path.join(binDir, name);
}
