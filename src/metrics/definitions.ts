// Every metric the worker exports, once: its CloudWatch name, its Prometheus name, kind, unit and scope.
// Both exporters and the debug page read this table, so a metric cannot exist in one and not the other.

export type MetricKind = 'counter' | 'gauge' | 'histogram';
export type MetricUnit = 'Count' | 'Bytes' | 'Milliseconds' | 'Percent' | 'None';
/** Worker metrics carry AppName and WorkerId; stream metrics also the stream, and are dropped with its lease. */
export type MetricScope = 'worker' | 'stream';

export interface MetricDefinition {
  readonly name: string;
  readonly prometheus: string;
  readonly kind: MetricKind;
  readonly unit: MetricUnit;
  readonly scope: MetricScope;
  readonly help: string;
  /**
   * A worker metric CloudWatch also gets by AppName alone, so that its Average over the fleet's workers is the mean
   * per worker: what the stack's autoscaling tracks.
   */
  readonly byApp?: true;
}

// KIT's dashboard also has "Lease Count per Worker": here that is CurrentLeases by WorkerId, not a metric of its own.
export const METRICS = [
  // Stream scope
  // A sampled frame's path as five stages, in order (PIPELINE_STAGES below); each frame's stages add up to its
  // EndToEndLatency.
  {
    name: 'IngestToProcessLatency',
    prometheus: 'kvs_infer_ingest_to_process_latency_ms',
    kind: 'histogram',
    unit: 'Milliseconds',
    scope: 'stream',
    help:
      "KIT's definition, per sampled frame: time from KVS ingest (the fragment's server timestamp) " +
      'to the worker receiving the frame parsed from GetMedia ' +
      "(after any backpressure pause of reading, before the frame's own wait for a decode slot).",
  },
  {
    name: 'ReceivedToDecodedLatency',
    prometheus: 'kvs_infer_received_to_decoded_latency_ms',
    kind: 'histogram',
    unit: 'Milliseconds',
    scope: 'stream',
    help:
      'Time from the worker receiving a sampled frame to its image being ready: ' +
      "the wait for a decode slot (reading paused meanwhile), the frame pool's queue, decoding and encoding.",
  },
  {
    name: 'DecodedToInvokedLatency',
    prometheus: 'kvs_infer_decoded_to_invoked_latency_ms',
    kind: 'histogram',
    unit: 'Milliseconds',
    scope: 'stream',
    help:
      "Time from a frame's image being ready to the first InvokeEndpoint call for it: " +
      'the wait for a place in the endpoint queue (holding its decode slot), then in that queue for a free call.',
  },
  {
    name: 'InvokedToInferredLatency',
    prometheus: 'kvs_infer_invoked_to_inferred_latency_ms',
    kind: 'histogram',
    unit: 'Milliseconds',
    scope: 'stream',
    help:
      'Time from the first InvokeEndpoint call for a frame to its successful answer, ' +
      'retries and their backoff included (InferenceLatency is the successful call alone).',
  },
  {
    name: 'InferredToPublishedLatency',
    prometheus: 'kvs_infer_inferred_to_published_latency_ms',
    kind: 'histogram',
    unit: 'Milliseconds',
    scope: 'stream',
    help:
      "Time from a frame's answer to Kinesis accepting its inference record: " +
      'the wait for a place in the publisher (holding its endpoint place), ' +
      "the batch's linger, PutRecords with its retries, and the stream's earlier records.",
  },
  {
    name: 'InferenceLatency',
    prometheus: 'kvs_infer_inference_latency_ms',
    kind: 'histogram',
    unit: 'Milliseconds',
    scope: 'stream',
    help: 'Duration of each successful InvokeEndpoint call.',
  },
  {
    name: 'EndToEndLatency',
    prometheus: 'kvs_infer_end_to_end_latency_ms',
    kind: 'histogram',
    unit: 'Milliseconds',
    scope: 'stream',
    help:
      "Time from the fragment's KVS server timestamp to Kinesis accepting the frame's record " +
      '(error records included); ' +
      'for an answered frame, the sum of its five stages.',
  },
  {
    name: 'FragmentsRead',
    prometheus: 'kvs_infer_fragments_read_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'stream',
    help: 'Fragments read from GetMedia.',
  },
  {
    name: 'FragmentsCompleted',
    prometheus: 'kvs_infer_fragments_completed_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'stream',
    help:
      'Fragments whose sampled frames are all published or settled, in stream order: ' +
      'what checkpoints advance over.',
  },
  {
    name: 'IncompleteFragments',
    prometheus: 'kvs_infer_incomplete_fragments_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'stream',
    help: 'Fragments given up before their end: the connection broke and the rest never came back.',
  },
  {
    name: 'BytesRead',
    prometheus: 'kvs_infer_bytes_read_total',
    kind: 'counter',
    unit: 'Bytes',
    scope: 'stream',
    help: 'Bytes of media read from GetMedia.',
  },
  {
    name: 'GetMediaCost',
    prometheus: 'kvs_infer_get_media_cost_dollars_total',
    kind: 'counter',
    // CloudWatch has no currency unit: the value is US dollars.
    unit: 'None',
    scope: 'stream',
    help:
      'Estimated US dollars of GetMedia data consumption: BytesRead x getMediaPricePerGB / 10^9 ' +
      '(KVS ingestion and storage, SageMaker, Kinesis and compute not included).',
  },
  {
    name: 'FramesRead',
    prometheus: 'kvs_infer_frames_read_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'stream',
    help: 'Frames parsed from the fragments read, key frames or not (frames read again after a reconnect not counted).',
  },
  {
    name: 'FramesSkipped',
    prometheus: 'kvs_infer_frames_skipped_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'stream',
    help: 'Frames read again after a GetMedia reconnect and not processed twice.',
  },
  {
    name: 'IFramesSeen',
    prometheus: 'kvs_infer_i_frames_seen_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'stream',
    help: 'Key frames found in the fragments read.',
  },
  {
    name: 'FramesSampled',
    prometheus: 'kvs_infer_frames_sampled_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'stream',
    help: 'Frames chosen by the sampler for inference.',
  },
  {
    name: 'FramesDecoded',
    prometheus: 'kvs_infer_frames_decoded_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'stream',
    help: 'Frames decoded and encoded to images by the frame pool.',
  },
  {
    name: 'FramesInferred',
    prometheus: 'kvs_infer_frames_inferred_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'stream',
    help: 'Frames the endpoint answered successfully.',
  },
  {
    name: 'FramesPublished',
    prometheus: 'kvs_infer_frames_published_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'stream',
    help: 'Inference records written to the Kinesis data stream.',
  },
  {
    name: 'FramesFailed',
    prometheus: 'kvs_infer_frames_failed_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'stream',
    help: 'Frames given up on after decoding, inference or publishing failed.',
  },
  {
    name: 'FramesDropped',
    prometheus: 'kvs_infer_frames_dropped_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'stream',
    help: 'Sampled frames dropped from the endpoint queue by the `latest` queue policy.',
  },
  {
    name: 'InferenceRetries',
    prometheus: 'kvs_infer_inference_retries_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'stream',
    help:
      'InvokeEndpoint attempts repeated after a transient fault (throttling, 5xx, timeout, connection error), ' +
      'counted when the frame is done.',
  },
  {
    name: 'ReadPausedTime',
    prometheus: 'kvs_infer_read_paused_ms_total',
    kind: 'counter',
    unit: 'Milliseconds',
    scope: 'stream',
    help: 'Time the media reader waited for a place for its next sampled frame: reading paused by backpressure.',
  },
  {
    name: 'CorruptFragments',
    prometheus: 'kvs_infer_corrupt_fragments_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'stream',
    help: 'Fragments that could not be parsed and were skipped.',
  },
  {
    name: 'GetMediaReconnects',
    prometheus: 'kvs_infer_get_media_reconnects_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'stream',
    help: 'GetMedia connections reopened after an error or the end of a response.',
  },
  {
    name: 'GetMediaErrors',
    prometheus: 'kvs_infer_get_media_errors_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'stream',
    help:
      'In-band errors GetMedia sent ' +
      '(AWS_KINESISVIDEO_ERROR_ID; the get-media-error log line names the id and code).',
  },
  {
    name: 'CheckpointFallbacks',
    prometheus: 'kvs_infer_checkpoint_fallbacks_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'stream',
    help:
      'Checkpoints GetMedia could not resume from (aged out of retention, or the stream was recreated): ' +
      'reading went on from the oldest retained fragment.',
  },
  {
    name: 'FragmentsSkipped',
    prometheus: 'kvs_infer_fragments_skipped_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'stream',
    help:
      'Fragments skipped by jumps to the live edge (maxMillisBehindNow), estimated (KVS does not say how many): ' +
      "each jump's TimeSkipped over the length of the last fragment read before it.",
  },
  {
    name: 'TimeSkipped',
    prometheus: 'kvs_infer_skipped_ms_total',
    kind: 'counter',
    unit: 'Milliseconds',
    scope: 'stream',
    help:
      'Media skipped by jumps to the live edge (maxMillisBehindNow), in KVS server time: ' +
      'from the last frame read before each jump to the first frame read after it; never inferred.',
  },
  {
    name: 'MillisBehindNow',
    prometheus: 'kvs_infer_behind_now_ms',
    kind: 'gauge',
    unit: 'Milliseconds',
    scope: 'stream',
    help:
      'How far the last fragment read is behind the newest fragment of the stream, ' +
      'as GetMedia reports it (MillisBehindNow).',
  },
  {
    name: 'CostPer1000Inferences',
    prometheus: 'kvs_infer_cost_per_1000_inferences_dollars',
    kind: 'gauge',
    unit: 'None',
    scope: 'stream',
    help:
      'GetMediaCost per 1,000 FramesInferred since the lease began on this worker, in US dollars; ' +
      'absent before the first inference.',
  },
  // Worker scope
  {
    name: 'DecodeQueueDepth',
    prometheus: 'kvs_infer_decode_queue_depth',
    kind: 'gauge',
    unit: 'Count',
    scope: 'worker',
    help: 'Frames waiting for the frame pool.',
  },
  {
    name: 'InferenceQueueDepth',
    prometheus: 'kvs_infer_inference_queue_depth',
    kind: 'gauge',
    unit: 'Count',
    scope: 'worker',
    help: 'Images waiting for an endpoint call.',
  },
  {
    name: 'InferenceInFlight',
    prometheus: 'kvs_infer_inference_in_flight',
    kind: 'gauge',
    unit: 'Count',
    scope: 'worker',
    help: 'InvokeEndpoint calls under way.',
  },
  {
    name: 'PoolUtilization',
    prometheus: 'kvs_infer_pool_utilization_percent',
    kind: 'gauge',
    unit: 'Percent',
    scope: 'worker',
    help: 'Share of the time of the frame pool threads spent on frames since the worker started.',
  },
  {
    name: 'CurrentLeases',
    prometheus: 'kvs_infer_current_leases',
    kind: 'gauge',
    unit: 'Count',
    scope: 'worker',
    help: "Stream leases held by this worker (KIT's Current Lease Total; by WorkerId, its Lease Count per Worker).",
    byApp: true,
  },
  {
    name: 'NumWorkers',
    prometheus: 'kvs_infer_workers',
    kind: 'gauge',
    unit: 'Count',
    scope: 'worker',
    help: "Workers seen in the lease table (KIT's Number of Workers).",
  },
  {
    name: 'ReadersPaused',
    prometheus: 'kvs_infer_readers_paused',
    kind: 'gauge',
    unit: 'Count',
    scope: 'worker',
    help: 'Media readers waiting for room in the pipeline (backpressure).',
  },
  {
    name: 'FramesInFlight',
    prometheus: 'kvs_infer_frames_in_flight',
    kind: 'gauge',
    unit: 'Count',
    scope: 'worker',
    help:
      'Sampled frames not yet published or settled, over every stream: ' +
      'bounded by the decode slots, the endpoint stage and the publisher.',
  },
  {
    name: 'BytesInFlight',
    prometheus: 'kvs_infer_bytes_in_flight',
    kind: 'gauge',
    unit: 'Bytes',
    scope: 'worker',
    help:
      'Bytes the pipeline holds: compressed frames in the decode slots, ' +
      'images and answers in the endpoint stage, records in the publisher.',
  },
  {
    name: 'LeasesTaken',
    prometheus: 'kvs_infer_leases_taken_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'worker',
    help: 'Stream leases acquired by this worker.',
  },
  {
    name: 'LeasesLost',
    prometheus: 'kvs_infer_leases_lost_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'worker',
    help: 'Stream leases this worker held and found taken or expired.',
  },
  {
    name: 'LeasesStolen',
    prometheus: 'kvs_infer_leases_stolen_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'worker',
    help: 'Stream leases this worker took from another worker to balance the load.',
  },
  {
    name: 'LeasesRenewed',
    prometheus: 'kvs_infer_leases_renewed_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'worker',
    help: 'Lease renewals written by this worker.',
  },
  {
    name: 'CheckpointsWritten',
    prometheus: 'kvs_infer_checkpoints_written_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'worker',
    help: 'Checkpoints written to the lease table.',
  },
  {
    name: 'LeaseTableReadUnits',
    prometheus: 'kvs_infer_lease_table_read_units_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'worker',
    help: "Read capacity units this worker's lease-table calls consumed, as DynamoDB reports them.",
  },
  {
    name: 'LeaseTableWriteUnits',
    prometheus: 'kvs_infer_lease_table_write_units_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'worker',
    help: "Write capacity units this worker's lease-table calls consumed (a failed conditional write counted as 1).",
  },
  {
    name: 'LeaseSyncs',
    prometheus: 'kvs_infer_lease_syncs_total',
    kind: 'counter',
    unit: 'Count',
    scope: 'worker',
    help: "Stream discovery and lease sync passes (KIT's Lease Sync Metrics).",
  },
  {
    name: 'LeaseSyncLatency',
    prometheus: 'kvs_infer_lease_sync_latency_ms',
    kind: 'histogram',
    unit: 'Milliseconds',
    scope: 'worker',
    help: 'Duration of each stream discovery and lease sync pass.',
  },
] as const satisfies readonly MetricDefinition[];

