/**
 * The selective tar reader of `docker export` streams, on archives GNU tar writes (ustar,
 * pax and gnu formats, long names, symlinks on the way to a database), fed in odd chunk
 * sizes; only the package databases reach the disk, and an archive that puts a file
 * behind a symlink pointing out of the root writes nothing outside it.
 */
import { execFileSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { scanRootfs } from '../../../../src/image/attest/packages.js'
import {
  entryPath,
  TarSelector,
  wantedFile,
  wantedLink
} from '../../../../src/image/attest/tar-select.js'

const tmp = mkdtempSync(join(tmpdir(), 'conveyor-tar-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

/** A merged-/usr root: lib -> usr/lib, etc/os-release -> ../usr/lib/os-release. */
function makeRoot(): string {
  const r = mkdtempSync(join(tmp, 'root-'))
  mkdirSync(join(r, 'var/lib/dpkg'), { recursive: true })
  mkdirSync(join(r, 'usr/lib/apk/db'), { recursive: true })
  mkdirSync(join(r, 'etc'))
  mkdirSync(join(r, 'usr/share/doc/a-very-long-directory-name-'.padEnd(90, 'x')), {
    recursive: true
  })
  writeFileSync(
    join(r, 'var/lib/dpkg/status'),
    'Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13\nArchitecture: amd64\n'
  )
  writeFileSync(join(r, 'usr/lib/os-release'), 'ID=debian\nVERSION_ID="12"\n')
  symlinkSync('../usr/lib/os-release', join(r, 'etc/os-release'))
  symlinkSync('usr/lib', join(r, 'lib'))
  writeFileSync(join(r, 'usr/lib/apk/db/installed'), 'P:musl\nV:1.2.4-r2\nA:x86_64\n\n')
  writeFileSync(
    join(r, 'usr/share/doc/a-very-long-directory-name-'.padEnd(90, 'x'), 'status'),
    'not a database'
  )
  writeFileSync(join(r, 'big'), Buffer.alloc(100_000, 7))
  return r
}

function feed(archive: Buffer, chunk: number): { dir: string; sel: TarSelector } {
  const dir = mkdtempSync(join(tmp, 'out-'))
  const sel = new TarSelector(dir)
  for (let i = 0; i < archive.length; i += chunk) sel.push(archive.subarray(i, i + chunk))
  sel.end()
  return { dir, sel }
}

describe('TarSelector', () => {
  const root = makeRoot()
  for (const format of ['ustar', 'pax', 'gnu'] as const) {
    for (const chunk of [511, 4096, 65536]) {
      it(`${format} archive in ${chunk}-byte chunks: the databases and their links, nothing else`, () => {
        const archive = execFileSync('tar', [`--format=${format}`, '-cf', '-', '-C', root, '.'], {
          maxBuffer: 1 << 24
        })
        const { dir, sel } = feed(archive, chunk)
        expect(readlinkSync(join(dir, 'lib'))).toBe('usr/lib')
        expect(readlinkSync(join(dir, 'etc/os-release'))).toBe('../usr/lib/os-release')
        expect(existsSync(join(dir, 'big'))).toBe(false)
        expect(existsSync(join(dir, 'usr/share'))).toBe(false)
        expect(sel.extracted).not.toContain('big')
        const scan = scanRootfs(dir)
        expect(scan.distro).toEqual({ id: 'debian', versionId: '12' })
        expect(scan.packages.map(p => `${p.manager}:${p.name}@${p.version}`).sort()).toEqual([
          'apk:musl@1.2.4-r2',
          'dpkg:zlib1g@1:1.2.13'
        ])
      })
    }
  }

  it('never writes through a symlink that leads out of the root', () => {
    const outside = mkdtempSync(join(tmp, 'outside-'))
    const a = mkdtempSync(join(tmp, 'a-'))
    symlinkSync(outside, join(a, 'lib'))
    const b = mkdtempSync(join(tmp, 'b-'))
    mkdirSync(join(b, 'lib/apk/db'), { recursive: true })
    writeFileSync(join(b, 'lib/apk/db/installed'), 'P:evil\nV:1\n\n')
    const file = join(tmp, 'evil.tar')
    execFileSync('tar', ['-cf', file, '-C', a, 'lib'])
    execFileSync('tar', ['-rf', file, '-C', b, 'lib/apk/db/installed'])
    feed(readFileSync(file), 1000)
    expect(existsSync(join(outside, 'apk'))).toBe(false)
  })

  it('throws when the stream stops inside an entry', () => {
    const archive = execFileSync('tar', ['-cf', '-', '-C', root, 'var'])
    const sel = new TarSelector(mkdtempSync(join(tmp, 'cut-')))
    sel.push(archive.subarray(0, 700))
    expect(() => sel.end()).toThrow(/ended early/)
  })
})

describe('what is selected (pure)', () => {
  it.each([
    ['var/lib/dpkg/status', true],
    ['var/lib/dpkg/status.d/base', true],
    ['usr/lib/apk/db/installed', true],
    ['usr/lib/sysimage/rpm/rpmdb.sqlite', true],
    ['etc/os-release', true],
    ['usr/share/doc/status', false],
    ['etc/passwd', false]
  ])('file %s: %s', (path, want) => expect(wantedFile(path)).toBe(want))
  it.each([
    ['lib', true],
    ['var/lib/rpm', true],
    ['usr/bin', false]
  ])('link %s: %s', (path, want) => expect(wantedLink(path)).toBe(want))
  it.each([
    ['./var/lib/dpkg/status', 'var/lib/dpkg/status'],
    ['/etc//os-release', 'etc/os-release'],
    ['../etc/passwd', undefined],
    ['./', undefined]
  ])('entry path %s', (name, path) => expect(entryPath(name)).toBe(path))
})
