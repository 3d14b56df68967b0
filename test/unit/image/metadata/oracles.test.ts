/**
 * The engine's hand-written pieces checked against the libraries docker/metadata-action
 * itself runs them with (test-only dependencies): dates against moment-timezone, templates
 * against Handlebars, rule fields against csv-parse. Each table is run through both, and
 * the outputs must be equal (or, where Conveyor refuses on purpose, ours must refuse).
 */
import { parse as csvParse } from 'csv-parse/sync'
import handlebars from 'handlebars'
import moment from 'moment-timezone'
import { describe, expect, it } from 'vitest'
import { FieldSyntaxError, splitFields } from '../../../../src/image/metadata/csv.js'
import { DateFormatError, formatDate } from '../../../../src/image/metadata/date-format.js'
import { isRawStatement, renderTemplate } from '../../../../src/image/metadata/template.js'

const INSTANTS = [
  '2020-01-10T00:30:00.000Z', // the table's "now"
  '2021-01-01T00:00:00.000Z', // ISO week 53 of 2020, locale week 1 of 2021
  '2019-12-30T12:34:56.789Z', // ISO week 1 of 2020
  '2024-02-29T23:59:59.999Z', // leap day, last millisecond
  '2024-03-31T01:30:00.005Z', // Europe's spring-forward hour
  '2024-11-03T06:30:00.050Z', // America/New_York's fall-back hour
  '2024-12-31T15:00:00.500Z', // New Year already in Asia
  '2025-07-04T12:00:00.000Z',
  '1999-12-31T23:59:59.000Z',
  '2038-01-19T03:14:08.000Z'
]
const ZONES = [
  'UTC',
  'Asia/Tokyo',
  'America/New_York',
  'Europe/Paris',
  'Europe/London',
  'Asia/Kolkata', // +05:30
  'Australia/Lord_Howe', // 30-minute daylight saving
  'Pacific/Chatham', // +12:45
  'America/St_Johns', // -03:30
  'Pacific/Kiritimati', // +14
  'asia/tokyo' // names are case-insensitive in both
]
const FORMATS = [
  'YYYYMMDD',
  'YYYYMMDD-HHmmss',
  'YYYY-MM-DDTHH:mm:ss.SSS[Z]',
  'YYYY-MM-DD-HHmmSS',
  'dddd, MMMM Do YYYY, h:mm:ss a',
  'ddd MMM D YY hh A k kk',
  'M Mo MM MMM MMMM Q Qo',
  'D Do DD DDD DDDo DDDD',
  'd do dd ddd dddd e E',
  'w wo ww W Wo WW gg gggg ggggg GG GGGG GGGGG',
  'Y YYYY YYYYY YYYYYY y yo yy yyy yyyy N NN NNN NNNN NNNNN',
  'H HH h hh k kk m mm s ss a A',
  'hmm hmmss Hmm Hmmss',
  'S SS SSS SSSS SSSSS SSSSSS SSSSSSS SSSSSSSS SSSSSSSSS',
  'Z ZZ X x',
  'LT LTS L LL LLL LLLL l ll lll llll',
  '[today is] dddd [the] Do',
  '\\Y\\Y\\Y\\Y YYYY \\[x\\]',
  '[LL] LL [YYYY]',
  'TtFfJjOoPpRrUuVv',
  '',
  'YYYY.MM.DD_HH-mm'
]

