/**
 * Per-user window state: for each event type, the non-empty buckets of the last 24 hours.
 *
 * A series is a flat number array `[stride, t0, count0, sum0_0, …, t1, count1, …]` sorted by
 * time, with `stride = 2 + nSums`. `t` is `2 * secondsSinceEpochBase + isMinute`: a second
 * bucket holds the events of one second, a minute bucket those of one minute (its start
 * second). Seconds are relative to EPOCH_BASE_S so values stay small integers in V8.
 *
 * Semantics, a pure function of the events and `now` (whole seconds), whatever compaction did:
 * an event at second e is in window W (minutes) at now iff e <= now and
 *   - age = now - e < SECOND_PRECISION_S: e > now - 60W              (exact to the second)
 *   - otherwise:                    minuteEnd(e) > now - 60W         (exact to the minute)
 * Windows of up to 60 minutes never reach the minute region, so they are exact to the second.
 * Pure: no I/O, time is a parameter.
 */

/** A minute-aligned base (2023-11-14T22:13:00Z), so relative minute buckets are real minutes. */
export const EPOCH_BASE_S = 1_699_999_980;
/** Second buckets are kept for 61 minutes, then merged into minute buckets. */
export const SECOND_PRECISION_S = 61 * 60;
export const HORIZON_S = 1440 * 60;

export type Series = number[];

const HEADER = 1;

export const relSecond = (epochMs: number) => Math.floor(epochMs / 1000) - EPOCH_BASE_S;
export const toEpochMs = (rel: number) => (rel + EPOCH_BASE_S) * 1000;

const encode = (sec: number, minute: boolean) => sec * 2 + (minute ? 1 : 0);
const secOf = (t: number) => Math.floor(t / 2);
const isMinute = (t: number) => (t & 1) === 1;
const minuteStart = (sec: number) => Math.floor(sec / 60) * 60;

/** The second a bucket counts as for window inclusion at `now`. */
function effectiveEnd(t: number, now: number): number {
  const sec = secOf(t);
  if (isMinute(t) || now - sec >= SECOND_PRECISION_S) return minuteStart(sec) + 59;
  return sec;
}

/** True when a bucket at `t` is inside a window of `windowMinutes` at `now`. */
export function inWindow(t: number, now: number, windowMinutes: number): boolean {
  const sec = secOf(t);
  return sec <= now && effectiveEnd(t, now) > now - windowMinutes * 60;
}

/** The first instant (relative second) at which the bucket is no longer in the window. */
export function departureTime(t: number, windowMinutes: number): number {
  const sec = secOf(t);
  if (!isMinute(t) && windowMinutes * 60 < SECOND_PRECISION_S) return sec + windowMinutes * 60;
  return minuteStart(sec) + 59 + windowMinutes * 60;
}

export function newSeries(nSums: number): Series {
  return [2 + nSums];
}

export const strideOf = (s: Series) => s[0]!;
export const bucketCount = (s: Series) => (s.length - HEADER) / strideOf(s);

/** Widens a series to `nSums` sums (a field newly tracked counts 0 for older buckets). */
export function widen(s: Series, nSums: number): Series {
  const stride = strideOf(s);
  if (stride >= 2 + nSums) return s;
  const next: Series = [2 + nSums];
  for (let i = HEADER; i < s.length; i += stride) {
    for (let k = 0; k < stride; k++) next.push(s[i + k]!);
    for (let k = stride; k < 2 + nSums; k++) next.push(0);
  }
  return next;
}

/**
 * Adds one event at relative second `sec` with its summed field values (one per tracked field).
 * Returns the (possibly new) series array. Events usually arrive in order, so the scan is from
 * the end.
 */
