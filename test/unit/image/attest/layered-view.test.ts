/**
 * The overlay lookup on layer directories laid out as containers/storage's overlay driver
 * leaves them: kernel-format whiteouts (character devices 0:0, made with mknod as root),
 * fuse-overlayfs' `.wh.` files, opaque directories told by a `.wh..wh..opq` file or by
 * the layer's tar-split, a non-directory ending a merge, symlinks resolved inside the
 * image across layers, and an opacity that cannot be told reported as a problem rather
 * than guessed. storage-buildah.test.ts compares the same against buildah's own mounts.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { layeredView, type OverlayLayer } from '../../../../src/image/attest/layered-view.js'
import { scanRootfs } from '../../../../src/image/attest/packages.js'

const tmp = mkdtempSync(join(tmpdir(), 'conveyor-layered-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))
const isRoot = process.getuid?.() === 0

/** An entry of a hand-made layer. */
type Entry = string | { link: string } | 'dir' | 'char-whiteout' | 'aufs-whiteout'

let layerCount = 0
/** A layer directory with `entries`, and its opaque directories as its tar-split would say. */
function layer(entries: Record<string, Entry>, opaque: string[] = []): OverlayLayer {
  const diff = join(tmp, `layer-${++layerCount}`, 'diff')
  mkdirSync(diff, { recursive: true })
  for (const [path, entry] of Object.entries(entries)) {
    const host = join(diff, path)
    mkdirSync(dirname(host), { recursive: true })
    if (entry === 'dir') mkdirSync(host, { recursive: true })
    else if (entry === 'char-whiteout') execFileSync('mknod', [host, 'c', '0', '0'])
    else if (entry === 'aufs-whiteout')
      writeFileSync(join(dirname(host), `.wh.${host.split('/').pop()}`), '')
    else if (typeof entry === 'string') writeFileSync(host, entry)
    else symlinkSync(entry.link, host)
  }
  return { diff, opaque: () => new Set(opaque) }
}

