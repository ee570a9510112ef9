"use client";
/**
 * Browser side of the realtime channels (docs/realtime.md): a WebSocket on this origin (the
 * session cookie authenticates it) that reconnects with back-off and reports its state.
 */
import { useEffect, useRef, useState } from "react";

export type RealtimeStatus = "connecting" | "live" | "reconnecting" | "closed";

/**
 * Subscribes to `path` (e.g. `/ws/segments/${id}/realtime`) while mounted and `path` is set.
 * `onMessage` gets every parsed message; the latest callback is used without reconnecting.
 * A close with code 4404 (the segment was deleted) or a refused upgrade after 5 attempts stops
 * reconnecting.
 */
export function useRealtime<M extends { type: string }>(path: string | null, onMessage: (message: M) => void): RealtimeStatus {
  const [status, setStatus] = useState<RealtimeStatus>("connecting");
  const handler = useRef(onMessage);
  useEffect(() => {
    handler.current = onMessage;
  });

  useEffect(() => {
    if (!path) return;
    let ws: WebSocket | null = null;
    let stopped = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | null = null;

    const open = () => {
      if (stopped) return;
      const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
      ws = new WebSocket(url);
      let opened = false;
      ws.onopen = () => {
        opened = true;
        attempt = 0;
        setStatus("live");
      };
      ws.onmessage = (e) => {
        try {
          handler.current(JSON.parse(String(e.data)) as M);
        } catch {
          /* a malformed frame is ignored */
        }
      };
      ws.onclose = (e) => {
        ws = null;
        if (stopped) return;
        // 4404: the segment is gone. A refused upgrade closes before opening (1006).
        if (e.code === 4404 || (!opened && attempt >= 5)) {
          setStatus("closed");
          return;
        }
        setStatus("reconnecting");
        const delay = Math.min(30_000, 1_000 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
        attempt++;
        timer = setTimeout(open, delay);
      };
    };
    // Reconnect at once when the tab comes back, instead of waiting out the back-off.
    const onVisible = () => {
      if (document.visibilityState === "visible" && !ws && !stopped) {
        if (timer) clearTimeout(timer);
        attempt = 0;
        open();
      }
    };
    document.addEventListener("visibilitychange", onVisible);
    open();
    return () => {
      stopped = true;
      document.removeEventListener("visibilitychange", onVisible);
      if (timer) clearTimeout(timer);
      ws?.close(1000, "unmounted");
    };
  }, [path]);

  return path ? status : "closed";
}
