// A JSON-RPC 2.0 client over the token service's Unix socket (docs/ipc.md), as scripts use it.
import net from "node:net";

export class IpcClient {
  private buffer = "";
  private nextId = 0;
  private waiting = new Map<number, (answer: Record<string, unknown>) => void>();

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.buffer += chunk;
      let newline: number;
      while ((newline = this.buffer.indexOf("\n")) >= 0) {
        const line = this.buffer.slice(0, newline);
        this.buffer = this.buffer.slice(newline + 1);
        const answer = JSON.parse(line) as Record<string, unknown>;
        const resolve = this.waiting.get(Number(answer.id));
        this.waiting.delete(Number(answer.id));
        resolve?.(answer);
      }
    });
  }

  static connect(path: string): Promise<IpcClient> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(path);
      socket.once("connect", () => resolve(new IpcClient(socket)));
      socket.once("error", reject);
    });
  }

  /** The whole JSON-RPC answer. */
  call(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.socket.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`);
    });
  }

  /** The result, or a thrown error with the service's message and code. */
  async ok<T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const answer = await this.call(method, params);
    if (answer.error) throw new Error(`${method}: ${JSON.stringify(answer.error)}`);
    return answer.result as T;
  }

  close(): void {
    this.socket.end();
  }
}
