/**
 * One run's output: drains the child's stdout and stderr as fast as they come (the pipe is never
 * left full, whatever the disk does), splits them into lines, hands each line to the appliance's
 * log, keeps the last `tailLines` for the exit record, and feeds listeners (a log readiness
 * check, later `attach`). Owns nothing on disk; must not import api/, cli/ or gateway/.
 */
import type { Readable } from "node:stream";
import type { RunHandle } from "../runner.ts";
import { LineSplitter, type LogLine, type LogStream } from "./lines.ts";
import type { RotatingLog } from "./writer.ts";

export class RunOutput {
  /** Lines of this run the log dropped because its writer was behind. */
  dropped = 0;
  private readonly ring: LogLine[] = [];
  private ringNext = 0;
  private readonly listeners = new Set<(text: string, stream: LogStream) => void>();
  private readonly splitters: LineSplitter[] = [];
  private readonly ends: Promise<void>[] = [];
  private readonly streams: Readable[] = [];

  constructor(
    private readonly log: RotatingLog,
    private readonly tailLines: number,
  ) {}

  attach(handle: RunHandle): void {
    this.follow(handle.stdout, "out");
    this.follow(handle.stderr, "err");
  }

  /** Every line from now on, as text; returns the unsubscribe. */
  onLine(listener: (text: string, stream: LogStream) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * After the run's processes are gone: wait for both streams to end (the last bytes written
   * before an exit are still in the pipe), at most `waitMs`, then hand over unfinished lines.
   */
  async finish(waitMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.ends), new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
    // A pipe still open here is held by a process that left both the group and the tag.
    for (const stream of this.streams) stream.destroy();
    for (const splitter of this.splitters) splitter.end();
  }

  /** The last lines, oldest first. */
  tail(): LogLine[] {
    return [...this.ring.slice(this.ringNext), ...this.ring.slice(0, this.ringNext)];
  }

  private follow(stream: Readable | null, name: "out" | "err"): void {
    if (!stream) return;
    this.streams.push(stream);
    const splitter = new LineSplitter((line) => this.line(name, line));
    this.splitters.push(splitter);
    this.ends.push(
      new Promise((resolve) => {
        stream.once("end", resolve);
        stream.once("close", resolve);
        stream.once("error", resolve);
      }),
    );
    stream.on("data", (chunk: Buffer) => splitter.push(chunk));
  }

  private line(stream: "out" | "err", line: Buffer): void {
    const at = Date.now();
    if (!this.log.append(at, stream, line)) this.dropped += 1;
    const text = line.toString("utf8");
    if (this.tailLines > 0) {
      const entry = { at, stream, text };
      if (this.ring.length < this.tailLines) {
        this.ring.push(entry);
      } else {
        this.ring[this.ringNext] = entry;
        this.ringNext = (this.ringNext + 1) % this.tailLines;
      }
    }
    for (const listener of this.listeners) listener(text, stream);
  }
}
