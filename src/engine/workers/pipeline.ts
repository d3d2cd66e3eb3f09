// Runs async jobs with at most `limit` at once; the first failure is rethrown
// by the next run() or by drain(). Bounds memory and keeps both cores busy.
export class Pipeline {
  private running = new Set<Promise<void>>();
  private failure: unknown;
  private readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }
  async run(job: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    if (this.failure) throw this.failure;
    const p: Promise<void> = job()
      .catch((err) => {
        this.failure ??= err;
      })
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }
  async drain(): Promise<void> {
    await Promise.all(this.running);
    if (this.failure) throw this.failure;
  }
}
