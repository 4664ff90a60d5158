// The replay range's times: ISO 8601 with a zone or epoch ms, and what is refused with the option named.

import t from 'tap';
import { parseRange, parseTime } from '../../src/replay/time-range.js';

t.test('ISO 8601 with a zone, a date alone (UTC), and epoch milliseconds', async (t) => {
  // Prepare
  const cases: [string, number][] = [
    ['2026-12-06T10:00:00Z', Date.UTC(2026, 11, 6, 10)],
    ['2026-12-06T10:00Z', Date.UTC(2026, 11, 6, 10)],
    ['2026-12-06t10:00:00.25z', Date.UTC(2026, 11, 6, 10, 0, 0, 250)],
    ['2026-12-06T10:00:00.123456789Z', Date.UTC(2026, 11, 6, 10, 0, 0, 123)],
    ['2026-12-06T11:30:00+01:30', Date.UTC(2026, 11, 6, 10)],
    ['2026-12-06T05:00:00-05:00', Date.UTC(2026, 11, 6, 10)],
    ['2026-12-06', Date.UTC(2026, 11, 6)],
    ['1796551200000', 1796551200000],
  ];

  for (const [text, ms] of cases) {
    // Act and Assess
    t.equal(parseTime('start', text), ms, text);
  }
});

t.test('what is not a time is refused with the option and the value named', async (t) => {
  // Prepare
  const cases: [string, string][] = [
    ['yesterday', '--end must be ISO 8601 (2026-12-06T10:00:00Z) or epoch milliseconds, got "yesterday"'],
    ['1796551200', '--end is epoch milliseconds (that looks like seconds: add 000), got "1796551200"'],
    ['99999999999999999', '--end is past the largest date, got "99999999999999999"'],
    ['2026-12-06T10:00:00', '--end needs a time zone (Z or +hh:mm), got "2026-12-06T10:00:00"'],
    ['2026-02-30T10:00Z', '--end is not a valid date and time, got "2026-02-30T10:00Z"'],
    ['2026-12-06T24:00Z', '--end is not a valid date and time, got "2026-12-06T24:00Z"'],
    ['2026-12-06T10:00+24:00', '--end has a time zone offset out of range, got "2026-12-06T10:00+24:00"'],
    [
      '2026-12-06T10:00:00+0100',
      '--end must be ISO 8601 (2026-12-06T10:00:00Z) or epoch milliseconds, got ' + '"2026-12-06T10:00:00+0100"',
    ],
  ];

  for (const [text, message] of cases) {
    // Act and Assess
    t.throws(() => parseTime('end', text), { code: 'REPLAY_BAD_TIME', message }, text);
  }
});

t.test('a range may be one instant, never end before it starts', async (t) => {
  // Act and Assess
  t.same(parseRange('1796551200000', '2026-12-06T10:00Z'), { start: 1796551200000, end: 1796551200000 });
  t.throws(() => parseRange('2026-12-06T10:00Z', '1796551199999'), {
    code: 'REPLAY_BAD_RANGE',
    message: '--end (2026-12-06T09:59:59.999Z) is before --start (2026-12-06T10:00:00.000Z)',
  });
});
