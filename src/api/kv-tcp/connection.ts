/**
 * One client connection of the KV protocol, as a supervised child (a ChildHandle): it reads
 * lines, runs them one at a time in the order they came, and writes each reply before the
 * next command runs, so pipelined commands are answered in order.
 *
 * Backpressure, both ways: input that is received but not yet run is bounded
 * (`maxBufferedInput`; past it the socket stops reading, and TCP pushes back on the client),
 * and while the socket's write buffer is full no command runs and nothing is read until it
 * drains. Replies of a pipelined batch go out in one write (cork), as Redis does.
 *
 * A client that vanishes (mid-line, mid-reply, with a reset) ends only its own connection,
 * normally: a partial line is never run. A bug in this file ends its own connection as a
 * crash (`done` rejects), never the process and never another connection: every callback
 * the socket calls is guarded.
 *
 * Closing after a final reply (QUIT, a line too long, a stop) ends our side and keeps reading
 * (and dropping) what the client still sends until it closes, up to LINGER_MS: closing with
 * unread input would send a reset, and the client could lose the reply.
 */
import type { Socket } from "node:net";
import { toError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import type { ChildHandle } from "../../supervise/supervisor.ts";
import { cachedGetReply, type KvVerbs, runStoreCommand } from "./commands.ts";
import { LineReader, MAX_LINE_BYTES, parseCommand, REPLY, TOO_LONG } from "./protocol.ts";

/** Received bytes not yet run before the socket stops reading: a few full lines. */
export const MAX_BUFFERED_INPUT = 4 * MAX_LINE_BYTES;
/** How long a closing connection waits for the client to close its side. */
const LINGER_MS = 2000;

export interface ConnectionOptions {
  socket: Socket;
  kv: KvVerbs;
  log: Logger;
  maxBufferedInput?: number;
}

export function handleConnection(options: ConnectionOptions): ChildHandle {
  const { socket, kv, log } = options;
  const maxBuffered = options.maxBufferedInput ?? MAX_BUFFERED_INPUT;
  const reader = new LineReader();
  let settle!: { resolve: () => void; reject: (error: Error) => void };
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  let settled = false;
  let closed = false;
  /** A final reply is written (or the connection is stopping): nothing more runs. */
  let ending = false;
  let inputEnded = false;
  let working = false;
  let waitingForDrain = false;
  let lingering: NodeJS.Timeout | undefined;
  /** stop() was asked: finish the command in flight, answer it, then close. */
  let stopRequested = false;

  const crash = (error: Error) => {
    if (settled) return;
    settled = true;
    settle.reject(error);
    socket.destroy();
  };
  const guard =
    <A extends unknown[]>(fn: (...args: A) => void) =>
    (...args: A) => {
      try {
        fn(...args);
      } catch (thrown) {
        crash(toError(thrown));
      }
    };

  /** Read while there is room for input and the replies flow; else let TCP push back. */
  const updateReading = () => {
    if (closed) return;
    const read = ending || (reader.buffered < maxBuffered && !waitingForDrain);
    if (read && socket.isPaused()) socket.resume();
    else if (!read && !socket.isPaused()) socket.pause();
  };

  const closeAfter = (reply?: Buffer) => {
    if (ending) return;
    ending = true;
    if (reply) socket.end(reply);
    else socket.end();
    lingering = setTimeout(() => socket.destroy(), LINGER_MS);
    lingering.unref();
    updateReading();
  };

  const drained = () =>
    new Promise<void>((resolve) => {
      const go = () => {
        socket.off("drain", go);
        socket.off("close", go);
        resolve();
      };
      socket.on("drain", go);
      socket.on("close", go);
    });

  /**
   * Run every complete line received, in order; returns when it needs more input. A cached GET
   * is answered synchronously (cachedGetReply, the hand-written hot path); only a command that
   * goes to the store awaits. Replies to a pipelined batch are corked and leave in one write
   * when the batch is done or a command must wait; a lone request's reply goes out at once.
   */
  const serve = async () => {
    let corked = false;
    const uncork = () => {
      if (!corked) return;
      corked = false;
      socket.uncork();
    };
    try {
      for (;;) {
        if (closed || ending || stopRequested) return;
        const line = reader.next();
        updateReading();
        if (line === undefined) {
          if (inputEnded) closeAfter(); // a partial line left at the end is never run
          return;
        }
        if (line === TOO_LONG) return closeAfter(REPLY.lineTooLong);
        let reply = cachedGetReply(kv, line);
        if (reply === undefined) {
          const command = parseCommand(line);
          if (command.op === "quit") return closeAfter(REPLY.ok);
          if (command.op === "ping") reply = REPLY.pong;
          else if (command.op === "unknown") reply = REPLY.unknownCommand;
          else {
            uncork(); // the replies before this one leave while the store works
            reply = await runStoreCommand(kv, command, log);
            if (closed) return;
          }
        }
        if (!corked && reader.buffered > 0) {
          socket.cork();
          corked = true;
        }
        if (!socket.write(reply)) {
          waitingForDrain = true;
          updateReading();
          uncork();
          await drained();
          waitingForDrain = false;
          updateReading();
        }
      }
    } finally {
      uncork();
    }
  };

  const kick = () => {
    if (working || closed || ending) return;
    working = true;
    serve().then(
      () => {
        working = false;
        // stop() came while a command ran: its reply is out, now close.
        if (stopRequested) closeAfter();
      },
      (thrown: unknown) => crash(toError(thrown)),
    );
  };

  socket.setNoDelay(true);
  socket.on(
    "data",
    guard((chunk: Buffer) => {
      if (ending) return; // lingering: drop what comes after the final reply
      reader.push(chunk);
      updateReading();
      kick();
    }),
  );
  socket.on(
    "end",
    guard(() => {
      inputEnded = true;
      if (ending) socket.destroy();
      else kick();
    }),
  );
  // A reset or a broken pipe: the client went away. 'close' follows and ends the connection.
  socket.on("error", (error: NodeJS.ErrnoException) => log.debug({ err: error, code: error.code }, "kv client connection error"));
  socket.on("close", () => {
    closed = true;
    clearTimeout(lingering);
    if (settled) return;
    settled = true;
    settle.resolve();
  });

  return {
    done,
    async stop() {
      stopRequested = true;
      if (!working) closeAfter();
      await done.catch(() => undefined);
    },
    kill() {
      socket.destroy();
    },
  };
}
