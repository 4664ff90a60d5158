// kvs-infer as a library: the media core, the decode/encode pool, configuration, the lease
// machine and the actors that run a worker. The local stack is `kvs-infer/local`.

export * as actors from './actors/index.js';
export * as config from './config/index.js';
export { KvsInferError } from './errors.js';
export * as machines from './machines/index.js';
export * as media from './media/index.js';
export * as native from './native/index.js';
