// Server-sent events read by hand: EventSource cannot send the Authorization header the
// daemon requires, so the stream arrives through fetch in chunks that may split a line, or
// a UTF-8 character, anywhere. Follows the WHATWG event-stream rules for `data` and comments;
// `event`, `id` and `retry` are not used by the daemon and are ignored.

export class SseParser {
  #decoder = new TextDecoder();
  #buffer = "";
  #data: string[] = [];
  // A chunk ending in CR may be the first half of CRLF; the LF that follows is not a new line.
  #skipLeadingLf = false;

  constructor(private readonly onMessage: (data: string) => void) {}

  push(chunk: Uint8Array): void {
    this.#feed(this.#decoder.decode(chunk, { stream: true }));
  }

  #feed(text: string): void {
    if (this.#skipLeadingLf && text.startsWith("\n")) text = text.slice(1);
    this.#skipLeadingLf = false;
    this.#buffer += text;
    for (;;) {
      const end = this.#buffer.search(/[\r\n]/);
      if (end < 0) return;
      const line = this.#buffer.slice(0, end);
      let rest = this.#buffer.slice(end + 1);
      if (this.#buffer[end] === "\r") {
        if (rest.startsWith("\n")) rest = rest.slice(1);
        else if (rest === "") this.#skipLeadingLf = true;
      }
      this.#buffer = rest;
      this.#line(line);
    }
  }

  #line(line: string): void {
    if (line === "") {
      if (this.#data.length > 0) this.onMessage(this.#data.join("\n"));
      this.#data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.#data.push(value);
  }
}
