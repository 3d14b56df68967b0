/**
 * A streaming reader of a tar archive (ustar, with pax `x` and GNU `L`/`K` long names)
 * that extracts only the files the SBOM reads: the package databases and os-release,
 * with the symlinks on their way (a merged /usr's `lib -> usr/lib`, Fedora's
 * `var/lib/rpm -> ../../usr/lib/sysimage/rpm`). `docker export` of a whole root
 * filesystem streams through it; only a few files reach the disk. Nothing is ever
 * written through a symlink or outside the destination directory.
 */
import { lstatSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** Paths (relative, no leading `/`) whose file the SBOM may read, as suffixes or directories. */
const FILE_SUFFIXES = [
  'os-release',
  'dpkg/status',
  'apk/db/installed',
  'rpm/rpmdb.sqlite',
  'rpm/Packages',
  'rpm/Packages.db'
]
const DIRECTORY_SUFFIXES = ['dpkg/status.d']

/** The database paths and their ancestors, where a symlink must be kept. */
const LINK_PATHS = new Set(
  [
    'etc/os-release',
    'usr/lib/os-release',
    'var/lib/dpkg/status',
    'var/lib/dpkg/status.d',
    'lib/apk/db/installed',
    'usr/lib/apk/db/installed',
    'usr/lib/sysimage/rpm/rpmdb.sqlite',
    'var/lib/rpm/rpmdb.sqlite',
    'usr/lib/sysimage/rpm/Packages.db',
    'var/lib/rpm/Packages.db',
    'usr/lib/sysimage/rpm/Packages',
    'var/lib/rpm/Packages'
  ].flatMap(p => p.split('/').map((_, i, all) => all.slice(0, i + 1).join('/')))
)

/** The normalised path of a tar entry, or undefined for one that leaves the root. */
export function entryPath(name: string): string | undefined {
  const parts: string[] = []
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') return undefined
    parts.push(part)
  }
  return parts.length > 0 ? parts.join('/') : undefined
}

/** Whether a regular file at `path` is one the SBOM reads. Pure. */
export function wantedFile(path: string): boolean {
  if (FILE_SUFFIXES.some(s => path === s || path.endsWith(`/${s}`))) return true
  const parent = path.slice(0, path.lastIndexOf('/'))
  return DIRECTORY_SUFFIXES.some(s => parent === s || parent.endsWith(`/${s}`))
}

/** Whether a symlink at `path` lies on the way to a database. Pure. */
export function wantedLink(path: string): boolean {
  return LINK_PATHS.has(path)
}

function octal(field: Buffer): number {
  // GNU base-256 for sizes of 8 GiB and more: the high bit of the first byte is set.
  if (field[0]! & 0x80) {
    let n = 0
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!
    return n
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim()
  return text === '' ? 0 : parseInt(text, 8)
}

function cstring(field: Buffer): string {
  const end = field.indexOf(0)
  return field.subarray(0, end === -1 ? field.length : end).toString('utf8')
}

/** pax extended header records: `<len> key=value\n`. */
function paxRecords(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {}
  let at = 0
  while (at < body.length) {
    const space = body.indexOf(0x20, at)
    if (space === -1) break
    const len = parseInt(body.subarray(at, space).toString('latin1'), 10)
    if (!(len > 0)) break
    const record = body.subarray(space + 1, at + len - 1).toString('utf8')
    const eq = record.indexOf('=')
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1)
    at += len
  }
  return out
}

/** Whether `path` (inside `root`) can be written without passing through a symlink. */
function safeToWrite(root: string, path: string): boolean {
  const parts = path.split('/')
  for (let i = 1; i <= parts.length; i++) {
    try {
      if (lstatSync(join(root, ...parts.slice(0, i))).isSymbolicLink()) return false
    } catch {
      return true // missing from here on: created below, as directories and the file
    }
  }
  return true
}

/**
 * Feed a tar stream in chunks (`push`), then `end()`. Files and symlinks the SBOM needs
 * are written under `root`; everything else is skipped without being buffered.
 */
