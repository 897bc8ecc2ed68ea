import { describe, expect, it } from "vitest";
import { SseParser } from "./sse";

function collect(): { parser: SseParser; messages: string[] } {
  const messages: string[] = [];
  return { parser: new SseParser((data) => messages.push(data)), messages };
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe("SseParser", () => {
  it("reads data lines, skips comments (keep-alives) and fields it does not use", () => {
    const { parser, messages } = collect();
    parser.push(bytes(': keep-alive\n\nevent: x\nid: 3\ndata: {"event":"subscribed"}\n\n'));
    expect(messages).toEqual(['{"event":"subscribed"}']);
  });

  it("joins an event split across chunks anywhere, even inside a line and a CRLF", () => {
    const { parser, messages } = collect();
    const stream = 'data: {"event":"refreshed",\r\ndata: "account":"a/b"}\r\n\r\ndata:{"event":"lagged"}\n\n';
    for (let cut = 1; cut < stream.length; cut++) {
      messages.length = 0;
      const split = new SseParser((data) => messages.push(data));
      split.push(bytes(stream.slice(0, cut)));
      split.push(bytes(stream.slice(cut)));
      expect(messages, `cut at ${cut}`).toEqual(['{"event":"refreshed",\n"account":"a/b"}', '{"event":"lagged"}']);
    }
    parser.push(bytes("data: x\r"));
    parser.push(bytes("\n\r\n"));
    expect(messages.at(-1)).toBe("x");
  });

  it("decodes a UTF-8 character split between chunks", () => {
    const { parser, messages } = collect();
    const encoded = bytes('data: {"account":"zoë"}\n\n');
    const at = encoded.indexOf(0xc3) + 1;
    parser.push(encoded.slice(0, at));
    parser.push(encoded.slice(at));
    expect(messages).toEqual(['{"account":"zoë"}']);
  });

  it("waits for the blank line before dispatching", () => {
    const { parser, messages } = collect();
    parser.push(bytes('data: {"event":"a"}\n'));
    expect(messages).toEqual([]);
    parser.push(bytes("\n"));
    expect(messages).toHaveLength(1);
  });
});
