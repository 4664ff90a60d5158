// `kvs-infer machines`: the lease machine's diagram on stdout or in a file, in the format asked for.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import t from 'tap';
import { runCli } from '../helpers/cli.js';

t.test('prints the Mermaid diagram by default', async (t) => {
  const { code, stdout, stderr } = await runCli(['machines']);
  t.equal(code, 0, stderr);
  t.match(stdout, /^---\ntitle: lease\n---\nstateDiagram-v2\n {2}\[\*\] --> acquiring\n/);
  t.match(stdout, /^ {2}state reading \{$/m);
  t.match(stdout, /^ {2}acquiring --> reading : acquirer done$/m);
});

t.test('--format dot prints Graphviz DOT', async (t) => {
  const { code, stdout, stderr } = await runCli(['machines', '--format', 'dot']);
  t.equal(code, 0, stderr);
  t.match(stdout, /^digraph "lease" \{\n/);
  t.match(stdout, /subgraph "cluster_lease.reading" \{/);
});

t.test('--format svg --out FILE writes a parseable SVG and prints nothing', async (t) => {
  const out = join(t.testdir(), 'lease.svg');
  const { code, stdout, stderr } = await runCli(['machines', '--format', 'svg', '--out', out]);
  t.equal(code, 0, stderr);
  t.equal(stdout, '');
  const svg = await readFile(out, 'utf8');
  const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_' }).parse(svg) as {
    svg: Record<string, unknown>;
  };
  t.equal(parsed.svg['@_data-machine'], 'lease');
  t.match(
    svg,
    new RegExp(
      /<g id="state-lease-reading-media-streaming" class="state state-atomic" /.source +
        /data-state="lease.reading.media.streaming">/.source,
    ),
  );
});

t.test('an unknown format exits 1 naming the option', async (t) => {
  const { code, stdout, stderr } = await runCli(['machines', '--format', 'png']);
  t.equal(code, 1);
  t.equal(stdout, '');
  t.match(stderr, /^USAGE: --format must be one of mermaid, dot, svg, got "png"\n/);
  t.match(stderr, /usage: kvs-infer machines \[--format mermaid\|dot\|svg\] \[--out FILE\]/);
});

t.test('an unknown option exits 1', async (t) => {
  const { code, stderr } = await runCli(['machines', '--colour', 'red']);
  t.equal(code, 1);
  t.match(stderr, /--colour/);
});
