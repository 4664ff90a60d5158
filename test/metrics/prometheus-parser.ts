// A strict reader of the Prometheus text exposition format 0.0.4, written from the format's description
// (prometheus.io/docs/instrumenting/exposition_formats/), to check what /metrics serves.
//
// Rules checked: lines end in \n (the last one too); `# HELP name text` (text escapes only \\ and \n) and
// `# TYPE name counter|gauge|histogram|summary|untyped` at most once per family, TYPE before the family's
// first sample; other `#` lines are comments; a sample is `name{label="value",...} number [timestamp]`
// with metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (no duplicates, `quantile`
// only on summaries), label values escaping only \\ \" and \n; values are Go floats (NaN, +Inf, -Inf too);
// a family's samples are contiguous; a summary's samples are name{...,quantile}, name_sum and name_count;
// no two samples share name and labels.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string | undefined;
  type: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const FLOAT = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)$/;

export function parsePrometheus(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition does not end with a line feed');
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: Family | undefined;
  const family = (name: string): Family => {
    let f = families.get(name);
    if (f === undefined) {
      f = { name, help: undefined, type: 'untyped', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  const lines = text.split('\n').slice(0, -1);
  lines.forEach((line, n) => {
    const fail = (why: string): never => {
      throw new Error(`line ${n + 1} ${JSON.stringify(line)}: ${why}`);
    };
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (m === null) return; // a comment
      const [, what, name, rest] = m as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name) || METRIC_NAME.exec(name)![0] !== name) fail('bad metric name');
      const f = family(name);
      if (f.samples.length > 0) fail(`${what} after the family's samples`);
      if (what === 'HELP') {
        if (f.help !== undefined) fail('second HELP');
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) fail('HELP escapes something other than \\\\ and \\n');
        f.help = rest.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
      } else {
        if (f.type !== 'untyped' || seen.has(`type:${name}`)) fail('second TYPE');
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) fail(`unknown type ${rest}`);
        seen.add(`type:${name}`);
        f.type = rest;
      }
      return;
    }
    const nameMatch = METRIC_NAME.exec(line) ?? fail('no metric name');
    const name = nameMatch[0];
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      rest = rest.slice(1);
      while (!rest.startsWith('}')) {
        const label = (LABEL_NAME.exec(rest) ?? fail('bad label name'))[0];
        if (label in labels) fail(`label ${label} twice`);
        rest = rest.slice(label.length);
        if (!rest.startsWith('="')) fail('label without ="');
        rest = rest.slice(2);
        let value = '';
        for (;;) {
          const c = rest[0] ?? fail('unterminated label value');
          if (c === '"') break;
          if (c === '\n') fail('raw line feed in a label value');
          if (c === '\\') {
            const e = rest[1];
            if (e === '\\') value += '\\';
            else if (e === '"') value += '"';
            else if (e === 'n') value += '\n';
            else fail(`bad escape \\${e ?? ''}`);
            rest = rest.slice(2);
          } else {
            value += c;
            rest = rest.slice(1);
          }
        }
        labels[label] = value;
        rest = rest.slice(1);
        if (rest.startsWith(',')) rest = rest.slice(1);
        else if (!rest.startsWith('}')) fail('labels not separated by a comma');
      }
      rest = rest.slice(1);
    }
    if (!rest.startsWith(' ')) fail('no space before the value');
    const fields = rest.trim().split(/ +/);
    if (fields.length > 2 || !FLOAT.test(fields[0]!)) fail('bad value');
    if (fields.length === 2 && !/^-?\d+$/.test(fields[1]!)) fail('bad timestamp');
    const raw = fields[0]!;
    const value = raw === 'NaN' ? Number.NaN : raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);

    const base =
      families.get(name)?.type === 'summary' || families.get(name)?.type === 'histogram'
        ? name
        : name.replace(/_(sum|count|bucket)$/, '');
    const f = families.has(base) && families.get(base)!.type !== 'untyped' ? families.get(base)! : family(name);
    if (current !== f && f.samples.length > 0) fail(`samples of ${f.name} are not contiguous`);
    current = f;
    if ('quantile' in labels && f.type !== 'summary') fail('quantile label outside a summary');
    if (f.type === 'summary' && name === f.name && !('quantile' in labels)) fail('summary sample without quantile');
    if (f.type === 'counter' || f.type === 'gauge') if (name !== f.name) fail(`sample ${name} in family ${f.name}`);
    const identity = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(identity)) fail('duplicate sample');
    seen.add(identity);
    f.samples.push({ name, labels, value });
  });
  return families;
}
