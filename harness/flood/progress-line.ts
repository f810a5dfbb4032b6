/**
 * The flood's live status line. On a terminal one line is rewritten in place; in a CI log (not a
 * TTY) carriage returns would pile up as garbage, so a plain line is written at most every 2 s.
 */
import type { FloodProgress } from '../types.js';

const PLAIN_INTERVAL_MS = 2000;
const CLEAR_LINE = '\r\x1b[2K';

export interface ProgressReporter {
  update(p: FloodProgress): void;
  /** Leaves the last state on screen (TTY) or in the log (plain) and ends the line. */
  done(): void;
}

/**
 * `flood 1200/2000 conns  open 20  msgs 6000 (2400/s)  errors 3 (refused 3)  3.2 s`: connections
 * started of planned, and "errors" are connections in error, the same counts the flood check judges.
 */
export function formatProgress(p: FloodProgress): string {
  const conns = p.connectionsPlanned === null ? `${p.connectionsStarted}` : `${p.connectionsStarted}/${p.connectionsPlanned}`;
  const refused = p.refused > 0 ? ` (refused ${p.refused})` : '';
  return (
    `flood ${conns} conns  open ${p.open}  msgs ${p.messagesReceived} (${Math.round(p.messagesPerSecond)}/s)  ` +
    `errors ${p.errors}${refused}  ${(p.elapsedMs / 1000).toFixed(1)} s${p.warmingUp ? '  warm-up' : ''}`
  );
}

export function createProgressReporter(stream: NodeJS.WriteStream): ProgressReporter {
  return stream.isTTY === true ? ttyReporter(stream) : plainReporter(stream);
}

function ttyReporter(stream: NodeJS.WriteStream): ProgressReporter {
  let drawn = false;
  return {
    update(p) {
      let line = formatProgress(p);
      // A wrapped line cannot be cleared with one \r; cut it to the terminal width instead.
      const columns = stream.columns;
      if (typeof columns === 'number' && columns > 1 && line.length >= columns) line = line.slice(0, columns - 1);
      stream.write(CLEAR_LINE + line);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}

function plainReporter(stream: NodeJS.WriteStream): ProgressReporter {
  let lastWrittenAt = -Infinity;
  let unwritten: FloodProgress | null = null;
  return {
    update(p) {
      const now = Date.now();
      if (now - lastWrittenAt < PLAIN_INTERVAL_MS) {
        unwritten = p;
        return;
      }
      lastWrittenAt = now;
      unwritten = null;
      stream.write(formatProgress(p) + '\n');
    },
    done() {
      // The final state always reaches the log, even if it came within 2 s of the previous line.
      if (unwritten !== null) stream.write(formatProgress(unwritten) + '\n');
      unwritten = null;
    },
  };
}
