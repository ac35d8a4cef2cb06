/**
 * LISTEN for the PostgreSQL backend: one dedicated connection per store, shared by every
 * channel and every listener of the node (the history feed, the KV feed…), so a node holds its
 * pool plus exactly one connection, whatever listens (README: sizing max_connections).
 *
 * - The first listen() opens the connection; every later one joins it, and a channel is
 *   LISTENed once, the first time anyone asks for it. Listeners who come while it connects wait
 *   for the same connect: a burst of re-listens opens one connection, not one per feed.
 * - When the connection ends on its own (terminated, network lost), every listener's `ended`
 *   settles with why, and the connection is forgotten: the next listen() opens a new one.
 * - close() drops one listener. A channel stays LISTENed while its connection lives (a stray
 *   notification nobody hears costs nothing, and re-listening after a failed pass then needs no
 *   round trip on a connection that may be slow); the last listener's close ends the connection.
 *
 * Owns: the shared connection and who listens on it. Imports pg only through pg-driver.ts.
 */
import { LivelyError } from "../../errors.ts";
import type { StoreListener } from "../store.ts";
import type { PgListenClient } from "./pg-driver.ts";

export interface SharedListenOptions {
  /** A new, unconnected LISTEN client. */
  open(): PgListenClient;
  /** A driver error as people and the retry table read it (the database named, no password). */
  classify(error: unknown): Error;
  /** Why the connection ended when it ended without an error. */
  endedUnexpectedly(): Error;
  /** A connect succeeded (the connection budget hears of it). */
  onConnected?(): void;
  /** A connect failed, with the driver's error. */
  onConnectFailed?(error: unknown): void;
}

interface Subscriber {
  channel: string;
  onNotify: (payload: string) => void;
  end: (error: Error) => void;
}

/** One connection, its listeners, and the channels it LISTENs on. */
interface Connection {
  client: PgListenClient;
  ready: Promise<void>;
  subscribers: Set<Subscriber>;
  /** Each channel LISTENed on, with its LISTEN statement (later listeners of the channel await it). */
  channels: Map<string, Promise<void>>;
  /** Set once it ended, on its own or closed by us; nobody joins it then. */
  ended: boolean;
}

export interface SharedListenState {
  /** Whether the connection is open (or opening). */
  open: boolean;
  /** Channels LISTENed on, and listeners in all. */
  channels: number;
  listeners: number;
}

export class SharedListen {
  private current: Connection | undefined;

  constructor(private readonly options: SharedListenOptions) {}

  async listen(channel: string, onNotify: (payload: string) => void): Promise<StoreListener> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new LivelyError("internal", `not a channel name: ${channel}`);
    const connection = this.current ?? this.connect();
    let end: (error: Error) => void = () => undefined;
    const ended = new Promise<Error>((resolve) => {
      end = resolve;
    });
    const subscriber: Subscriber = { channel, onNotify, end };
    connection.subscribers.add(subscriber);
    try {
      await connection.ready;
      await this.listenOn(connection, channel);
    } catch (error) {
      await this.drop(connection, subscriber);
      throw this.options.classify(error);
    }
    let closed = false;
    return {
      ended,
      close: async () => {
        if (closed) return;
        closed = true;
        await this.drop(connection, subscriber);
      },
    };
  }

  state(): SharedListenState {
    const connection = this.current;
    return {
      open: connection !== undefined,
      channels: connection?.channels.size ?? 0,
      listeners: connection?.subscribers.size ?? 0,
    };
  }

  /** End the connection (the store closes); its listeners hear `ended`. */
  async close(): Promise<void> {
    const connection = this.current;
    if (!connection) return;
    this.fail(connection, this.options.endedUnexpectedly());
    await connection.client.end().catch(() => undefined);
  }

  private connect(): Connection {
    const client = this.options.open();
    const connection: Connection = { client, ready: Promise.resolve(), subscribers: new Set(), channels: new Map(), ended: false };
    client.on("notification", (message) => {
      for (const subscriber of connection.subscribers) {
        if (subscriber.channel === message.channel) subscriber.onNotify(message.payload ?? "");
      }
    });
    // From before connect() to the end: a terminated LISTEN backend is an `ended`, never a crash.
    client.on("error", (error) => {
      this.fail(connection, this.options.classify(error));
      void client.end().catch(() => undefined);
    });
    client.on("end", () => this.fail(connection, this.options.endedUnexpectedly()));
    connection.ready = client.connect().then(
      () => this.options.onConnected?.(),
      (error: unknown) => {
        this.options.onConnectFailed?.(error);
        this.fail(connection, this.options.classify(error));
        void client.end().catch(() => undefined);
        throw error;
      },
    );
    this.current = connection;
    return connection;
  }

  private listenOn(connection: Connection, channel: string): Promise<void> {
    let listening = connection.channels.get(channel);
    if (!listening) {
      listening = connection.client.query(`LISTEN ${channel}`).then(() => undefined);
      // A failed LISTEN is retried by the next listener of the channel, not remembered.
      listening.catch(() => {
        if (connection.channels.get(channel) === listening) connection.channels.delete(channel);
      });
      connection.channels.set(channel, listening);
    }
    return listening;
  }

  /** The connection is over: nobody joins it, and each of its listeners hears why. */
  private fail(connection: Connection, error: Error): void {
    if (connection.ended) return;
    connection.ended = true;
    if (this.current === connection) this.current = undefined;
    for (const subscriber of connection.subscribers) subscriber.end(error);
  }

  private async drop(connection: Connection, subscriber: Subscriber): Promise<void> {
    connection.subscribers.delete(subscriber);
    if (connection.subscribers.size > 0) return;
    // The last listener left: the connection goes with it (one that ended already is ended again, harmlessly).
    connection.ended = true;
    if (this.current === connection) this.current = undefined;
    await connection.client.end().catch(() => undefined);
  }
}
