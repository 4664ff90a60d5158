// `kvs-infer machines`: the lease machine's diagram as Mermaid, Graphviz DOT or a standalone SVG.

import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type DiagramDescription, describeDiagram, toDot, toMermaid } from '../debug/machine-diagram.js';
import { toSvg } from '../debug/machine-svg.js';
import { KvsInferError } from '../errors.js';
import { leaseMachine } from '../machines/index.js';
import { unwritable } from './files.js';

const FORMATS: Record<string, (description: DiagramDescription) => string> = {
  mermaid: toMermaid,
  dot: toDot,
  svg: toSvg,
};

export async function machines(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      format: { type: 'string', default: 'mermaid' },
      out: { type: 'string' },
    },
  });
  const render = Object.hasOwn(FORMATS, values.format) ? FORMATS[values.format] : undefined;
  if (render === undefined) {
    throw new KvsInferError(
      'USAGE',
      `--format must be one of ${Object.keys(FORMATS).join(', ')}, got "${values.format}"`,
    );
  }
  const text = render(describeDiagram(leaseMachine));
  if (values.out === undefined) {
    process.stdout.write(text);
    return 0;
  }
  await writeFile(values.out, text).catch((error: unknown) => {
    throw unwritable(`--out ${values.out}`, error);
  });
  return 0;
}
