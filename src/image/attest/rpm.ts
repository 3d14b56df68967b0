/**
 * rpm's sqlite package database (`rpmdb.sqlite`, rpm >= 4.16: Fedora 33+, RHEL/UBI 9,
 * Amazon Linux 2023, openSUSE): the `Packages` table holds one header blob per package.
 * A header blob is `il` (index entries) and `dl` (data bytes), both big-endian int32,
 * then `il` entries of {tag, type, offset, count} and the data store. The database is
 * opened read-only with node:sqlite (Node >= 22.5, which the actions' node24 has);
 * where that module is missing, the database is a warning. Nothing is ever written
 * beside the database (it may be a layer of the builder's image store): sqlite, even
 * read-only, creates `-shm` and `-wal` files next to a WAL database, so the file is
 * opened as immutable, or copied with its write-ahead log when rpm left one.
 */
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { OsPackage } from './packages.js'

/** rpm tag numbers (rpmtag.h) and types we read. */
const TAG = {
  name: 1000,
  version: 1001,
  release: 1002,
  epoch: 1003,
  summary: 1004,
  vendor: 1011,
  license: 1014,
  url: 1020,
  arch: 1022,
  sourcerpm: 1044
} as const
const TYPE_INT32 = 4
const TYPE_STRING = 6
const TYPE_STRING_ARRAY = 8
const TYPE_I18NSTRING = 9

/** The fields of one rpm header blob we need, or an Error saying why it cannot be read. */
export interface RpmHeader {
  name?: string
  version?: string
  release?: string
  epoch?: number
  summary?: string
  vendor?: string
  license?: string
  url?: string
  arch?: string
  sourcerpm?: string
}

/** Parse an rpm header blob (as stored in rpmdb.sqlite, without the header magic). */
export function parseRpmHeader(blob: Uint8Array): RpmHeader {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength)
  if (buf.length < 8) throw new Error('header blob shorter than 8 bytes')
  const il = buf.readUInt32BE(0)
  const dl = buf.readUInt32BE(4)
  const dataStart = 8 + il * 16
  if (il > 0xffff || dataStart + dl > buf.length) {
    throw new Error(
      `header blob of ${buf.length} bytes cannot hold ${il} entries and ${dl} data bytes`
    )
  }
  const data = buf.subarray(dataStart, dataStart + dl)
  const cstring = (offset: number): string => {
    const end = data.indexOf(0, offset)
    return data.toString('utf8', offset, end < 0 ? data.length : end)
  }
  const wanted = new Map<number, keyof RpmHeader>(
    Object.entries(TAG).map(([k, v]) => [v, k as keyof RpmHeader])
  )
  const out: RpmHeader = {}
  for (let i = 0; i < il; i++) {
    const at = 8 + i * 16
    const key = wanted.get(buf.readUInt32BE(at))
    if (!key) continue
    const type = buf.readUInt32BE(at + 4)
    const offset = buf.readInt32BE(at + 8)
    if (offset < 0 || offset >= data.length) continue
    if (key === 'epoch') {
      if (type === TYPE_INT32 && offset + 4 <= data.length) out.epoch = data.readInt32BE(offset)
    } else if (type === TYPE_STRING || type === TYPE_I18NSTRING || type === TYPE_STRING_ARRAY) {
      out[key] = cstring(offset)
    }
  }
  return out
}

/** The part of node:sqlite we use (typed here: @types/node 20 does not describe it). */
interface SqliteModule {
  DatabaseSync: new (
    path: string,
    options?: { readOnly?: boolean }
  ) => {
    prepare(sql: string): { all(): Record<string, unknown>[] }
    close(): void
  }
}

/** node:sqlite when this Node has it. */
function sqlite(): SqliteModule | undefined {
  try {
    return process.getBuiltinModule?.('node:sqlite') as SqliteModule | undefined
  } catch {
    return undefined
  }
}

/** Turn a header into a package; undefined for rpm's gpg-pubkey pseudo-packages. */
export function rpmPackage(h: RpmHeader, database: string): OsPackage | undefined {
  if (!h.name || !h.version || h.name === 'gpg-pubkey') return undefined
  const pkg: OsPackage = {
    manager: 'rpm',
    name: h.name,
    version: h.release ? `${h.version}-${h.release}` : h.version,
    database
  }
  if (h.epoch !== undefined) pkg.epoch = h.epoch
  if (h.arch) pkg.arch = h.arch
  if (h.license) pkg.license = h.license
  if (h.vendor) pkg.supplier = h.vendor
  if (h.url) pkg.homepage = h.url
  if (h.summary) pkg.summary = h.summary
  // `bash-5.2.15-3.fc38.src.rpm` → source name `bash`, version `5.2.15-3.fc38`
  const src = /^(.+)-([^-]+-[^-]+)\.(?:no)?src\.rpm$/.exec(h.sourcerpm ?? '')
  if (src) {
    pkg.source = src[1]
    pkg.sourceVersion = src[2]
  }
  return pkg
}

/** Whether `path` is a file of more than 0 bytes. */
function nonEmpty(path: string | undefined): path is string {
  try {
    return path !== undefined && statSync(path).size > 0
  } catch {
    return false
  }
}

/** The rows of rpm's Packages table, read without writing beside `path`. */
function packageRows(
  mod: SqliteModule,
  path: string,
  wal: string | undefined
): Record<string, unknown>[] {
  let copy: string | undefined
  let open = `${pathToFileURL(path).href}?mode=ro&immutable=1`
  if (nonEmpty(wal)) {
    // Committed transactions still in the log: read a copy of both (immutable ignores the log).
    copy = mkdtempSync(join(tmpdir(), 'conveyor-rpmdb-'))
    copyFileSync(path, join(copy, 'rpmdb.sqlite'))
    copyFileSync(wal, join(copy, 'rpmdb.sqlite-wal'))
    open = join(copy, 'rpmdb.sqlite')
  }
  try {
    const db = new mod.DatabaseSync(open, { readOnly: true })
    try {
      return db.prepare('SELECT hnum, blob FROM Packages').all()
    } finally {
      db.close()
    }
  } finally {
    if (copy) rmSync(copy, { recursive: true, force: true })
  }
}

/**
 * Read every package of an rpmdb.sqlite file (`wal`: its `-wal` file in the image, if
 * any); problems go to `warnings`.
 */
export function readRpmSqlite(
  path: string,
  database: string,
  warnings: string[],
  wal?: string
): OsPackage[] {
  const mod = sqlite()
  if (!mod) {
    warnings.push(
      `${database}: an rpm sqlite database, but this Node (${process.version}) has no node:sqlite (Node >= 22.5 needed); its packages are missing from the SBOM`
    )
    return []
  }
  let rows: Record<string, unknown>[]
  try {
    rows = packageRows(mod, path, wal)
  } catch (error) {
    warnings.push(
      `${database}: cannot be read as an rpm sqlite database (${(error as Error).message}); its packages are missing from the SBOM`
    )
    return []
  }
  const out: OsPackage[] = []
  for (const row of rows) {
    try {
      const pkg = rpmPackage(parseRpmHeader(row.blob as Uint8Array), database)
      if (pkg) out.push(pkg)
    } catch (error) {
      warnings.push(
        `${database}: package header ${String(row.hnum)} skipped (${(error as Error).message})`
      )
    }
  }
  return out
}
