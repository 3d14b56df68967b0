/**
 * Dates formatted the way moment.js (English locale) formats them, in an IANA time zone,
 * for `{{date '<format>' tz='<zone>'}}` and `{{commit_date ...}}`. docker/metadata-action
 * renders these with moment-timezone; here the wall clock of the zone comes from Intl, and
 * the tokens follow moment's documented table (https://momentjs.com/docs/#/displaying/format/):
 * `YYYY MM DD HH mm ss SSS`, names (`MMMM dddd`), ordinals (`Do`), weeks (`w W gggg GGGG`),
 * offsets (`Z ZZ`), `X x`, the `L LL LLL LLLL LT LTS` shorthands, `[escaped text]`.
 * Time-zone abbreviations (`z`, `zz`) are given only when Intl spells them as tzdata does
 * (`UTC`, `EST`, ...), and refused otherwise, since a different spelling would silently
 * change a tag. Pure.
 */

/** Why a date could not be formatted; the caller names the input and the rule. */
export class DateFormatError extends Error {
  override name = 'DateFormatError'
}

/** The wall clock of an instant in a zone. */
interface Wall {
  year: number
  month: number // 0-11
  day: number
  hour: number
  minute: number
  second: number
  ms: number
  weekday: number // 0 = Sunday
  dayOfYear: number
  offset: number // minutes east of UTC
  epoch: number
  zone: string
}

const MONTHS =
  'January February March April May June July August September October November December'.split(' ')
const DAYS = 'Sunday Monday Tuesday Wednesday Thursday Friday Saturday'.split(' ')
const LONG: Record<string, string> = {
  LTS: 'h:mm:ss A',
  LT: 'h:mm A',
  L: 'MM/DD/YYYY',
  LL: 'MMMM D, YYYY',
  LLL: 'MMMM D, YYYY h:mm A',
  LLLL: 'dddd, MMMM D, YYYY h:mm A'
}
const LOCAL_TOKENS = /(\[[^[]*\])|(\\)?(LTS|LT|LL?L?L?|l{1,4})/g
const TOKENS =
  /(\[[^[]*\])|(\\)?([Hh]mm(ss)?|Mo|MM?M?M?|Do|DDDo|DD?D?D?|ddd?d?|do?|w[o|w]?|W[o|W]?|Qo?|N{1,5}|YYYYYY|YYYYY|YYYY|YY|y{2,4}|yo?|gg(ggg?)?|GG(GGG?)?|e|E|a|A|hh?|HH?|kk?|mm?|ss?|S{1,9}|x|X|zz?|ZZ?|.)/g

function wallClock(date: Date, zone: string): Wall {
  if (Number.isNaN(date.getTime())) throw new DateFormatError('the date is not a valid date')
  let parts: Intl.DateTimeFormatPart[]
  try {
    parts = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short'
    }).formatToParts(date)
  } catch {
    throw new DateFormatError(
      `unknown time zone ${JSON.stringify(zone)}: expected an IANA name such as UTC, Europe/Paris or Asia/Tokyo`
    )
  }
  const get = (type: string): number => Number(parts.find(p => p.type === type)?.value ?? 0)
  const era = parts.find(p => p.type === 'era')?.value ?? 'AD'
  const year = era.startsWith('B') ? 1 - get('year') : get('year')
  const ms = ((date.getTime() % 1000) + 1000) % 1000
  const asUtc = Date.UTC(
    year,
    get('month') - 1,
    get('day'),
    get('hour') % 24,
    get('minute'),
    get('second')
  )
  const utcDate = new Date(asUtc)
  utcDate.setUTCFullYear(year) // Date.UTC maps years 0-99 to 1900-1999
  const wall = utcDate.getTime()
  const offset = Math.round((wall - (date.getTime() - ms)) / 60_000)
  const startOfYear = new Date(0)
  startOfYear.setUTCFullYear(year, 0, 1)
  const startOfDay = new Date(0)
  startOfDay.setUTCFullYear(year, get('month') - 1, get('day'))
  return {
    year,
    month: get('month') - 1,
    day: get('day'),
    hour: get('hour') % 24,
    minute: get('minute'),
    second: get('second'),
    ms,
    weekday: utcDate.getUTCDay(),
    dayOfYear: Math.round((startOfDay.getTime() - startOfYear.getTime()) / 86_400_000) + 1,
    offset,
    epoch: date.getTime(),
    zone
  }
}

