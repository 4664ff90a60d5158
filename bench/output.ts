// Writes what a scenario measured where people and tools read it: `<scenario>.json` (figures with the
// machine and versions they were measured on), `<scenario>.md` (the table and conclusions), one SVG per plot.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { arch, availableParallelism, cpus, type as osType, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderPlot } from './plot.js';
import type { BenchReport } from './report.js';

export interface Machine {
  cpu: string;
  cores: number;
  memoryBytes: number;
  os: string;
}

export interface Versions {
  node: string;
  'kvs-infer': string | null;
  ffmpeg: string | null;
  'node-av': string | null;
  sharp: string | null;
  'jpeg-turbo': string | null;
  piscina: string | null;
}

export interface RunMetadata {
  startedAt: Date;
  /** Wall-clock seconds the scenario took. */
  seconds: number;
}

/** The JSON written for a scenario. */
export interface ReportFile {
  scenario: BenchReport['scenario'];
  machine: Machine;
  versions: Versions;
  settings: Record<string, unknown>;
  figures: Record<string, unknown>;
  table: BenchReport['table'];
  conclusions: string[];
  plots: BenchReport['plots'];
  startedAt: string;
  seconds: number;
}

export interface WrittenReport {
  json: string;
  markdown: string;
  /** One SVG per plot, in the report's order. */
  plots: string[];
  /** The extra copy of the JSON asked for with `json`, when it was. */
  extraJson?: string;
}

/**
 * The checkout's root: the nearest directory above this module whose package.json is kvs-infer's (works from bench/ and
 * from dist/bench/).
 */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && readJson(manifest)?.name === 'kvs-infer') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no kvs-infer package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

function readJson(path: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

export function machine(): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    os: `${osType()} ${release()} ${arch()}`,
  };
}

/** `ffmpeg -version`'s version, or null when there is no ffmpeg on the PATH. */
export function ffmpegVersion(): string | null {
  const result = spawnSync('ffmpeg', ['-hide_banner', '-version'], { encoding: 'utf8' });
  if (result.status !== 0) return null;
  return /ffmpeg version (\S+)/.exec(result.stdout)?.[1] ?? 'unknown';
}

export function versions(root = repoRoot()): Versions {
  const version = (manifest: string) => {
    const value = readJson(manifest)?.version;
    return typeof value === 'string' ? value : null;
  };
  const dependency = (name: string) => version(join(root, 'node_modules', name, 'package.json'));
  return {
    node: process.version,
    'kvs-infer': version(join(root, 'package.json')),
    ffmpeg: ffmpegVersion(),
    'node-av': dependency('node-av'),
    sharp: dependency('sharp'),
    'jpeg-turbo': dependency('@julusian/jpeg-turbo'),
    piscina: dependency('piscina'),
  };
}

/** One line on the machine and versions, for Markdown. */
export function describeMachine(m: Machine, v: Versions): string {
  const libraries = (['node-av', 'sharp', 'jpeg-turbo', 'piscina'] as const)
    .map((name) => `${name} ${v[name] ?? '?'}`)
    .join(', ');
  return (
    `${m.cpu}, ${m.cores} cores, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB, ${m.os}; Node ${v.node}, ` +
    `kvs-infer ${v['kvs-infer'] ?? '?'}, ${libraries}${v.ffmpeg ? `, ffmpeg ${v.ffmpeg}` : ', no ffmpeg'}`
  );
}

/** A GitHub-flavoured Markdown table; `|` inside a cell is escaped. */
export function markdownTable(table: BenchReport['table']): string {
  const cell = (value: string | number) => String(value).replaceAll('|', '\\|').replaceAll('\n', ' ');
  const line = (cells: (string | number)[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(table.columns), line(table.columns.map(() => '---')), ...table.rows.map(line)].join('\n');
}

/** The table, then the conclusions as a list. */
export function markdownBody(report: Pick<BenchReport, 'table' | 'conclusions'>): string {
  const conclusions = report.conclusions.map((c) => `- ${c}`).join('\n');
  return conclusions ? `${markdownTable(report.table)}\n\n${conclusions}\n` : `${markdownTable(report.table)}\n`;
}

export function reportFile(report: BenchReport, meta: RunMetadata, m = machine(), v = versions()): ReportFile {
  return {
    scenario: report.scenario,
    machine: m,
    versions: v,
    settings: report.settings,
    figures: report.figures,
    table: report.table,
    conclusions: report.conclusions,
    plots: report.plots,
    startedAt: meta.startedAt.toISOString(),
    seconds: meta.seconds,
  };
}

/**
 * Writes `<dir>/<scenario>.json`, `<dir>/<scenario>.md` and `<dir>/<plot id>.svg`, and the JSON to `json` too when
 * given.
 */
export async function writeReport(
  report: BenchReport,
  meta: RunMetadata,
  options: { dir: string; json?: string },
): Promise<WrittenReport> {
  const file = reportFile(report, meta);
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true });
  const text = `${JSON.stringify(file, null, 2)}\n`;
  const json = join(dir, `${report.scenario}.json`);
  await writeFile(json, text);
  const markdown = join(dir, `${report.scenario}.md`);
  const settings = Object.entries(report.settings)
    .map(([key, value]) => `${key} ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');
  const images = report.plots.map((plot) => `![${plot.title}](${plot.id}.svg)`).join('\n\n');
  await writeFile(
    markdown,
    [
      `# ${report.scenario}`,
      '',
      `${describeMachine(file.machine, file.versions)}.`,
      '',
      `Settings: ${settings}. Started ${file.startedAt}, ${meta.seconds.toFixed(0)} s.`,
      '',
      markdownBody(report),
      images ? `${images}\n` : '',
    ].join('\n'),
  );
  const plots: string[] = [];
  for (const plot of report.plots) {
    const path = join(dir, `${plot.id}.svg`);
    await writeFile(path, renderPlot(plot));
    plots.push(path);
  }
  const written: WrittenReport = { json, markdown, plots };
  if (options.json !== undefined) {
    await mkdir(dirname(resolve(options.json)), { recursive: true });
    await writeFile(options.json, text);
    written.extraJson = resolve(options.json);
  }
  return written;
}
