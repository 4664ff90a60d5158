// AWS credentials with a deadline. The SDK's default chain fetches a container's credentials (an ECS task role, EKS
// Pod Identity) over HTTP with a timeout that only logs a warning, and an SDK call's abortSignal does not reach that
// fetch: a credentials endpoint that accepts and never answers would hang, for ever, every call of every client that
// needs fresh credentials. Here each fetch of the chain has a deadline, a hung chain is dropped for a new one, a
// failed fetch is tried again after a capped, jittered backoff, and credentials still valid are served while a
// refresh is on its way, so a slow refresh delays no call.

import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { KvsInferError } from '../errors.js';
import { type BackoffPolicy, backoffDelay } from './backoff.js';

export type CredentialsErrorCode =
  /** The chain did not answer within the deadline. */
  | 'CREDENTIALS_TIMEOUT'
  /** The last fetch failed and the next is not due yet. */
  | 'CREDENTIALS_BACKOFF';

export class CredentialsError extends KvsInferError<CredentialsErrorCode> {}

export interface BoundedCredentialsOptions {
  /** The chain, made afresh when one hangs; default the SDK's default chain (environment, profile, container, IMDS). */
  chain?: () => AwsCredentialIdentityProvider;
  /** Deadline of one fetch, ms; default 5000 (a container's endpoint answers in milliseconds). */
  timeoutMs?: number;
  /** Between failed fetches; default 1 s doubling to 60 s, full jitter. */
  backoff?: BackoffPolicy;
  /** Credentials valid for less than this are refreshed before they are served; default 60 000 ms. */
  minValidityMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, maxMs: 60_000, jitter: 1 };
const DEFAULT_MIN_VALIDITY_MS = 60_000;

/** A credential provider for SDK clients (their `credentials` option), sharing one fetch among them. */
export function boundedCredentials(options: BoundedCredentialsOptions = {}): AwsCredentialIdentityProvider {
  const newChain = options.chain ?? (() => defaultProvider());
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const minValidityMs = options.minValidityMs ?? DEFAULT_MIN_VALIDITY_MS;
  let chain = newChain();
  let last: AwsCredentialIdentity | undefined;
  let inFlight: Promise<AwsCredentialIdentity> | undefined;
  let failures = 0;
  let retryAt = 0;
  let lastError: Error | undefined;

  const fetch = (): Promise<AwsCredentialIdentity> => {
    if (inFlight) return inFlight;
    if (Date.now() < retryAt) {
      return Promise.reject(
        new CredentialsError(
          'CREDENTIALS_BACKOFF',
          `no AWS credentials: ${lastError?.message}; next try in ${retryAt - Date.now()} ms`,
          { cause: lastError },
        ),
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // The hung chain keeps its pending fetch for ever: the next fetch needs a chain of its own.
        chain = newChain();
        reject(
          new CredentialsError(
            'CREDENTIALS_TIMEOUT',
            `the AWS credential chain did not answer within ${timeoutMs} ms (a credentials endpoint that accepts ` +
              'and never answers?)',
          ),
        );
      }, timeoutMs);
    });
    inFlight = Promise.race([chain(), deadline])
      .then(
        (credentials) => {
          last = credentials;
          failures = 0;
          return credentials;
        },
        (error: Error) => {
          failures++;
          retryAt = Date.now() + backoffDelay(failures, backoff);
          lastError = error;
          throw error;
        },
      )
      .finally(() => {
        clearTimeout(timer);
        inFlight = undefined;
      });
    return inFlight;
  };

  return async () => {
    const validFor = last?.expiration === undefined ? Number.POSITIVE_INFINITY : last.expiration.getTime() - Date.now();
    if (last !== undefined && validFor >= minValidityMs) {
      // The SDK asks again only when its copy is near expiry: refresh on the side, serve these meanwhile.
      if (last.expiration !== undefined) fetch().catch(() => undefined);
      return last;
    }
    return fetch();
  };
}