function pad(n: number, width: number, forceSign = false): string {
  const sign = n < 0 ? '-' : forceSign ? '+' : ''
  return sign + String(Math.abs(n)).padStart(width, '0')
}

function ordinal(n: number): string {
  const b = n % 10
  const suffix =
    Math.floor((n % 100) / 10) === 1
      ? 'th'
      : b === 1
        ? 'st'
        : b === 2
          ? 'nd'
          : b === 3
            ? 'rd'
            : 'th'
  return `${n}${suffix}`
}

function daysInYear(year: number): number {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 366 : 365
}

/** moment's `firstWeekOffset`: `dow` first day of week, `doy` the January day always in week 1. */
function firstWeekOffset(year: number, dow: number, doy: number): number {
  const fwd = 7 + dow - doy
  const d = new Date(0)
  d.setUTCFullYear(year, 0, fwd)
  return -((7 + d.getUTCDay() - dow) % 7) + fwd - 1
}

function weeksInYear(year: number, dow: number, doy: number): number {
  return (
    (daysInYear(year) - firstWeekOffset(year, dow, doy) + firstWeekOffset(year + 1, dow, doy)) / 7
  )
}

/** Week of year and week-year: ISO (dow 1, doy 4) or moment's English locale (dow 0, doy 6). */
function weekOfYear(w: Wall, dow: number, doy: number): { week: number; year: number } {
  const week = Math.floor((w.dayOfYear - firstWeekOffset(w.year, dow, doy) - 1) / 7) + 1
  if (week < 1) return { year: w.year - 1, week: week + weeksInYear(w.year - 1, dow, doy) }
  const inYear = weeksInYear(w.year, dow, doy)
  if (week > inYear) return { year: w.year + 1, week: week - inYear }
  return { year: w.year, week }
}

function offsetText(offset: number, sep: string): string {
  const sign = offset < 0 ? '-' : '+'
  const abs = Math.abs(offset)
  return `${sign}${pad(Math.floor(abs / 60), 2)}${sep}${pad(abs % 60, 2)}`
}

function zoneAbbreviation(w: Wall): string {
  const name = new Intl.DateTimeFormat('en-US', { timeZone: w.zone, timeZoneName: 'short' })
    .formatToParts(new Date(w.epoch))
    .find(p => p.type === 'timeZoneName')?.value
  if (name && /^[A-Z]{2,5}$/.test(name)) return name
  throw new DateFormatError(
    `the time zone abbreviation (z) of ${w.zone} cannot be given as moment-timezone spells it; use Z (${offsetText(w.offset, ':')}) or ZZ instead`
  )
}

const h12 = (w: Wall): number => w.hour % 12 || 12
const iso = (w: Wall): { week: number; year: number } => weekOfYear(w, 1, 4)
const loc = (w: Wall): { week: number; year: number } => weekOfYear(w, 0, 6)
const eraYear = (w: Wall): number => (w.year > 0 ? w.year : 1 - w.year)

