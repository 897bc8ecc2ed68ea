// Times as a person reads them. Everything takes seconds (the wire's unit) so callers never
// mix milliseconds in.

const pad = (value: number): string => String(value).padStart(2, "0");

/** Time left, as a ticking countdown: "4:05", "1 h 02 min", "2 d 3 h"; "expired" at zero. */
export function formatCountdown(secondsLeft: number): string {
  const total = Math.floor(secondsLeft);
  if (total <= 0) return "expired";
  if (total < 3600) return `${Math.floor(total / 60)}:${pad(total % 60)}`;
  if (total < 86_400) return `${Math.floor(total / 3600)} h ${pad(Math.floor((total % 3600) / 60))} min`;
  return `${Math.floor(total / 86_400)} d ${Math.floor((total % 86_400) / 3600)} h`;
}

/** How long, in words: "30 s", "2 min", "1 h 5 min", "3 d". */
export function formatSpan(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  if (total < 60) return `${total} s`;
  if (total < 3600) {
    const minutes = Math.floor(total / 60);
    const rest = total % 60;
    return rest && minutes < 5 ? `${minutes} min ${rest} s` : `${minutes} min`;
  }
  if (total < 86_400) {
    const minutes = Math.floor((total % 3600) / 60);
    return minutes ? `${Math.floor(total / 3600)} h ${minutes} min` : `${Math.floor(total / 3600)} h`;
  }
  return `${Math.floor(total / 86_400)} d`;
}

/** When something will happen: "in 30 s". */
export function formatDuration(seconds: number): string {
  return `in ${formatSpan(seconds)}`;
}

/** How long ago: "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function formatAgo(thenS: number, nowS: number): string {
  const elapsed = Math.floor(nowS - thenS);
  if (elapsed < 10) return "just now";
  if (elapsed < 60) return `${elapsed} s ago`;
  if (elapsed < 3600) return `${Math.floor(elapsed / 60)} min ago`;
  if (elapsed < 86_400) return `${Math.floor(elapsed / 3600)} h ago`;
  return `${Math.floor(elapsed / 86_400)} d ago`;
}

/** A moment as the person's locale writes it. */
export function formatWhen(unixS: number): string {
  return new Date(unixS * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function nowS(): number {
  return Date.now() / 1000;
}
