/**
 * A small async lock, first come first served, whose wait can be bounded: a SQLite connection
 * holds one transaction at a time, and a PostgreSQL node runs its history writes one at a time
 * (see shared-store.ts). Written here because it is short; imports nothing.
 */
export type Unlock = () => void;

export class Mutex {
  private held = false;
  private readonly waiting: { grant: (unlock: Unlock) => void }[] = [];

  /**
   * Resolves with the function that releases the lock, or with undefined once `waitMs` passed
   * without getting it (the caller gave up; nothing is held).
   */
  lock(waitMs = Number.POSITIVE_INFINITY): Promise<Unlock | undefined> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve(this.unlocker());
    }
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = {
        grant: (unlock: Unlock) => {
          clearTimeout(timer);
          resolve(unlock);
        },
      };
      this.waiting.push(waiter);
      if (Number.isFinite(waitMs)) {
        timer = setTimeout(
          () => {
            const at = this.waiting.indexOf(waiter);
            if (at >= 0) this.waiting.splice(at, 1);
            resolve(undefined);
          },
          Math.max(0, waitMs),
        );
      }
    });
  }

  private unlocker(): Unlock {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next.grant(this.unlocker());
      else this.held = false;
    };
  }
}
