/**
 * Splitting a child's output into lines, and the log line format. Owns both; must not import
 * api/, cli/ or gateway/.
 *
 * A log file line is `<ISO time> <stream> <text>`: stream is `out`, `err`, or `lively` for what
 * the node itself notes there (dropped lines). A line longer than `MAX_LINE_BYTES` is cut into
 * several, so one endless line cannot hold memory hostage.
 */

export type LogStream = "out" | "err" | "lively";

export interface LogLine {
  /** Epoch milliseconds. */
  at: number;
  stream: LogStream;
  text: string;
}

export const MAX_LINE_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

/** Feeds whole lines (without the newline) to `onLine`; `end()` hands over an unfinished last line. */
export class LineSplitter {
  private carry: Buffer | undefined;

  constructor(private readonly onLine: (line: Buffer) => void) {}

  push(chunk: Buffer): void {
    let data = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = undefined;
    let start = 0;
    for (;;) {
      const end = data.indexOf(NEWLINE, start);
      if (end < 0) break;
      this.emit(data.subarray(start, end));
      start = end + 1;
    }
    data = data.subarray(start);
    while (data.length > MAX_LINE_BYTES) {
      this.onLine(data.subarray(0, MAX_LINE_BYTES));
      data = data.subarray(MAX_LINE_BYTES);
    }
    // Copied: the rest must not pin the whole chunk until the next newline arrives.
    if (data.length > 0) this.carry = Buffer.from(data);
  }

  end(): void {
    if (this.carry) this.onLine(this.carry);
    this.carry = undefined;
  }

  private emit(line: Buffer): void {
    for (let at = 0; at < line.length; at += MAX_LINE_BYTES) this.onLine(line.subarray(at, at + MAX_LINE_BYTES));
    if (line.length === 0) this.onLine(line);
  }
}

/** ISO strings are made once per millisecond: a burst of output shares them. */
let cachedAt = -1;
let cachedPrefix = "";
function stamp(at: number): string {
  if (at !== cachedAt) {
    cachedAt = at;
    cachedPrefix = new Date(at).toISOString();
  }
  return cachedPrefix;
}

/** One log file record, newline included. */
export function formatRecord(at: number, stream: LogStream, text: Buffer | string): Buffer {
  const prefix = `${stamp(at)} ${stream} `;
  const body = typeof text === "string" ? Buffer.from(text) : text;
  const record = Buffer.allocUnsafe(prefix.length + body.length + 1);
  record.write(prefix, 0, "latin1");
  body.copy(record, prefix.length);
  record[record.length - 1] = NEWLINE;
  return record;
}

const RECORD = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (out|err|lively) (.*)$/s;

/** A log file line back to a LogLine; a line not in the format is kept whole as text. */
export function parseRecord(line: string): LogLine {
  const match = RECORD.exec(line);
  if (!match) return { at: 0, stream: "lively", text: line };
  return { at: Date.parse(match[1]), stream: match[2] as LogStream, text: match[3] };
}
