// Base class of every error kvs-infer raises: a stable `code` that callers branch on, and a `cause`.
// Each subclass declares the union of its codes (LeaseErrorCode, PublishErrorCode ...); the codes the base class
// is raised with directly are the unions below, so that a misspelled code fails the typecheck either way.

/** A component (slots, dispatcher, publisher, exporter, sampler, emulator) built with an option out of range. */
export type OptionErrorCode = 'BAD_CONFIG';

/** A metric used against its definition (unknown name, wrong kind, labels, amount). */
export type MetricErrorCode = 'BAD_METRIC';

/** The command line and its tools. */
export type CliErrorCode =
  /** Bad arguments: the message names the option or command. */
  | 'USAGE'
  | 'INPUT_UNREADABLE'
  | 'OUTPUT_UNWRITABLE'
  /** `kvs-infer bench` outside a checkout. */
  | 'BENCH_UNAVAILABLE'
  /** The local stack's packages are left out of this install. */
  | 'LOCAL_STACK_NOT_INSTALLED'
  | 'LOCAL_STACK_FAILED'
  /** The README's generated section cannot be found to replace. */
  | 'README_MARKERS';

/** Every code the base class itself is raised with. */
export type KvsInferErrorCode = OptionErrorCode | MetricErrorCode | CliErrorCode;

export class KvsInferError<Code extends string = KvsInferErrorCode> extends Error {
  readonly code: Code;

  /** `code` is checked against `Code`, never widened to it: the base class takes only a KvsInferErrorCode. */
  constructor(code: NoInfer<Code>, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
