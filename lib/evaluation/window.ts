/**
 * Per-user window state: for each event type, the non-empty buckets of the last 24 hours.
 *
 * A series is a flat number array `[stride, key0, sum0_0, …, key1, sum1_0, …]` sorted by time,
 * with `stride = 1 + nSums`. A bucket's `key = t * COUNT_SPAN + count` packs its time and its
 * event count in one number (exact: |key| < 2^53), so a bucket costs 8 bytes less.
 * `t` is `2 * secondsSinceEpochBase + isMinute`: a second bucket holds the events of one second,
 * a minute bucket those of one minute (its start second). Seconds are relative to EPOCH_BASE_S.
 * A bucket whose count would reach COUNT_SPAN continues in a further bucket with the same `t`.
 * A series only has the sum columns it needs: columns past the last non-zero sum it has seen are
 * left out (they read as 0), so a type whose events carry no numeric attribute costs 8 bytes per
 * bucket. Snapshots use the unpacked layout `[2 + nSums, t, count, sums…]` (see `toSnapshot`).
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
/** Counts per bucket stay below this; `t` up to ±2^31 keeps keys exact. */
export const COUNT_SPAN = 2 ** 21;
const MAX_COUNT = COUNT_SPAN - 1;

export type Series = number[];

/** Elements before the first bucket (the stride). */
export const HEADER = 1;
/** Header elements of the snapshot layout. */
const SNAPSHOT_HEADER = 1;

export const relSecond = (epochMs: number) => Math.floor(epochMs / 1000) - EPOCH_BASE_S;
export const toEpochMs = (rel: number) => (rel + EPOCH_BASE_S) * 1000;

const encode = (sec: number, minute: boolean) => sec * 2 + (minute ? 1 : 0);
const secOf = (t: number) => Math.floor(t / 2);
const isMinute = (t: number) => (t & 1) === 1;
const minuteStart = (sec: number) => Math.floor(sec / 60) * 60;

/** A bucket key's time code `t`. */
export const keyT = (key: number) => Math.floor(key / COUNT_SPAN);
/** A bucket key's event count. */
export const keyCount = (key: number) => key - Math.floor(key / COUNT_SPAN) * COUNT_SPAN;
/** A bucket key's second. */
export const keySec = (key: number) => Math.floor(key / (2 * COUNT_SPAN));

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

/** An empty series; `addEvent` adds the sum columns its events need. */
export function newSeries(): Series {
  return [1];
}

export const strideOf = (s: Series) => s[0]!;
export const bucketCount = (s: Series) => (s.length - HEADER) / strideOf(s);

/** Widens a series to `nSums` sums (a field newly tracked counts 0 for older buckets). */
export function widen(s: Series, nSums: number): Series {
  const stride = strideOf(s);
  if (stride >= 1 + nSums) return s;
  const next: Series = [1 + nSums];
  for (let i = HEADER; i < s.length; i += stride) {
    for (let k = 0; k < stride; k++) next.push(s[i + k]!);
    for (let k = stride; k < 1 + nSums; k++) next.push(0);
  }
  return next.slice();
}

/** Series up to this many elements are kept at their exact length (no spare capacity). */
const EXACT_MAX = 64;

/**
 * Where the last `addEvent` put its event: the index of the bucket, and whether that bucket was
 * inserted (buckets from that index on moved up one stride) or an existing one was incremented.
 * `widened`: the series was rebuilt with more columns (every index changed).
 */
export const lastAdd = { index: 0, inserted: false, widened: false };

/**
 * Adds one event at relative second `sec` with its summed field values (one per tracked field;
 * `nSums` of them, default all of `sums`). Returns the (possibly new) series array. Events
 * usually arrive in order, so the scan is from the end. Small series are reallocated at their
 * exact size, so an average user's state carries no spare capacity. The series is widened only
 * up to the last non-zero sum (missing columns read as 0).
 */
