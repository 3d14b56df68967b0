/**
 * Reading an image straight from containers/storage: the parsers of `buildah info`,
 * images.json, layers.json and tar-split (table-driven, on records shaped as
 * containers/storage writes them), and the overlay lookup on layer directories laid out
 * as its overlay driver leaves them: kernel-format whiteouts (character devices 0:0,
 * made with mknod as root), fuse-overlayfs' `.wh.` files, opaque directories told by a
 * `.wh..wh..opq` file or by the layer's tar-split, symlinks resolved inside the image
 * across layers, and every surprise reported as a problem rather than a guess.
 * storage-buildah.test.ts checks the same against the stores real buildah writes.
 */
import { execFileSync } from 'node:child_process'
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { layeredView, type OverlayLayer } from '../../../../src/image/attest/layered-view.js'
import { scanRootfs } from '../../../../src/image/attest/packages.js'
import {
  layerChain,
  parseBuildahInfo,
  storedRootfs,
  topLayerOf,
  unsupportedStore
} from '../../../../src/image/attest/storage.js'
import {
  OpaqueScanner,
  opaqueDirsOf,
  readOpaqueDirs
} from '../../../../src/image/attest/tar-split.js'

const tmp = mkdtempSync(join(tmpdir(), 'conveyor-storage-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))
const isRoot = process.getuid?.() === 0

/** A tar-split as containers/storage stores it: gzip of JSON lines, a segment before each entry. */
function tarSplit(names: string[], raw: string[] = []): Buffer {
  const lines: string[] = []
  let position = 0
  for (const name of names) {
    lines.push(JSON.stringify({ type: 2, payload: 'AAAA', position: position++ }))
    lines.push(JSON.stringify({ type: 1, name, payload: null, position: position++ }))
  }
  for (const name of raw) {
    const bytes = Buffer.concat([Buffer.from([0xff]), Buffer.from(name)]).toString('base64')
    lines.push(JSON.stringify({ type: 1, name_raw: bytes, payload: null, position: position++ }))
  }
  return gzipSync(`${lines.join('\n')}\n`)
}

describe('buildah info', () => {
  // As buildah 1.28 prints it (`buildah info`, store part), with and without options.
  const info = (options: unknown): string =>
    JSON.stringify({
      host: { arch: 'amd64' },
      store: {
        ContainerStore: { number: 0 },
        GraphDriverName: 'overlay',
        GraphOptions: options,
        GraphRoot: '/var/lib/containers/storage',
        GraphStatus: { 'Backing Filesystem': 'extfs' },
        ImageStore: { number: 2 },
        RunRoot: '/run/containers/storage'
      }
    })
  it.each([
    [
      info(null),
      { graphRoot: '/var/lib/containers/storage', driver: 'overlay', options: [] as string[] }
    ],
    [
      info(['overlay.mount_program=/usr/bin/fuse-overlayfs']),
      {
        graphRoot: '/var/lib/containers/storage',
        driver: 'overlay',
        options: ['overlay.mount_program=/usr/bin/fuse-overlayfs']
      }
    ],
    ['Error: something', /printed no JSON/],
    [JSON.stringify({ store: { GraphRoot: 'relative', GraphDriverName: 'vfs' } }), /no graph root/],
    [JSON.stringify({ host: {} }), /no graph root/]
  ])('%#', (stdout, want) => {
    const got = parseBuildahInfo(stdout)
    if (want instanceof RegExp) expect(got).toMatch(want)
    else expect(got).toEqual(want)
  })

  it.each([
    ['vfs', [], undefined],
    [
      'overlay',
      ['overlay.mount_program=/usr/bin/fuse-overlayfs', 'overlay.mountopt=nodev'],
      undefined
    ],
    ['btrfs', [], /storage driver btrfs/],
    ['overlay2', [], /storage driver overlay2/],
    ['overlay', ['overlay.imagestore=/mnt/images'], /overlay.imagestore/],
    ['overlay', ['overlay.use_composefs=true'], /composefs/],
    ['overlay', ['overlay.mountopt=nodev,metacopy=on'], /metacopy/]
  ])('driver %s with %j', (driver, options, want) => {
    const got = unsupportedStore({ graphRoot: '/g', driver, options })
    if (want) expect(got).toMatch(want)
    else expect(got).toBeUndefined()
  })
})

describe('images.json and layers.json', () => {
  const id = 'a'.repeat(64)
  const images = [
    { id: 'b'.repeat(64), names: ['localhost/other:1'], layer: 'L9' },
    { id, digest: 'sha256:...', names: ['127.0.0.1:5000/shop/cart:v1'], layer: 'L3' },
    { id: 'c'.repeat(64), names: ['localhost/empty:1'] }
  ]
  it.each([
    [{ id: `sha256:${id}`, name: 'ignored' }, { top: 'L3' }],
    [{ id, name: 'ignored' }, { top: 'L3' }],
    [{ name: '127.0.0.1:5000/shop/cart:v1' }, { top: 'L3' }],
    [{ name: 'shop/cart:v1' }, /not in images.json/],
    [{ id: 'd'.repeat(64), name: '127.0.0.1:5000/shop/cart:v1' }, /not in images.json/],
    [{ name: 'localhost/empty:1' }, /no top layer/]
  ])('image %j', (image, want) => {
    const got = topLayerOf(images, image)
    if (want instanceof RegExp) expect(got).toMatch(want)
    else expect(got).toEqual(want)
  })
  it('images.json that is not a list', () => {
    expect(topLayerOf({}, { name: 'x' })).toMatch(/not a list/)
  })

  const layers = [
    { id: 'L1', created: '2026-01-01T00:00:00Z', 'diff-digest': 'sha256:1' },
    { id: 'L2', parent: 'L1' },
    { id: 'L3', parent: 'L2', 'diff-size': 3 },
    { id: 'L4', parent: 'L3', flags: { incomplete: true } },
    { id: 'L5', parent: 'L6' },
    { id: 'L7', parent: 'L8' },
    { id: 'L8', parent: 'L7' },
    { id: 'L9', parent: 7 }
  ]
  it.each([
    ['L3', ['L3', 'L2', 'L1']],
    ['L1', ['L1']],
    ['L4', /incomplete/],
    ['L5', /L6 is not in layers.json/],
    ['L7', /its own ancestor/],
    ['L9', /parent that is not a layer id/],
    ['L0', /L0 is not in layers.json/]
  ])('chain from %s', (top, want) => {
    const got = layerChain(layers, top)
    if (want instanceof RegExp) expect(got).toMatch(want)
    else expect(got).toEqual(want)
  })
})

describe('tar-split: the opaque directories of a layer', () => {
  it.each([
    [['usr/', 'usr/lib/', 'usr/lib/os-release'], []],
    [['var/lib/dpkg/', 'var/lib/dpkg/.wh..wh..opq', 'var/lib/dpkg/status'], ['var/lib/dpkg']],
    [
      ['./etc/.wh..wh..opq', '/lib/apk/.wh..wh..opq', '.wh..wh..opq'],
      ['etc', 'lib/apk', '']
    ],
    // A whiteout is not an opaque marker, nor a file that only contains the name.
    [['etc/.wh.os-release', 'doc/.wh..wh..opq.txt'], []]
  ])('%j', (names, want) => {
    expect([...(opaqueDirsOf(tarSplit(names)) as Set<string>)].sort()).toEqual(want.sort())
  })
  it('a marker under a name that is not UTF-8 is a reason, other such names are fine', () => {
    expect(opaqueDirsOf(tarSplit(['a/'], ['/x']))).toEqual(new Set())
    expect(opaqueDirsOf(tarSplit(['a/'], ['/.wh..wh..opq']))).toMatch(/not UTF-8/)
  })
  it('not gzip, or a broken line', () => {
    expect(opaqueDirsOf(Buffer.from('plain'))).toMatch(/not gzip/)
    expect(opaqueDirsOf(gzipSync('{"type":1,"name":"a/.wh..wh..opq"\n'))).toMatch(/not JSON/)
  })
  it('fed in chunks of any size, a marker split across chunks included', () => {
    const names = Array.from({ length: 300 }, (_, i) => `usr/share/doc/p${i}/copyright`)
    names.splice(150, 0, 'var/lib/dpkg/.wh..wh..opq')
    names.push('etc/.wh..wh..opq')
    const text = gunzipSync(tarSplit(names))
    for (const size of [1, 7, 512, 4096, text.length]) {
      const scanner = new OpaqueScanner()
      for (let at = 0; at < text.length; at += size) scanner.push(text.subarray(at, at + size))
      expect([...(scanner.end() as Set<string>)].sort()).toEqual(['etc', 'var/lib/dpkg'])
    }
  })
  it('read from a file as a stream; a missing or broken file is a reason', async () => {
    const file = join(tmp, 'layer.tar-split.gz')
    writeFileSync(file, tarSplit(['a/', 'a/.wh..wh..opq', 'a/b']))
    expect(await readOpaqueDirs(file)).toEqual(new Set(['a']))
    expect(await readOpaqueDirs(join(tmp, 'none.tar-split.gz'))).toMatch(
      /no readable tar-split \(ENOENT/
    )
    writeFileSync(file, 'not gzip')
    expect(await readOpaqueDirs(file)).toMatch(/no readable tar-split \(incorrect header check/)
  })
})

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

describe('storedRootfs: what it does not recognise is a reason', () => {
  /** A store with one image of `chain` (top first) and its metadata files. */
  function store(driver: string, chain: string[], options: { tarSplit?: boolean } = {}): string {
    const root = mkdtempSync(join(tmp, 'graph-'))
    mkdirSync(join(root, `${driver}-images`))
    mkdirSync(join(root, `${driver}-layers`))
    writeFileSync(
      join(root, `${driver}-images`, 'images.json'),
      JSON.stringify([{ id: 'f'.repeat(64), names: ['localhost/app:1'], layer: chain[0] }])
    )
    writeFileSync(
      join(root, `${driver}-layers`, 'layers.json'),
      JSON.stringify(
        chain.map((id, i) => ({ id, ...(chain[i + 1] ? { parent: chain[i + 1] } : {}) }))
      )
    )
    for (const id of chain) {
      const dir = driver === 'vfs' ? join(root, 'vfs', 'dir', id) : join(root, driver, id, 'diff')
      mkdirSync(join(dir, 'etc'), { recursive: true })
      writeFileSync(join(dir, 'etc', 'os-release'), `ID=${id}\n`)
      if (options.tarSplit !== false)
        writeFileSync(
          join(root, `${driver}-layers`, `${id}.tar-split.gz`),
          tarSplit(['etc/', 'etc/os-release'])
        )
    }
    return root
  }
  const image = { name: 'localhost/app:1' }

  it('vfs: the top layer directory; overlay: the stacked diffs', async () => {
    const vfs = await storedRootfs(
      { graphRoot: store('vfs', ['t', 'b']), driver: 'vfs', options: [] },
      image
    )
    if (typeof vfs === 'string') throw new Error(vfs)
    expect(vfs.describe).toMatch(/\(vfs, 2 layers\)$/)
    expect(readFileSync(vfs.view.resolve('etc/os-release')!, 'utf8')).toBe('ID=t\n')
    const graphRoot = store('overlay', ['t', 'm', 'b'])
    const ovl = await storedRootfs({ graphRoot, driver: 'overlay', options: [] }, image)
    if (typeof ovl === 'string') throw new Error(ovl)
    expect(ovl.view.resolve('etc/os-release')).toBe(
      join(graphRoot, 'overlay/t/diff/etc/os-release')
    )
    expect(ovl.problem()).toBeUndefined()
  })

  it.each([
    [
      'another driver',
      () => storedRootfs({ graphRoot: store('btrfs', ['t']), driver: 'btrfs', options: [] }, image),
      /storage driver btrfs/
    ],
    [
      'an image not in the store',
      () =>
        storedRootfs(
          { graphRoot: store('vfs', ['t']), driver: 'vfs', options: [] },
          { name: 'localhost/other:1' }
        ),
      /not in images.json/
    ],
    [
      'no metadata at all',
      () =>
        storedRootfs({ graphRoot: join(tmp, 'nowhere'), driver: 'overlay', options: [] }, image),
      /metadata cannot be read \(ENOENT/
    ],
    [
      'a vfs layer directory missing',
      () => {
        const graphRoot = store('vfs', ['t'])
        rmSync(join(graphRoot, 'vfs', 'dir', 't'), { recursive: true })
        return storedRootfs({ graphRoot, driver: 'vfs', options: [] }, image)
      },
      /vfs layer directory .* is missing/
    ],
    [
      'an overlay diff that links to an additional layer store',
      () => {
        const graphRoot = store('overlay', ['t', 'b'])
        rmSync(join(graphRoot, 'overlay', 'b', 'diff'), { recursive: true })
        symlinkSync(join(tmp, 'elsewhere'), join(graphRoot, 'overlay', 'b', 'diff'))
        return storedRootfs({ graphRoot, driver: 'overlay', options: [] }, image)
      },
      /b\/diff is not a directory/
    ],
    [
      'a composefs layer',
      () => {
        const graphRoot = store('overlay', ['t'])
        mkdirSync(join(graphRoot, 'overlay', 't', 'composefs-data'))
        return storedRootfs({ graphRoot, driver: 'overlay', options: [] }, image)
      },
      /composefs/
    ]
  ])('%s', async (_, make, want) => {
    expect(await make()).toMatch(want)
  })

  it('an overlay layer without its tar-split: a problem once opacity matters', async () => {
    const graphRoot = store('overlay', ['t', 'b'], { tarSplit: false })
    const ovl = await storedRootfs({ graphRoot, driver: 'overlay', options: [] }, image)
    if (typeof ovl === 'string') throw new Error(ovl)
    scanRootfs(ovl.view)
    expect(ovl.problem()).toMatch(/layer t: no readable tar-split \(ENOENT/)
  })
})

describe('an rpm sqlite database is read without writing beside it', () => {
  type Db = {
    exec(sql: string): void
    prepare(sql: string): { run(...values: unknown[]): unknown }
    close(): void
  }
  const sqlite = process.getBuiltinModule('node:sqlite') as
    { DatabaseSync: new (path: string) => Db } | undefined

  it.skipIf(!sqlite)('a WAL database with and without committed pages still in its log', () => {
    const work = mkdtempSync(join(tmp, 'rpm-work-'))
    const db = new sqlite!.DatabaseSync(join(work, 'rpmdb.sqlite'))
    db.exec('PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0')
    db.exec('CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)')
    db.prepare('INSERT INTO Packages VALUES (1, ?)').run(Buffer.from('one'))
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)')
    db.prepare('INSERT INTO Packages VALUES (2, ?)').run(Buffer.from('two'))
    // An image that carries the database as rpm left it: row 2 only in the log.
    const image = mkdtempSync(join(tmp, 'rpm-image-'))
    const rel = 'usr/lib/sysimage/rpm'
    mkdirSync(join(image, rel), { recursive: true })
    for (const f of ['rpmdb.sqlite', 'rpmdb.sqlite-wal'])
      writeFileSync(join(image, rel, f), readFileSync(join(work, f)))
    db.close()
    const headers = (root: string): string[] =>
      scanRootfs(root).warnings.map(w => /package header (\d+) skipped/.exec(w)?.[1] ?? w)
    expect(headers(image)).toEqual(['1', '2'])
    expect(readdirSync(join(image, rel)).sort()).toEqual(['rpmdb.sqlite', 'rpmdb.sqlite-wal'])
    // Without its log: opened immutable, and still nothing beside it.
    rmSync(join(image, rel, 'rpmdb.sqlite-wal'))
    expect(headers(image)).toEqual(['1'])
    expect(readdirSync(join(image, rel))).toEqual(['rpmdb.sqlite'])
  })
})
