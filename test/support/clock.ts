/** A clock the test moves by hand (passed to the Worker as its `now`). */
export function fakeClock(start = Date.now()) {
  let t = start;
  return {
    now: () => new Date(t),
    advance: (ms: number) => {
      t += ms;
    },
    set: (ms: number) => {
      t = ms;
    },
  };
}

export const SEC = 1000;
export const MIN = 60_000;
export const DAY = 24 * 3600_000;