export function addEvent(s: Series, sec: number, sums: readonly number[], now: number, nSums: number = sums.length): Series {
  let need = nSums;
  while (need > 0 && sums[need - 1] === 0) need--;
  lastAdd.widened = false;
  if (strideOf(s) < 1 + need) {
    s = widen(s, need);
    lastAdd.widened = true;
  }
  const stride = strideOf(s);
  if (nSums > stride - 1) nSums = stride - 1; // the rest are zeros
  const old = now - sec >= SECOND_PRECISION_S;
  const t = old ? encode(minuteStart(sec), true) : encode(sec, false);
  const lowest = t * COUNT_SPAN; // keys of this t are lowest … lowest + MAX_COUNT
  let i = s.length - stride;
  while (i >= HEADER && s[i]! > lowest + MAX_COUNT) i -= stride;
  if (i >= HEADER && s[i]! >= lowest && s[i]! < lowest + MAX_COUNT) {
    s[i]! += 1;
    for (let k = 0; k < nSums; k++) s[i + 1 + k]! += sums[k]!;
    lastAdd.index = i;
    lastAdd.inserted = false;
    return s;
  }
  const at = i + stride;
  const len = s.length;
  lastAdd.index = at;
  lastAdd.inserted = true;
  if (len + stride <= EXACT_MAX) {
    const out: Series = new Array<number>(len + stride);
    for (let k = 0; k < at; k++) out[k] = s[k]!;
    out[at] = lowest + 1;
    for (let k = 1; k < stride; k++) out[at + k] = k - 1 < nSums ? sums[k - 1]! : 0;
    for (let k = at; k < len; k++) out[k + stride] = s[k]!;
    return out;
  }
  const record = new Array<number>(stride).fill(0);
  record[0] = lowest + 1;
  for (let k = 0; k < nSums; k++) record[1 + k] = sums[k]!;
  if (at === len) s.push(...record);
  else s.splice(at, 0, ...record);
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
    const key = s[i]!;
    const t = keyT(key);
    if (effectiveEnd(t, now) <= now - HORIZON_S) continue;
    let to = t;
    if (!isMinute(t) && now - secOf(t) >= SECOND_PRECISION_S) to = encode(minuteStart(secOf(t)), true);
    const count = key - t * COUNT_SPAN;
    const last = out.length - stride;
    if (last >= HEADER && keyT(out[last]!) === to && keyCount(out[last]!) + count <= MAX_COUNT) {
      out[last]! += count;
      for (let k = 1; k < stride; k++) out[last + k]! += s[i + k]!;
    } else {
      out.push(to * COUNT_SPAN + count);
      for (let k = 1; k < stride; k++) out.push(s[i + k]!);
    }
  }
  // A copy has no spare capacity: most series are small and live long after their last change.
  return out.length <= EXACT_MAX ? out.slice() : out;
}

/** The oldest bucket's effective end would leave the horizon: worth compacting. */
export function needsCompaction(s: Series, now: number): boolean {
  if (s.length <= HEADER) return false;
  const t = keyT(s[HEADER]!);
  return effectiveEnd(t, now) <= now - HORIZON_S || (!isMinute(t) && now - secOf(t) >= SECOND_PRECISION_S);
}

/**
 * The first instant at which `needsCompaction(s, now)` holds (Infinity: an empty series): when
 * the oldest bucket, a second bucket, is to be merged into its minute, or, a minute bucket,
 * leaves the horizon.
 */
export function compactionTime(s: Series): number {
  if (s.length <= HEADER) return Infinity;
  const t = keyT(s[HEADER]!);
  const sec = secOf(t);
  return isMinute(t) ? minuteStart(sec) + 59 + HORIZON_S : sec + SECOND_PRECISION_S;
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
  const col = 1 + measure;
  let acc = 0;
  let w = 0;
  for (let i = s.length - stride; i >= HEADER && w < windows.length; i -= stride) {
    const t = keyT(s[i]!);
    if (secOf(t) > now) continue; // a future event: not yet in any window
    while (w < windows.length && !inWindow(t, now, windows[w]!)) out[w++] = acc;
    if (w >= windows.length) break;
    acc += measure < 0 ? s[i]! - t * COUNT_SPAN : col < stride ? s[i + col]! : 0;
  }
  while (w < windows.length) out[w++] = acc;
}

/**
 * `aggregate` into a flat array at `offset`, also recording in `bounds[offset + w]` the index of
 * the oldest bucket inside `windows[w]` (-1: the window holds no bucket). Buckets in a window are
 * contiguous, from that index up to the newest bucket not in the future.
 */
