// Whether a promise has settled, looked at once pending I/O callbacks have run: for tests that check
// something is still waiting (a bounded stage that must not let one more in) without sleeping.

export async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}
