// The review player: hls.js where the browser has Media Source Extensions (loaded only here, so it stays out of
// the main bundle), the browser's own HLS otherwise (Safari, iOS). The hook mirrors the video's time, duration and
// paused state into React and recovers what hls.js can recover.
import { useCallback, useEffect, useRef, useState, type RefObject } from "react";

const HLS_TYPE = "application/vnd.apple.mpegurl";

export interface PlayerState {
  time: number;
  duration: number | null;
  paused: boolean;
  error: string | null;
  /** The signed URLs were refused (expired): the page should fetch fresh ones. */
  expired: boolean;
}

export interface Player extends PlayerState {
  seek: (seconds: number) => void;
  pause: () => void;
}

export function usePlayer(video: RefObject<HTMLVideoElement | null>, hlsUrl: string | null): Player {
  const [state, setState] = useState<PlayerState>({ time: 0, duration: null, paused: true, error: null, expired: false });
  // A new URL for the same media (fresh signatures) continues where playback was.
  const resumeAt = useRef(0);

  useEffect(() => {
    const element = video.current;
    if (!element || !hlsUrl) return;
    let cancelled = false;
    let destroy: (() => void) | null = null;
    setState((s) => ({ ...s, error: null, expired: false }));
    const restore = () => {
      if (resumeAt.current > 0) element.currentTime = resumeAt.current;
    };
    element.addEventListener("loadedmetadata", restore, { once: true });

    void import("hls.js")
      .then(({ default: Hls }) => {
        if (cancelled) return;
        if (!Hls.isSupported()) {
          if (element.canPlayType(HLS_TYPE)) element.src = hlsUrl;
          else setState((s) => ({ ...s, error: "This browser cannot play HLS video." }));
          return;
        }
        const hls = new Hls({ enableWorker: true });
        let mediaRecoveries = 0;
        hls.on(Hls.Events.ERROR, (_event, data) => {
          if (!data.fatal) return;
          const status = data.response?.code;
          if (data.type === Hls.ErrorTypes.NETWORK_ERROR && (status === 403 || status === 410)) {
            setState((s) => ({ ...s, expired: true }));
          } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
            hls.startLoad();
          } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR && mediaRecoveries < 2) {
            mediaRecoveries += 1;
            hls.recoverMediaError();
          } else {
            setState((s) => ({ ...s, error: `The video cannot be played (${data.details}).` }));
            hls.destroy();
          }
        });
        hls.loadSource(hlsUrl);
        hls.attachMedia(element);
        destroy = () => hls.destroy();
      })
      .catch(() => {
        // The player code itself did not load (offline?): the browser's own HLS may still do.
        if (!cancelled && element.canPlayType(HLS_TYPE)) element.src = hlsUrl;
        else if (!cancelled) setState((s) => ({ ...s, error: "The video player could not be loaded." }));
      });

    return () => {
      cancelled = true;
      resumeAt.current = element.currentTime;
      element.removeEventListener("loadedmetadata", restore);
      destroy?.();
      element.removeAttribute("src");
      element.load();
    };
  }, [video, hlsUrl]);

  useEffect(() => {
    const element = video.current;
    if (!element) return;
    const sync = () =>
      setState((s) => ({
        ...s,
        time: element.currentTime,
        duration: Number.isFinite(element.duration) && element.duration > 0 ? element.duration : s.duration,
        paused: element.paused,
      }));
    const failed = () => {
      // With hls.js the error is its own to handle; with native HLS the element reports it.
      if (element.error && element.src.startsWith("http")) {
        setState((s) => ({ ...s, error: `The video cannot be played (${element.error?.message || "media error"}).` }));
      }
    };
    const events = ["timeupdate", "durationchange", "loadedmetadata", "play", "pause", "seeked", "seeking", "ended"];
    for (const name of events) element.addEventListener(name, sync);
    element.addEventListener("error", failed);
    return () => {
      for (const name of events) element.removeEventListener(name, sync);
      element.removeEventListener("error", failed);
    };
    // The element appears once the media is ready (hlsUrl set): attach then.
  }, [video, hlsUrl]);

  const seek = useCallback(
    (seconds: number) => {
      const element = video.current;
      if (!element) return;
      const end = Number.isFinite(element.duration) ? element.duration : seconds;
      const target = Math.min(Math.max(0, seconds), end);
      element.currentTime = target;
      setState((s) => ({ ...s, time: target }));
    },
    [video],
  );

  const pause = useCallback(() => video.current?.pause(), [video]);

  return { ...state, seek, pause };
}
