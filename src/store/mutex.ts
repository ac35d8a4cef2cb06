/**
 * A tiny async lock for a backend with one connection per role (SQLite): writers run one
 * at a time; reads on the reader connection are serialised among themselves, because a
 * connection holds one transaction at a time. Written here because it is ten lines.
 */
export class Mutex {
  private writeTail: Promise<unknown> = Promise.resolve();
  private readTail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.writeTail.then(fn, fn);
    this.writeTail = result.catch(() => undefined);
    return result;
  }

  runRead<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.readTail.then(fn, fn);
    this.readTail = result.catch(() => undefined);
    return result;
  }
}
