// The error a call that must fail failed with, to assert on its fields (an SDK error's name, $fault, $metadata ...).

/** The rejection of `promise`, which must reject. */
export async function failure(promise: Promise<unknown>): Promise<Error & Record<string, any>> {
  const error = await promise.then(
    () => null,
    (error: unknown) => error as Error & Record<string, any>,
  );
  if (!error) throw new Error('expected the call to fail');
  return error;
}
