/**
 * Resources released in reverse order of acquisition (graphile-worker's withReleasers).
 * The supervision tree of the runtime issue replaces this for long-lived children.
 */
export class Releasers {
  private readonly stack: { name: string; release: () => Promise<void> | void }[] = [];

  add(name: string, release: () => Promise<void> | void): void {
    this.stack.push({ name, release });
  }

  /** Release everything, newest first; errors are collected, never stop the unwinding. */
  async releaseAll(onError: (name: string, error: unknown) => void = () => undefined): Promise<void> {
    while (this.stack.length > 0) {
      const item = this.stack.pop();
      if (!item) break;
      try {
        await item.release();
      } catch (error) {
        onError(item.name, error);
      }
    }
  }
}