export function aggregateInto(
  s: Series | undefined,
  measure: number,
  windows: readonly number[],
  now: number,
  out: Float64Array,
  bounds: Int32Array,
  offset: number,
): void {
  const n = windows.length;
  if (!s || s.length <= HEADER) {
    for (let w = 0; w < n; w++) {
      out[offset + w] = 0;
      bounds[offset + w] = -1;
    }
    return;
  }
  const stride = s[0]!;
  const col = 1 + measure;
  const hasCol = col < stride;
  let i = s.length - stride;
  while (i >= HEADER && keySec(s[i]!) > now) i -= stride; // future events: in no window yet
  const newest = i;
  let acc = 0;
  let w = 0;
  for (; i >= HEADER; i -= stride) {
    const key = s[i]!;
    const t = keyT(key);
    const end = effectiveEnd(t, now);
    while (w < n && end <= now - windows[w]! * 60) {
      out[offset + w] = acc;
      bounds[offset + w] = i < newest ? i + stride : -1;
      w++;
    }
    if (w >= n) break;
    if (measure < 0) acc += key - t * COUNT_SPAN;
    else if (hasCol) acc += s[i + col]!;
  }
  if (w < n) {
    const first = newest >= HEADER ? HEADER : -1;
    for (; w < n; w++) {
      out[offset + w] = acc;
      bounds[offset + w] = first;
    }
  }
}

/** The value of `measure` (-1: the count) of the bucket at index `i`. */
export function bucketValue(s: Series, i: number, measure: number): number {
  if (measure < 0) return keyCount(s[i]!);
  return 1 + measure < s[0]! ? s[i + 1 + measure]! : 0;
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
    const t = keyT(s[i]!);
    if (!inWindow(t, now, windowMinutes)) continue;
    const base = i;
    const stop = visit(t, (m) => bucketValue(s, base, m));
    if (stop === true) return;
  }
}

/** Earliest future event (relative second) in the series after `now`, or Infinity. */
export function nextArrival(s: Series | undefined, now: number): number {
  if (!s) return Infinity;
  const stride = strideOf(s);
  for (let i = s.length - stride; i >= HEADER; i -= stride) {
    if (keySec(s[i]!) <= now) {
      const next = i + stride;
      return next < s.length ? keySec(s[next]!) : Infinity;
    }
  }
  return s.length > HEADER ? keySec(s[HEADER]!) : Infinity;
}

/** The snapshot layout of a series: `[2 + nSums, t, count, sums…]` per bucket (no due instant). */
export function toSnapshot(s: Series): number[] {
  const stride = strideOf(s);
  const out: number[] = [stride + 1];
  for (let i = HEADER; i < s.length; i += stride) {
    const key = s[i]!;
    out.push(keyT(key), keyCount(key));
    for (let k = 1; k < stride; k++) out.push(s[i + k]!);
  }
  return out;
}

/**
 * A series from its snapshot layout, with the sum columns in a new order: `columns[k]` is the
 * snapshot column of the k-th current field (-1: not in the snapshot, counts 0); null keeps the
 * snapshot's columns.
 */
export function fromSnapshot(x: number[], columns: number[] | null): Series {
  const oldStride = x[0]!;
  const source = (k: number) => (columns ? columns[k]! : k);
  let nSums = columns ? columns.length : oldStride - 2;
  // Columns that are zero in every bucket are left out, as `addEvent` would have.
  const nonZero = (k: number) => {
    const col = source(k);
    if (col < 0 || 2 + col >= oldStride) return false;
    for (let i = SNAPSHOT_HEADER; i < x.length; i += oldStride) if (x[i + 2 + col] !== 0) return true;
    return false;
  };
  while (nSums > 0 && !nonZero(nSums - 1)) nSums--;
  const out: Series = [1 + nSums];
  for (let i = SNAPSHOT_HEADER; i < x.length; i += oldStride) {
    const t = x[i]!;
    let count = x[i + 1]!;
    for (let first = true; first || count > 0; first = false) {
      const c = Math.min(count, MAX_COUNT);
      count -= c;
      out.push(t * COUNT_SPAN + c);
      for (let k = 0; k < nSums; k++) {
        const col = source(k);
        out.push(first && col >= 0 && 2 + col < oldStride ? x[i + 2 + col]! : 0);
      }
    }
  }
  return out.length <= EXACT_MAX ? out.slice() : out;
}