describe('the overlay lookup over layer directories', () => {
  it('the top layer wins; directories merge; symlinks resolve across layers inside the image', () => {
    const base = layer({
      'etc/os-release': 'ID=debian\n',
      'usr/lib/sysimage/dpkg/status': 'lower',
      'var/lib/dpkg/status.d/a': 'a',
      'var/lib/dpkg/status.d/b': 'b'
    })
    const mid = layer({
      'var/lib/dpkg/status.d/c': 'c',
      'var/lib/dpkg/status.d/b': 'b2',
      // an absolute link, to a directory only the base layer has
      'opt/db': { link: '/usr/lib/sysimage/dpkg' }
    })
    const top = layer({
      'etc/os-release': { link: '../usr/lib/os-release' },
      'usr/lib/os-release': 'ID=top\n'
    })
    const view = layeredView([top, mid, base])
    expect(view.resolve('opt/db/status')).toBe(join(base.diff, 'usr/lib/sysimage/dpkg/status'))
    expect(view.resolve('etc/os-release')).toBe(join(top.diff, 'usr/lib/os-release'))
    expect(view.resolve('var/lib/dpkg/status.d/b')).toBe(join(mid.diff, 'var/lib/dpkg/status.d/b'))
    expect(view.list('var/lib/dpkg/status.d')?.sort()).toEqual(['a', 'b', 'c'])
    expect(view.resolve('var/lib/dpkg/status.d')).toBe(join(mid.diff, 'var/lib/dpkg/status.d'))
    expect(view.resolve('nothing/here')).toBeUndefined()
    expect(view.list('nothing')).toBeUndefined()
    expect(() => view.list('etc/os-release')).toThrow(/ENOTDIR/)
    // .. stops at the image's root, as the kernel does
    expect(view.resolve('../../../etc/../usr/lib/os-release')).toBe(
      join(top.diff, 'usr/lib/os-release')
    )
    expect(view.problem).toBeUndefined()
  })

  it('a link loop is absent', () => {
    const view = layeredView([layer({ a: { link: 'b' } }), layer({ b: { link: '/a' } })])
    expect(view.resolve('a/x')).toBeUndefined()
    expect(view.problem).toBeUndefined()
  })

  it("fuse-overlayfs' whiteouts (.wh.<name>) and opaque marker (.wh..wh..opq file)", () => {
    const base = layer({
      'var/lib/dpkg/status': 'old',
      'var/lib/dpkg/status.d/a': 'a',
      'var/lib/dpkg/status.d/b': 'b',
      'lib/apk/db/installed': 'old apk',
      'lib/apk/keys/k': 'k'
    })
    const top = layer({
      'var/lib/dpkg/status': 'aufs-whiteout',
      'var/lib/dpkg/status.d/a': 'aufs-whiteout',
      'lib/apk': 'dir',
      'lib/apk/db/installed': 'new apk'
    })
    writeFileSync(join(top.diff, 'lib/apk/.wh..wh..opq'), '')
    const view = layeredView([top, base])
    expect(view.resolve('var/lib/dpkg/status')).toBeUndefined()
    expect(view.list('var/lib/dpkg/status.d')).toEqual(['b'])
    expect(view.resolve('var/lib/dpkg/status.d/a')).toBeUndefined()
    expect(readFileSync(view.resolve('lib/apk/db/installed')!, 'utf8')).toBe('new apk')
    expect(view.resolve('lib/apk/keys')).toBeUndefined()
    expect(view.list('lib/apk')).toEqual(['db'])
    expect(view.problem).toBeUndefined()
  })

  it.skipIf(!isRoot)('the kernel format: character devices 0:0, opacity from the tar-split', () => {
    const base = layer({
      'var/lib/dpkg/status': 'old',
      'var/lib/dpkg/status.d/a': 'a',
      'var/cache/x': 'x',
      'data/keep': 'k'
    })
    const mid = layer(
      { 'var/lib/dpkg/status.d/a': 'char-whiteout', 'var/cache': 'char-whiteout', 'data/new': 'n' },
      ['data']
    )
    const top = layer({ 'var/lib/dpkg/status.d/z': 'z' })
    const view = layeredView([top, mid, base])
    expect(view.list('var/lib/dpkg/status.d')).toEqual(['z'])
    expect(view.resolve('var/lib/dpkg/status.d/a')).toBeUndefined()
    expect(view.resolve('var/cache/x')).toBeUndefined()
    expect(view.list('var')?.sort()).toEqual(['lib'])
    expect(view.list('data')).toEqual(['new'])
    expect(view.resolve('data/keep')).toBeUndefined()
    expect(readFileSync(view.resolve('var/lib/dpkg/status')!, 'utf8')).toBe('old')
    expect(view.problem).toBeUndefined()
  })

  it('below a directory, a non-directory ends the merge; above one, a file hides it', () => {
    const base = layer({ 'a/x': 'x', 'b/y': 'y' })
    const mid = layer({ a: 'a file', b: 'b file' })
    const top = layer({ 'a/z': 'z' })
    const view = layeredView([top, mid, base])
    expect(view.list('a')).toEqual(['z'])
    expect(view.resolve('a/x')).toBeUndefined()
    expect(readFileSync(view.resolve('b')!, 'utf8')).toBe('b file')
    expect(view.resolve('b/y')).toBeUndefined()
  })

  it('opacity is asked only where a lower layer could show through, and an unknown one is a problem', () => {
    let asked = 0
    const unknown = (diff: OverlayLayer): OverlayLayer => ({
      diff: diff.diff,
      opaque: () => {
        asked++
        throw new Error('layer T has no readable tar-split')
      }
    })
    const base = layer({ 'etc/os-release': 'ID=base\n' })
    // One layer alone: nothing below it, nothing to ask.
    expect(layeredView([unknown(base)]).resolve('etc/os-release')).toBeDefined()
    expect(asked).toBe(0)
    const view = layeredView([unknown(layer({ 'etc/hostname': 'h' })), base])
    expect(view.resolve('etc/os-release')).toBeUndefined()
    expect(view.problem).toMatch(/no readable tar-split/)
    expect(asked).toBe(1)
    // Once a problem, every answer is "absent": the caller discards the scan.
    expect(view.resolve('etc/hostname')).toBeUndefined()
  })

  it('a scan through the view reads what the merged image holds', () => {
    const fixtures = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'attest')
    const base = layer({
      'etc/os-release': readFileSync(join(fixtures, 'debian12/etc/os-release'), 'utf8'),
      'var/lib/dpkg/status': 'Package: stale\nVersion: 1\nStatus: install ok installed\n'
    })
    const top = layer({
      'var/lib/dpkg/status': readFileSync(join(fixtures, 'debian12/var/lib/dpkg/status'), 'utf8')
    })
    const scan = scanRootfs(layeredView([top, base]))
    expect(scan.warnings).toEqual([])
    expect(scan.databases).toEqual(['var/lib/dpkg/status'])
    expect(scan.packages.map(p => p.name)).not.toContain('stale')
    expect(scan.packages).toHaveLength(6)
    expect(scan.distro).toMatchObject({ id: 'debian', versionId: '12' })
  })
})