describe('formatDate against moment-timezone', () => {
  const rows = INSTANTS.flatMap(at => ZONES.map(zone => [at, zone] as const))
  it.each(rows)('%s in %s', (at, zone) => {
    const date = new Date(at)
    for (const format of FORMATS) {
      const expected = moment(date).tz(zone).format(format)
      expect(`${format} => ${formatDate(date, format, zone)}`).toBe(`${format} => ${expected}`)
    }
    // No format: moment's default (with [Z] at offset zero).
    expect(formatDate(date, undefined, zone)).toBe(moment(date).tz(zone).format())
  })

  it('gives z and zz as moment-timezone spells them, or refuses', () => {
    let given = 0
    for (const at of INSTANTS) {
      for (const zone of ZONES) {
        const expected = moment(new Date(at)).tz(zone).format('z zz')
        try {
          expect(formatDate(new Date(at), 'z zz', zone)).toBe(expected)
          given++
        } catch (error) {
          if (!(error instanceof DateFormatError)) throw error
          expect(error.message).toMatch(/use Z \([+-]\d\d:\d\d\) or ZZ instead/)
        }
      }
    }
    expect(given).toBeGreaterThanOrEqual(INSTANTS.length * 2) // UTC and New York at least
  })

  it('refuses a zone moment-timezone does not know either', () => {
    expect(moment.tz.zone('Mars/Olympus')).toBeNull()
    expect(() => formatDate(new Date(0), 'YYYY', 'Mars/Olympus')).toThrow(
      /unknown time zone "Mars\/Olympus": expected an IANA name/
    )
  })
})

/** metadata-action's global-expression context: functions Handlebars calls. */
const VALUES: Record<string, string> = {
  branch: 'feature/x=1&y<2>"\'`',
  tag: 'v1.2.3',
  sha: '860c190',
  base_ref: '',
  is_default_branch: 'true'
}
const hbsContext = Object.fromEntries(Object.entries(VALUES).map(([k, v]) => [k, () => v]))
const TEMPLATES = [
  'plain',
  '{{branch}}',
  'a-{{ branch }}-b',
  '{{{branch}}}',
  '{{& branch}}',
  '{{tag}}-{{sha}}-foo',
  '{{base_ref}}-foo',
  'x {{~ sha ~}} y',
  'x {{~sha}} y',
  'x {{sha~}} y',
  '{{! a comment }}after',
  '{{!-- a }} comment --}}after',
  'x {{~!-- c --~}} y',
  '\\{{branch}} and {{sha}}',
  'a}}b{{sha}}',
  '{{is_default_branch}}',
  '{{unknown}}',
  ''
]

describe('renderTemplate against Handlebars', () => {
  it.each(TEMPLATES.map(t => [t]))('%j', template => {
    const expected = handlebars.compile(template)(hbsContext)
    const ours = renderTemplate(template, expr => VALUES[expr.name])
    expect(ours).toBe(expected)
  })

  it.each([
    ['{{ raw }}.{{ version }}'],
    ['{{ version }},{{raw }.'],
    ['{{ raw }}'],
    ['{{ raw}}'],
    ['{{raw}}'],
    ['v{{raw}}'],
    ['{{raw}} '],
    ['{{{raw}}}'],
    ['{{version}}'],
    ['{{raw.x}}']
  ])('isRawStatement(%j) as metadata-action decides it from the Handlebars AST', pattern => {
    let expected = false
    try {
      const ast = handlebars.parseWithoutProcessing(pattern)
      const first = ast.body[0] as unknown as { type: string; path: { parts: string[] } }
      expected =
        ast.body.length === 1 &&
        first.type === 'MustacheStatement' &&
        first.path.parts.length === 1 &&
        first.path.parts[0] === 'raw'
    } catch {
      expected = false
    }
    expect(isRawStatement(pattern)).toBe(expected)
  })
})

const LINES = [
  'type=ref,event=branch',
  'type=match,"pattern=\\d{1,3}.\\d",group=1',
  'type=raw,"value=a ""quoted"" word"',
  'type=semver,pattern={{version}},"match=v(\\d.\\d.\\d)$"',
  'type=raw,value=x,',
  ',type=raw,value=x',
  'type=raw,,value=x',
  '"type=raw","value=a,b"',
  'foo',
  'type=raw,value="x"',
  'type=raw,"value=x"y',
  'type=raw,"value=x',
  'type=raw, "value=x"'
]

describe('splitFields against csv-parse', () => {
  it.each(LINES.map(l => [l]))('%s', line => {
    let expected: string[] | undefined
    try {
      expected = (csvParse(line, { relaxColumnCount: true, skipEmptyLines: true }) as string[][])[0]
    } catch {
      expected = undefined
    }
    if (expected === undefined) expect(() => splitFields(line)).toThrow(FieldSyntaxError)
    else expect(splitFields(line)).toEqual(expected)
  })
})
