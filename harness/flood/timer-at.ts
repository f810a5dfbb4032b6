/**
 * A timer for an absolute time on the flood's clock that never fires before that time.
 *
 * Node's setTimeout counts from the event loop's cached time (taken when the loop turn began, in
 * whole ms), not from performance.now(): a timer armed late in a turn, or for a fractional delay,
 * fires up to ~1.5 ms early by performance.now(). A scheduled message sent that early would have a
 * latency (from its intended time) shorter than its service time, and a connect ticket would be
 * taken before its turn. So a timer that wakes before `at` is armed again for the rest; it may fire
 * late (by up to about a ms), which the latency, counted from the intended time, then shows.
 */

/** A pending timer; `cancel` is safe to call at any time, more than once. */
export interface TimerAt {
  cancel(): void;
}

/** Calls `callback` once, from a timer (never synchronously), at the first wake-up at which `now() >= at`. */
export function setTimerAt(at: number, now: () => number, callback: () => void): TimerAt {
  const wake = (): void => {
    const rest = at - now();
    if (rest > 0) timer = setTimeout(wake, rest);
    else {
      timer = null;
      callback();
    }
  };
  let timer: NodeJS.Timeout | null = setTimeout(wake, Math.max(0, at - now()));
  return {
    cancel: () => {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}
