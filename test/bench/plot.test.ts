// The benchmark plots: a standalone SVG whose polylines, ticks and threshold agree with the data.

import { XMLParser } from 'fast-xml-parser';
import t from 'tap';
import { renderPlot } from '../../bench/plot.js';
import type { PlotSpec } from '../../bench/report.js';

type Node = Record<string, unknown>;

/** The SVG as plain objects; every element kept as an array so that lone ones read like many. */
function parse(svg: string): Node {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    isArray: (_name: string, _path: unknown, _leaf: boolean, isAttribute: boolean) => !isAttribute,
    textNodeName: '#text',
    parseTagValue: false,
  });
  return (parser.parse(svg, true) as { svg: Node[] }).svg[0]!;
}

const groups = (svg: Node, cls: string) => ((svg.g as Node[] | undefined) ?? []).filter((g) => g.class === cls);
/** An element's text: the parser gives a text-only element as its string, others with a `#text` field. */
const text = (node: Node | string) => (typeof node === 'string' ? node : String(node['#text'] ?? ''));
const points = (polyline: Node) =>
  String(polyline.points)
    .split(' ')
    .filter(Boolean)
    .map((pair) => pair.split(',').map(Number) as [number, number]);

/** Pixel <-> value through two ticks of an axis: the ticks are the chart's own statement of its scale. */
function scale(ticks: Node[], coordinate: 'x' | 'y') {
  const pairs = ticks.map((tick) => ({ value: Number(tick['data-value']), pixel: Number(tick[coordinate]) }));
  const [a, b] = [pairs[0]!, pairs.at(-1)!];
  return (value: number) => a.pixel + ((value - a.value) * (b.pixel - a.pixel)) / (b.value - a.value);
}

const SPEC: PlotSpec = {
  id: 'capacity-p99',
  title: 'p99 latency <by streams> & more',
  xLabel: 'streams',
  yLabel: 'p99 IngestToProcessLatency, ms',
  series: [
    {
      name: 'inference every 6',
      points: [
        { x: 10, y: 120 },
        { x: 40, y: 180 },
        { x: 20, y: 140 },
        { x: 80, y: 620 },
      ],
    },
    {
      name: 'inference every 1 & <all>',
      points: [
        { x: 10, y: 300 },
        { x: 20, y: 450 },
        { x: 40, y: 900 },
      ],
    },
  ],
  threshold: { y: 500, label: 'bound 500 ms' },
};

t.test('one polyline per series, through every point, in x order, mapped monotonically to pixels', async (t) => {
  // Prepare
  const svg = parse(renderPlot(SPEC));

  // Act
  const series = groups(svg, 'series');

  // Assess
  t.equal(series.length, 2, 'a group per series');
  series.forEach((group, index) => {
    const spec = SPEC.series[index]!;
    t.equal(group['data-name'], spec.name, 'named as the series');
    const polyline = (group.polyline as Node[])[0]!;
    const pixels = points(polyline);
    t.equal(pixels.length, spec.points.length, `${spec.name}: a vertex per point`);
    t.equal((group.circle as Node[]).length, spec.points.length, `${spec.name}: a marker per point`);
    const data = [...spec.points].sort((a, b) => a.x - b.x);
    for (let i = 1; i < data.length; i++) {
      t.ok(pixels[i]![0] > pixels[i - 1]![0], `${spec.name}: larger x is further right`);
      const rising = data[i]!.y > data[i - 1]!.y;
      t.equal(pixels[i]![1] < pixels[i - 1]![1], rising, `${spec.name}: larger y is higher up (smaller pixel y)`);
    }
  });
  // Every point where the axes' ticks say it should be.
  const xTicks = (groups(svg, 'x-ticks')[0]!.text as Node[]).filter((n) => n.class === 'tick');
  const yTicks = (groups(svg, 'y-ticks')[0]!.text as Node[]).filter((n) => n.class === 'tick');
  const [toX, toY] = [scale(xTicks, 'x'), scale(yTicks, 'y')];
  const pixels = points((series[0]!.polyline as Node[])[0]!);
  [...SPEC.series[0]!.points]
    .sort((a, b) => a.x - b.x)
    .forEach((p, i) => {
      t.ok(Math.abs(pixels[i]![0] - toX(p.x)) < 0.02, `x ${p.x} on the x scale`);
      t.ok(Math.abs(pixels[i]![1] - toY(p.y)) < 0.02, `y ${p.y} on the y scale`);
    });
  // The axes cover the data: the y axis from 0 to at least the largest y.
  const yValues = yTicks.map((tick) => Number(tick['data-value']));
  t.equal(yValues[0], 0, 'y from 0');
  t.ok(yValues.at(-1)! >= 900, 'y up to the largest point');
  t.ok(xTicks.length >= 3 && yTicks.length >= 3, 'several ticks per axis');
});