type Metric = (typeof METRICS)[number];
export type MetricName = Metric['name'];
export type CounterName = Extract<Metric, { kind: 'counter' }>['name'];
export type GaugeName = Extract<Metric, { kind: 'gauge' }>['name'];
export type HistogramName = Extract<Metric, { kind: 'histogram' }>['name'];

/** The stages of a sampled frame's path, in order: each ends where the next begins (the debug page shows them so). */
export const PIPELINE_STAGES = [
  { metric: 'IngestToProcessLatency', from: 'ingest', to: 'received' },
  { metric: 'ReceivedToDecodedLatency', from: 'received', to: 'decoded' },
  { metric: 'DecodedToInvokedLatency', from: 'decoded', to: 'endpoint called' },
  { metric: 'InvokedToInferredLatency', from: 'endpoint called', to: 'inferred' },
  { metric: 'InferredToPublishedLatency', from: 'inferred', to: 'published' },
] as const satisfies readonly { metric: HistogramName; from: string; to: string }[];

export type StageMetricName = (typeof PIPELINE_STAGES)[number]['metric'];

const BY_NAME: ReadonlyMap<string, MetricDefinition> = new Map(METRICS.map((m) => [m.name, m]));

/** The definition of `name`, or undefined for a name not in the table. */
export function metricDefinition(name: string): MetricDefinition | undefined {
  return BY_NAME.get(name);
}