export class TarSelector {
  private buffer: Buffer = Buffer.alloc(0)
  private skip = 0
  private file?: { path: string; size: number; chunks: Buffer[]; got: number }
  private meta?: { kind: 'pax' | 'name' | 'link'; size: number; chunks: Buffer[] }
  private next: { path?: string; linkpath?: string } = {}
  private ended = false
  /** Paths extracted (files and links), for the log. */
  readonly extracted: string[] = []

  constructor(private readonly root: string) {}

  push(chunk: Buffer): void {
    if (this.ended) return
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, this.buffer.length)
        this.take(this.buffer.subarray(0, n))
        this.buffer = this.buffer.subarray(n)
        this.skip -= n
        if (this.skip > 0) return
        this.finishEntry()
        continue
      }
      if (this.buffer.length < 512) return
      const header = this.buffer.subarray(0, 512)
      this.buffer = this.buffer.subarray(512)
      if (header.every(b => b === 0)) {
        this.ended = true
        return
      }
      this.header(header)
    }
  }

  /** Called once the stream is complete; throws when it stopped before the archive's end. */
  end(): void {
    if (!this.ended) throw new Error('the tar stream ended early (no end-of-archive block)')
  }

  private take(bytes: Buffer): void {
    const sink = this.file ?? this.meta
    if (!sink) return
    const want =
      sink.size - ('got' in sink ? sink.got : sink.chunks.reduce((s, c) => s + c.length, 0))
    if (want <= 0) return
    const part = bytes.subarray(0, want)
    sink.chunks.push(Buffer.from(part))
    if (this.file) this.file.got += part.length
  }

  private header(h: Buffer): void {
    const size = octal(h.subarray(124, 136))
    const type = String.fromCharCode(h[156] || 0x30)
    const prefix = h.subarray(257, 263).toString('latin1').startsWith('ustar')
      ? cstring(h.subarray(345, 500))
      : ''
    const rawName = this.next.path ?? (prefix ? `${prefix}/` : '') + cstring(h.subarray(0, 100))
    const linkName = this.next.linkpath ?? cstring(h.subarray(157, 257))
    const padded = Math.ceil(size / 512) * 512
    if (type === 'x' || type === 'L' || type === 'K') {
      this.meta = { kind: type === 'x' ? 'pax' : type === 'L' ? 'name' : 'link', size, chunks: [] }
      this.skip = padded
      if (padded === 0) this.finishEntry()
      return
    }
    if (type === 'g') {
      this.skip = padded // global pax header: nothing we use
      return
    }
    this.next = {}
    const path = entryPath(rawName)
    if (path && (type === '0' || type === '\0' || type === '7') && wantedFile(path)) {
      this.file = { path, size, chunks: [], got: 0 }
    } else if (path && type === '2' && wantedLink(path)) {
      this.link(path, linkName)
    }
    this.skip = padded
    if (padded === 0) this.finishEntry()
  }

  private link(path: string, target: string): void {
    if (!safeToWrite(this.root, path)) return
    mkdirSync(dirname(join(this.root, path)), { recursive: true })
    try {
      symlinkSync(target, join(this.root, path))
      this.extracted.push(`${path} -> ${target}`)
    } catch {
      // an entry of the same name came first: the first one wins, as nothing is replaced
    }
  }

  private finishEntry(): void {
    if (this.meta) {
      const body = Buffer.concat(this.meta.chunks)
      if (this.meta.kind === 'pax') {
        const r = paxRecords(body)
        if (r.path !== undefined) this.next.path = r.path
        if (r.linkpath !== undefined) this.next.linkpath = r.linkpath
      } else {
        const value = cstring(body)
        if (this.meta.kind === 'name') this.next.path = value
        else this.next.linkpath = value
      }
      this.meta = undefined
      return
    }
    if (this.file) {
      const { path, chunks } = this.file
      this.file = undefined
      if (!safeToWrite(this.root, path)) return
      mkdirSync(dirname(join(this.root, path)), { recursive: true })
      writeFileSync(join(this.root, path), Buffer.concat(chunks), { mode: 0o600 })
      this.extracted.push(path)
    }
  }
}
