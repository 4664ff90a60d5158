// Locates the shared real KVS captures beside the checkout; tests skip with a message without them.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CAPTURES = fileURLToPath(new URL('../../../shared/fixtures/kvs-getmedia/', import.meta.url));

export const capturesSkip: string | false = existsSync(CAPTURES) ? false : `real captures not found at ${CAPTURES}`;

export const capture = (name: string): string => `${CAPTURES}${name}`;
