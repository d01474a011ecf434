// The review timeline under the video: a keyboard-operable slider (arrows ±5 s, Page keys ±30 s, Home/End), comment
// markers as buttons, and a storyboard thumbnail where the pointer hovers or the focus is. Media time runs left to
// right whatever the page's direction, so the timeline is always laid out ltr.
import { useRef, useState, type CSSProperties, type KeyboardEvent, type PointerEvent } from "react";
import { timecode } from "../../lib/format";
import { cueAt, excerpt, markerPosition, sliderKey, timeAtOffset, type StoryboardCue } from "../../lib/review";

export interface Marker {
  id: string;
  timecode: number;
  body: string;
  active: boolean;
  resolved: boolean;
}

interface TimelineProps {
  time: number;
  duration: number | null;
  markers: readonly Marker[];
  storyboard: readonly StoryboardCue[];
  onSeek: (seconds: number) => void;
}

const at = (percent: number): CSSProperties => ({ ["--at" as string]: `${percent}%` });

export function Timeline({ time, duration, markers, storyboard, onSeek }: TimelineProps) {
  const track = useRef<HTMLDivElement>(null);
  const dragging = useRef(false);
  const [hover, setHover] = useState<number | null>(null);
  const [focused, setFocused] = useState(false);
  const length = duration ?? 0;
  const position = markerPosition(time, length) ?? 0;

  const timeAt = (event: PointerEvent<HTMLElement>) => {
    const rect = track.current!.getBoundingClientRect();
    return timeAtOffset(event.clientX - rect.left, rect.width, length);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const target = sliderKey(event.key, time, length);
    if (target === null) return;
    event.preventDefault();
    onSeek(target);
  };

  // The pointer's place, else the playhead while the slider has focus (it follows the arrow keys).
  const preview = hover ?? (focused ? time : null);
  const tile = preview !== null ? cueAt(storyboard, preview) : null;
  const previewAt = preview !== null ? (markerPosition(preview, length) ?? 0) : 0;
  return (
    <div className="timeline" dir="ltr">
      <div
        ref={track}
        className="timeline-track"
        role="slider"
        tabIndex={duration ? 0 : -1}
        aria-label="Timeline"
        aria-valuemin={0}
        aria-valuemax={Math.round(length)}
        aria-valuenow={Math.round(time)}
        aria-valuetext={`${timecode(time)} of ${timecode(length)}`}
        aria-disabled={!duration}
        onKeyDown={onKeyDown}
        onFocus={() => setFocused(true)}
        onBlur={() => setFocused(false)}
        onPointerDown={(event) => {
          if (!duration || event.button !== 0) return;
          dragging.current = true;
          event.currentTarget.setPointerCapture(event.pointerId);
          onSeek(timeAt(event));
        }}
        onPointerMove={(event) => {
          if (!duration) return;
          const t = timeAt(event);
          setHover(t);
          if (dragging.current) onSeek(t);
        }}
        onPointerUp={(event) => {
          dragging.current = false;
          event.currentTarget.releasePointerCapture(event.pointerId);
        }}
        onPointerLeave={() => {
          if (!dragging.current) setHover(null);
        }}
      >
        <div className="timeline-played" style={at(position)} />
        <div className="timeline-head" style={at(position)} />
      </div>

      <div className="timeline-markers">
        {duration
          ? markers.map((marker) => (
              <button
                key={marker.id}
                type="button"
                className={[
                  "timeline-marker",
                  marker.active ? "timeline-marker-active" : "",
                  marker.resolved ? "timeline-marker-resolved" : "",
                ]
                  .filter(Boolean)
                  .join(" ")}
                style={at(markerPosition(marker.timecode, length) ?? 0)}
                aria-label={`Comment at ${timecode(marker.timecode)}: ${excerpt(marker.body)}`}
                title={`${timecode(marker.timecode)} ${excerpt(marker.body)}`}
                onClick={() => onSeek(marker.timecode)}
                onPointerEnter={() => setHover(marker.timecode)}
                onPointerLeave={() => setHover(null)}
                onFocus={() => setHover(marker.timecode)}
                onBlur={() => setHover(null)}
              />
            ))
          : null}
      </div>

      {preview !== null && duration ? (
        <div className="storyboard-preview" style={at(previewAt)} aria-hidden="true">
          {tile ? (
            <div
              className="storyboard-tile"
              style={{
                backgroundImage: `url("${tile.url.replace(/["\\\n]/g, "")}")`,
                backgroundPosition: `-${tile.x}px -${tile.y}px`,
                inlineSize: `${tile.w}px`,
                blockSize: `${tile.h}px`,
              }}
            />
          ) : null}
          <span className="storyboard-time">{timecode(preview)}</span>
        </div>
      ) : null}
    </div>
  );
}
