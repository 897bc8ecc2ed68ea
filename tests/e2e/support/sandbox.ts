import { bin } from "./paths";
import { start, type Spawned } from "./processes";

/** What `o365-auth sandbox --json` prints. */
export interface SandboxStatus {
  running: boolean;
  baseUrl: string;
  discoveryUrl: string;
  demoUsername: string;
  demoPassword: string;
  demoClientId: string;
  tenantId: string;
}

/** Runs the sandbox through the real CLI on a free port. */
export async function startSandbox(): Promise<{ status: SandboxStatus; process: Spawned }> {
  const process = start(bin("o365-auth"), ["sandbox", "--port", "0", "--json"]);
  const [line] = await process.waitFor(/^\{.*"running":true.*\}$/m);
  return { status: JSON.parse(line) as SandboxStatus, process };
}