t.test('the threshold is a dashed line at its y, labelled', async (t) => {
  // Prepare
  const svg = parse(renderPlot(SPEC));
  const yTicks = (groups(svg, 'y-ticks')[0]!.text as Node[]).filter((n) => n.class === 'tick');

  // Act
  const threshold = groups(svg, 'threshold')[0]!;
  const line = (threshold.line as Node[])[0]!;

  // Assess
  t.equal(line.y1, line.y2, 'horizontal');
  t.ok(Math.abs(Number(line.y1) - scale(yTicks, 'y')(500)) < 0.02, 'at y = 500 on the y scale');
  t.ok(line['stroke-dasharray'], 'dashed');
  t.equal(text((threshold.text as Node[])[0]!), 'bound 500 ms', 'labelled');
  const legend = groups(svg, 'legend')[0]!;
  t.ok(
    (legend.text as Node[]).some((n) => text(n) === 'bound 500 ms'),
    'in the legend too',
  );
});

t.test('title, axis labels and names are escaped and read back as given', async (t) => {
  // Prepare
  const source = renderPlot(SPEC);

  // Act
  const svg = parse(source);
  const texts = svg.text as Node[];

  // Assess
  t.notMatch(source, /<by|& more|&</, 'no raw < or & from the spec in the markup');
  t.equal(text((svg.title as string[])[0]!), SPEC.title, '<title> as given, after unescaping');
  t.equal(text(texts.find((n) => n.class === 'title')!), SPEC.title, 'the visible title');
  t.equal(text(texts.find((n) => n.class === 'x-label')!), 'streams', 'x axis label');
  t.equal(text(texts.find((n) => n.class === 'y-label')!), 'p99 IngestToProcessLatency, ms', 'y axis label');
  const legend = (groups(svg, 'legend')[0]!.text as Node[]).map(text);
  t.same(legend, ['inference every 6', 'inference every 1 & <all>', 'bound 500 ms'], 'legend entries in order');
});

t.test('deterministic, and sound with one point, no threshold or no series', async (t) => {
  t.equal(renderPlot(SPEC), renderPlot(structuredClone(SPEC)), 'same spec, same bytes');
  const single = parse(
    renderPlot({
      id: 'one',
      title: 'one',
      xLabel: 'x',
      yLabel: 'y',
      series: [{ name: 's', points: [{ x: 3, y: 7 }] }],
    }),
  );
  const [[x, y]] = points((groups(single, 'series')[0]!.polyline as Node[])[0]!) as [[number, number]];
  t.ok(Number.isFinite(x) && Number.isFinite(y), 'one point lands on the chart');
  t.equal(groups(single, 'threshold').length, 0, 'no threshold drawn when none is given');
  const empty = renderPlot({ id: 'none', title: 'none', xLabel: 'x', yLabel: 'y', series: [] });
  t.notMatch(empty, /NaN|Infinity/, 'no NaN in an empty chart');
});