/** moment's format tokens (English locale), by token. */
const FORMATS: Record<string, (w: Wall) => string> = {
  M: w => String(w.month + 1),
  Mo: w => ordinal(w.month + 1),
  MM: w => pad(w.month + 1, 2),
  MMM: w => MONTHS[w.month]!.slice(0, 3),
  MMMM: w => MONTHS[w.month]!,
  Q: w => String(Math.floor(w.month / 3) + 1),
  Qo: w => ordinal(Math.floor(w.month / 3) + 1),
  D: w => String(w.day),
  Do: w => ordinal(w.day),
  DD: w => pad(w.day, 2),
  DDD: w => String(w.dayOfYear),
  DDDo: w => ordinal(w.dayOfYear),
  DDDD: w => pad(w.dayOfYear, 3),
  d: w => String(w.weekday),
  e: w => String(w.weekday),
  do: w => ordinal(w.weekday),
  dd: w => DAYS[w.weekday]!.slice(0, 2),
  ddd: w => DAYS[w.weekday]!.slice(0, 3),
  dddd: w => DAYS[w.weekday]!,
  E: w => String(w.weekday || 7),
  w: w => String(loc(w).week),
  wo: w => ordinal(loc(w).week),
  ww: w => pad(loc(w).week, 2),
  W: w => String(iso(w).week),
  Wo: w => ordinal(iso(w).week),
  WW: w => pad(iso(w).week, 2),
  Y: w => (w.year <= 9999 ? pad(w.year, 4) : `+${w.year}`),
  YY: w => pad(w.year % 100, 2),
  YYYY: w => pad(w.year, 4),
  YYYYY: w => pad(w.year, 5),
  YYYYYY: w => pad(w.year, 6, true),
  y: w => String(eraYear(w)),
  yo: w => ordinal(eraYear(w)),
  yy: w => pad(eraYear(w), 2),
  yyy: w => pad(eraYear(w), 3),
  yyyy: w => pad(eraYear(w), 4),
  N: w => (w.year > 0 ? 'AD' : 'BC'),
  NN: w => (w.year > 0 ? 'AD' : 'BC'),
  NNN: w => (w.year > 0 ? 'AD' : 'BC'),
  NNNN: w => (w.year > 0 ? 'Anno Domini' : 'Before Christ'),
  NNNNN: w => (w.year > 0 ? 'AD' : 'BC'),
  gg: w => pad(loc(w).year % 100, 2),
  gggg: w => pad(loc(w).year, 4),
  ggggg: w => pad(loc(w).year, 5),
  GG: w => pad(iso(w).year % 100, 2),
  GGGG: w => pad(iso(w).year, 4),
  GGGGG: w => pad(iso(w).year, 5),
  a: w => (w.hour > 11 ? 'pm' : 'am'),
  A: w => (w.hour > 11 ? 'PM' : 'AM'),
  H: w => String(w.hour),
  HH: w => pad(w.hour, 2),
  h: w => String(h12(w)),
  hh: w => pad(h12(w), 2),
  k: w => String(w.hour || 24),
  kk: w => pad(w.hour || 24, 2),
  hmm: w => `${h12(w)}${pad(w.minute, 2)}`,
  hmmss: w => `${h12(w)}${pad(w.minute, 2)}${pad(w.second, 2)}`,
  Hmm: w => `${w.hour}${pad(w.minute, 2)}`,
  Hmmss: w => `${w.hour}${pad(w.minute, 2)}${pad(w.second, 2)}`,
  m: w => String(w.minute),
  mm: w => pad(w.minute, 2),
  s: w => String(w.second),
  ss: w => pad(w.second, 2),
  Z: w => offsetText(w.offset, ':'),
  ZZ: w => offsetText(w.offset, ''),
  z: zoneAbbreviation,
  zz: zoneAbbreviation,
  X: w => String(Math.floor(w.epoch / 1000)),
  x: w => String(w.epoch)
}

/** One token's text; fractional seconds (`S` to `SSSSSSSSS`) are digits of the milliseconds. */
function token(t: string, w: Wall): string | undefined {
  if (/^S{1,9}$/.test(t)) return `${pad(w.ms, 3)}000000`.slice(0, t.length)
  return Object.hasOwn(FORMATS, t) ? FORMATS[t]!(w) : undefined
}

/** moment's long-format shorthands (`LL`, `l`, ...) expanded, as moment does before formatting. */
function expandLocalTokens(format: string): string {
  return format.replace(LOCAL_TOKENS, (match: string) => {
    const upper = LONG[match.toUpperCase()]
    if (match.startsWith('[') || match.startsWith('\\') || !upper) return match
    if (match === match.toUpperCase()) return upper
    return upper.replace(/MMMM|MM|DD|dddd/g, m => m.slice(1))
  })
}

/**
 * Format `date` in `zone` with a moment.js format string. With no format (or an empty one),
 * moment's default applies: `YYYY-MM-DDTHH:mm:ss[Z]` at offset zero, `YYYY-MM-DDTHH:mm:ssZ`
 * elsewhere. Throws DateFormatError for an unknown zone.
 */
export function formatDate(date: Date, format: string | undefined, zone = 'UTC'): string {
  const w = wallClock(date, zone)
  const fmt = format
    ? expandLocalTokens(format)
    : w.offset === 0
      ? 'YYYY-MM-DDTHH:mm:ss[Z]'
      : 'YYYY-MM-DDTHH:mm:ssZ'
  return fmt.replace(TOKENS, (match: string, bracket?: string, escaped?: string) => {
    if (bracket) return bracket.slice(1, -1)
    if (escaped) return match.slice(1)
    return token(match, w) ?? match
  })
}