export function addEvent(s: Series, sec: number, sums: readonly number[], now: number): Series {
  if (strideOf(s) < 2 + sums.length) s = widen(s, sums.length);
  const stride = strideOf(s);
  const old = now - sec >= SECOND_PRECISION_S;
  const t = old ? encode(minuteStart(sec), true) : encode(sec, false);
  let i = s.length - stride;
  while (i >= HEADER && s[i]! > t) i -= stride;
  if (i >= HEADER && s[i] === t) {
    s[i + 1]! += 1;
    for (let k = 0; k < sums.length; k++) s[i + 2 + k]! += sums[k]!;
    return s;
  }
  const record = new Array<number>(stride).fill(0);
  record[0] = t;
  record[1] = 1;
  for (let k = 0; k < sums.length; k++) record[2 + k] = sums[k]!;
  s.splice(i + stride, 0, ...record);
  return s;
}

/**
 * Drops buckets out of every window and merges second buckets older than SECOND_PRECISION_S
 * into minute buckets. Changes no aggregate at or after `now`.
 */
export function compact(s: Series, now: number): Series {
  const stride = strideOf(s);
  const out: Series = [stride];
  for (let i = HEADER; i < s.length; i += stride) {
    const t = s[i]!;
    if (effectiveEnd(t, now) <= now - HORIZON_S) continue;
    let key = t;
    if (!isMinute(t) && now - secOf(t) >= SECOND_PRECISION_S) key = encode(minuteStart(secOf(t)), true);
    const last = out.length - stride;
    if (last >= HEADER && out[last] === key) {
      for (let k = 1; k < stride; k++) out[last + k]! += s[i + k]!;
    } else {
      out.push(key);
      for (let k = 1; k < stride; k++) out.push(s[i + k]!);
    }
  }
  return out;
}

/** The oldest bucket's effective end would leave the horizon: worth compacting. */
export function needsCompaction(s: Series, now: number): boolean {
  if (s.length <= HEADER) return false;
  const t = s[HEADER]!;
  return effectiveEnd(t, now) <= now - HORIZON_S || (!isMinute(t) && now - secOf(t) >= SECOND_PRECISION_S);
}

/**
 * Aggregates of one measure for several windows at `now`, in one pass from the newest bucket.
 * `measure` is -1 for the count, k for the k-th summed field. `windows` must be ascending;
 * `out[i]` receives the aggregate for `windows[i]`.
 */
export function aggregate(s: Series | undefined, measure: number, windows: readonly number[], now: number, out: number[]): void {
  for (let w = 0; w < windows.length; w++) out[w] = 0;
  if (!s) return;
  const stride = strideOf(s);
  const col = measure < 0 ? 1 : 2 + measure;
  let acc = 0;
  let w = 0;
  for (let i = s.length - stride; i >= HEADER && w < windows.length; i -= stride) {
    const t = s[i]!;
    if (secOf(t) > now) continue; // a future event: not yet in any window
    while (w < windows.length && !inWindow(t, now, windows[w]!)) out[w++] = acc;
    if (w >= windows.length) break;
    acc += col < stride ? s[i + col]! : 0;
  }
  while (w < windows.length) out[w++] = acc;
}

/** Visits the buckets of a series that are in `windowMinutes` at `now`, oldest first. */
export function forEachInWindow(
  s: Series | undefined,
  windowMinutes: number,
  now: number,
  visit: (t: number, value: (measure: number) => number) => boolean | void,
): void {
  if (!s) return;
  const stride = strideOf(s);
  for (let i = HEADER; i < s.length; i += stride) {
    const t = s[i]!;
    if (!inWindow(t, now, windowMinutes)) continue;
    const base = i;
    const stop = visit(t, (m) => {
      const col = m < 0 ? 1 : 2 + m;
      return col < stride ? s[base + col]! : 0;
    });
    if (stop === true) return;
  }
}

/** Earliest future event (relative second) in the series after `now`, or Infinity. */
export function nextArrival(s: Series | undefined, now: number): number {
  if (!s) return Infinity;
  const stride = strideOf(s);
  for (let i = s.length - stride; i >= HEADER; i -= stride) {
    if (secOf(s[i]!) <= now) {
      const next = i + stride;
      return next < s.length ? secOf(s[next]!) : Infinity;
    }
  }
  return s.length > HEADER ? secOf(s[HEADER]!) : Infinity;
}
