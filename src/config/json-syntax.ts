// JSON.parse with errors that say where: V8's messages give a position for some mistakes and not
// for others ("Unexpected token '}', ... is not valid JSON"), so a scanner finds the offset itself.

export interface JsonSyntaxProblem {
  /** 0-based offset in the text (after a leading byte-order mark, if any, is dropped). */
  offset: number;
  /** 1-based. */
  line: number;
  column: number;
  reason: string;
}

class Stop extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** A validating recursive-descent scan of RFC 8259 JSON; builds nothing, only finds the first error. */
class Scanner {
  #at = 0;

  constructor(private readonly text: string) {}

  scan(): void {
    this.#ws();
    this.#value();
    this.#ws();
    if (this.#at < this.text.length) this.#fail(`unexpected ${this.#here()} after the end of the JSON value`);
  }

  #here(): string {
    return this.#at >= this.text.length ? 'end of input' : JSON.stringify(this.text[this.#at]);
  }

  #fail(reason: string): never {
    throw new Stop(this.#at, reason);
  }

  #ws(): void {
    while (this.#at < this.text.length && ' \t\n\r'.includes(this.text[this.#at]!)) this.#at++;
  }

  #expect(char: string, what: string): void {
    if (this.text[this.#at] !== char) this.#fail(`expected ${what}, found ${this.#here()}`);
    this.#at++;
  }

  #value(): void {
    const c = this.text[this.#at];
    if (c === '{') return this.#object();
    if (c === '[') return this.#array();
    if (c === '"') return this.#string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.#number();
    for (const word of ['true', 'false', 'null']) {
      if (this.text.startsWith(word, this.#at)) {
        this.#at += word.length;
        return;
      }
    }
    this.#fail(`expected a value, found ${this.#here()}`);
  }

  #object(): void {
    this.#at++;
    this.#ws();
    if (this.text[this.#at] === '}') {
      this.#at++;
      return;
    }
    for (;;) {
      this.#ws();
      if (this.text[this.#at] !== '"') this.#fail(`expected a double-quoted property name, found ${this.#here()}`);
      this.#string();
      this.#ws();
      this.#expect(':', "':' after the property name");
      this.#ws();
      this.#value();
      this.#ws();
      if (this.text[this.#at] === '}') {
        this.#at++;
        return;
      }
      this.#expect(',', "',' or '}' after the property value");
    }
  }

  #array(): void {
    this.#at++;
    this.#ws();
    if (this.text[this.#at] === ']') {
      this.#at++;
      return;
    }
    for (;;) {
      this.#ws();
      this.#value();
      this.#ws();
      if (this.text[this.#at] === ']') {
        this.#at++;
        return;
      }
      this.#expect(',', "',' or ']' after the array element");
    }
  }

  #string(): void {
    this.#at++;
    for (;;) {
      const c = this.text[this.#at];
      if (c === undefined) this.#fail('unterminated string');
      if (c === '"') {
        this.#at++;
        return;
      }
      if (c < ' ') this.#fail('control character in a string (write it as an escape such as \\n)');
      if (c === '\\') {
        const e = this.text[this.#at + 1];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          this.#at += 2;
        } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.#at + 2, this.#at + 6))) {
          this.#at += 6;
        } else {
          this.#fail('bad escape in a string');
        }
        continue;
      }
      this.#at++;
    }
  }

  #number(): void {
    const match = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(this.text.slice(this.#at, this.#at + 400));
    if (match === null) this.#fail(`bad number starting ${this.#here()}`);
    this.#at += match[0].length;
  }
}

function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/**
 * Where `text` stops being JSON, or undefined when it is JSON. Only called after JSON.parse failed,
 * so its speed does not matter; a pathological nesting depth that overflows the stack gives undefined.
 */
export function findJsonSyntaxProblem(text: string): JsonSyntaxProblem | undefined {
  try {
    new Scanner(text).scan();
    return undefined;
  } catch (error) {
    if (!(error instanceof Stop)) return undefined;
    return { offset: error.offset, ...position(text, error.offset), reason: error.reason };
  }
}
