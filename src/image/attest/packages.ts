/**
 * The OS packages of an image's root filesystem, for its SBOM: which package databases
 * exist (dpkg, apk, rpm), what each lists, and the distribution from `os-release`. A
 * database that exists but cannot be read is a warning in the result, never a silently
 * shorter list. Reading is the only I/O here; parsing is in dpkg.ts, apk.ts and rpm.ts.
 */
import { readFileSync, statSync } from 'node:fs'
import { parseApkInstalled } from './apk.js'
import { parseDpkgStatus, DPKG_NON_CONTROL } from './dpkg.js'
import { directoryView, type RootView } from './rootfs.js'
import { readRpmSqlite } from './rpm.js'

/** One installed OS package. */
export interface OsPackage {
  manager: 'dpkg' | 'apk' | 'rpm'
  name: string
  /** The full version as the package manager writes it (dpkg: `[epoch:]upstream-revision`). */
  version: string
  arch?: string
  /** rpm only: the epoch, kept apart from `version` as rpm does. */
  epoch?: number
  /** The source package (dpkg `Source`, apk `o:` origin, rpm source rpm name). */
  source?: string
  sourceVersion?: string
  license?: string
  /** Maintainer or vendor. */
  supplier?: string
  homepage?: string
  summary?: string
  /** The database file it came from, relative to the root filesystem. */
  database: string
}

/** The distribution of the root filesystem, from `etc/os-release` or `usr/lib/os-release`. */
export interface Distro {
  id: string
  versionId?: string
  prettyName?: string
}

/** What a scan of a root filesystem found. */
export interface PackageScan {
  packages: OsPackage[]
  distro?: Distro
  /** Package databases found (relative paths), read or not. */
  databases: string[]
  /** Databases that exist but could not be read, and entries skipped, with the reason. */
  warnings: string[]
}

/** Parse os-release text (shell-style `KEY=value`, values optionally quoted). */
export function parseOsRelease(text: string): Distro | undefined {
  const values: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim())
    if (!m) continue
    let v = m[2]!.trim()
    if (/^(["']).*\1$/.test(v)) v = v.slice(1, -1).replace(/\\(["\\$`])/g, '$1')
    values[m[1]!] = v
  }
  if (!values.ID) return undefined
  return {
    id: values.ID.toLowerCase(),
    ...(values.VERSION_ID ? { versionId: values.VERSION_ID } : {}),
    ...(values.PRETTY_NAME ? { prettyName: values.PRETTY_NAME } : {})
  }
}

const MISSING = 'its packages are missing from the SBOM'

/**
 * The host path of a database file inside the image (symlinks resolved within it), or
 * undefined when there is none; a path that exists but is not a file is a warning.
 */
function locate(root: RootView, rel: string, warnings: string[]): string | undefined {
  const host = root.resolve(rel)
  if (!host) return undefined
  try {
    if (statSync(host).isFile()) return host
  } catch {
    return undefined
  }
  warnings.push(`${rel}: exists but is not a file; ${MISSING}`)
  return undefined
}

function readText(host: string, rel: string, warnings: string[]): string | undefined {
  try {
    return readFileSync(host, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    warnings.push(`${rel}: cannot be read (${code}); ${MISSING}`)
    return undefined
  }
}

/** The rpm databases we look for, and what we can do with each. */
const RPM_DATABASES: { path: string; kind: 'sqlite' | 'bdb' | 'ndb' }[] = [
  { path: 'usr/lib/sysimage/rpm/rpmdb.sqlite', kind: 'sqlite' },
  { path: 'var/lib/rpm/rpmdb.sqlite', kind: 'sqlite' },
  { path: 'usr/lib/sysimage/rpm/Packages.db', kind: 'ndb' },
  { path: 'var/lib/rpm/Packages.db', kind: 'ndb' },
  { path: 'usr/lib/sysimage/rpm/Packages', kind: 'bdb' },
  { path: 'var/lib/rpm/Packages', kind: 'bdb' }
]

/**
 * Scan a root filesystem (a directory: `buildah mount`, an exported and unpacked image,
 * a vfs layer; or the layers of an overlay store) for its package databases. Nothing is
 * written into it. Never throws for a database it cannot read: that is a warning.
 */
export function scanRootfs(rootfs: string | RootView): PackageScan {
  const root = typeof rootfs === 'string' ? directoryView(rootfs) : rootfs
  const warnings: string[] = []
  const databases: string[] = []
  const packages: OsPackage[] = []
  /** Read one database file with `parse`, when the image has it. */
  const read = (rel: string, parse: (text: string) => OsPackage[]): void => {
    const host = locate(root, rel, warnings)
    if (!host) return
    databases.push(rel)
    const text = readText(host, rel, warnings)
    if (text !== undefined) packages.push(...parse(text))
  }
  let distro: Distro | undefined
  for (const rel of ['etc/os-release', 'usr/lib/os-release']) {
    const host = locate(root, rel, warnings)
    const text = host === undefined ? undefined : readText(host, rel, warnings)
    distro = text === undefined ? undefined : parseOsRelease(text)
    if (distro) break
  }

  read('var/lib/dpkg/status', text => parseDpkgStatus(text, 'var/lib/dpkg/status', warnings))
  const statusD = 'var/lib/dpkg/status.d'
  let names: string[] | undefined
  try {
    names = root.list(statusD)?.sort()
  } catch (error) {
    databases.push(`${statusD}/`)
    warnings.push(
      `${statusD}: cannot be listed (${(error as NodeJS.ErrnoException).code}); ${MISSING}`
    )
  }
  if (names) {
    databases.push(`${statusD}/`)
    for (const name of names) {
      const rel = `${statusD}/${name}`
      if (DPKG_NON_CONTROL.test(name)) continue
      const host = locate(root, rel, warnings)
      const text = host === undefined ? undefined : readText(host, rel, warnings)
      if (text !== undefined) {
        packages.push(...parseDpkgStatus(text, rel, warnings, { distroless: true }))
      }
    }
  }

  read('lib/apk/db/installed', text => parseApkInstalled(text, 'lib/apk/db/installed', warnings))

  const seen = new Set<string>()
  for (const db of RPM_DATABASES) {
    const host = locate(root, db.path, warnings)
    // var/lib/rpm is often a link to usr/lib/sysimage/rpm: one database, two paths.
    if (!host || seen.has(host)) continue
    seen.add(host)
    databases.push(db.path)
    if (db.kind === 'sqlite') {
      // rpm keeps a write-ahead log beside its database when it was not checkpointed.
      const wal = root.resolve(`${db.path}-wal`)
      packages.push(...readRpmSqlite(host, db.path, warnings, wal))
    } else {
      warnings.push(
        `${db.path}: an rpm ${db.kind === 'bdb' ? 'Berkeley DB' : 'NDB'} database, which Conveyor cannot read (only rpm's sqlite database, rpm >= 4.16); ${MISSING}`
      )
    }
  }
  if (databases.length === 0) {
    warnings.push(
      'no package database found (dpkg var/lib/dpkg/status or status.d/, apk lib/apk/db/installed, rpm rpmdb.sqlite): the SBOM lists the image alone'
    )
  }
  return { packages, distro, databases, warnings }
}
