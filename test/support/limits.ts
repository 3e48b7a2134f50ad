/**
 * The simulated limiter counts in wall-clock windows (like the real one, approximately). A burst
 * that straddles a window boundary would see a reset counter, so it is run again, once, with
 * fresh keys: two boundaries cannot fall inside one burst.
 */
export async function inOneWindow<T>(period: number, burst: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const before = Math.floor(Date.now() / (period * 1000));
    const result = await burst();
    const after = Math.floor(Date.now() / (period * 1000));
    if (before === after || attempt === 1) return result;
  }
}
