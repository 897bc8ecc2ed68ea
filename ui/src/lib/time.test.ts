import { describe, expect, it } from "vitest";
import { formatAgo, formatCountdown, formatDuration, formatSpan } from "./time";

describe("formatCountdown", () => {
  it("ticks as minutes and seconds within the hour", () => {
    expect(formatCountdown(3599)).toBe("59:59");
    expect(formatCountdown(245)).toBe("4:05");
    expect(formatCountdown(59.9)).toBe("0:59");
    expect(formatCountdown(1)).toBe("0:01");
  });

  it("shows hours and days for longer spans", () => {
    expect(formatCountdown(3600)).toBe("1 h 00 min");
    expect(formatCountdown(3600 + 2 * 60 + 59)).toBe("1 h 02 min");
    expect(formatCountdown(86_400 * 2 + 3 * 3600 + 5)).toBe("2 d 3 h");
  });

  it("says expired at zero and after", () => {
    expect(formatCountdown(0)).toBe("expired");
    expect(formatCountdown(0.5)).toBe("expired");
    expect(formatCountdown(-30)).toBe("expired");
  });
});

describe("formatSpan and formatDuration", () => {
  it("reads naturally", () => {
    expect(formatSpan(30)).toBe("30 s");
    expect(formatSpan(90)).toBe("1 min 30 s");
    expect(formatSpan(600)).toBe("10 min");
    expect(formatSpan(3900)).toBe("1 h 5 min");
    expect(formatSpan(7200)).toBe("2 h");
    expect(formatSpan(86_400 * 3)).toBe("3 d");
    expect(formatDuration(30)).toBe("in 30 s");
    expect(formatSpan(-5)).toBe("0 s");
  });
});

describe("formatAgo", () => {
  it("counts up from just now", () => {
    expect(formatAgo(1000, 1005)).toBe("just now");
    expect(formatAgo(1000, 1042)).toBe("42 s ago");
    expect(formatAgo(1000, 1000 + 5 * 60 + 10)).toBe("5 min ago");
    expect(formatAgo(1000, 1000 + 3 * 3600)).toBe("3 h ago");
    expect(formatAgo(1000, 1000 + 2 * 86_400)).toBe("2 d ago");
  });
});
