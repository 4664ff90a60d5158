// The Node flags a worker process runs with: the container's ENTRYPOINT passes the same ones
// (test/docker/runtime.test.ts holds the two together), and so do the bench and the local worker cluster, so that
// what they measure is what a deployed worker runs.

/**
 * V8's old generation starts with room for 128 MB. Left alone, V8 fits its first limit to what survives the first
 * collections (a worker's heap holds about 35 MB), and a worker reading 100 GetMedia streams, whose buffers trigger a
 * young collection every quarter second, then promotes past that limit about twice a second: a full mark of the heap
 * each time, on V8's helper threads and the main thread. With the room, full collections come about once every four
 * seconds (see the README's "Where the time goes"); the worker's RSS grew about 20 MB at 100 streams.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=128'];
