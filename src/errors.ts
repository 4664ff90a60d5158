// Base class of every error kvs-infer raises: a stable `code` that callers branch on, and a `cause`.

export class KvsInferError<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
