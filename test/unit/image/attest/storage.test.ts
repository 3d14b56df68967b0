/**
 * Reading an image straight from containers/storage: the parsers of `buildah info`,
 * images.json and layers.json (table-driven, on records shaped as containers/storage
 * writes them), what `storedRootfs` refuses and why (another driver, an image or layer
 * it cannot find, a layer stored elsewhere or as composefs, a tar-split missing), and an
 * rpm database read without writing beside it (the store must never change).
 * storage-buildah.test.ts checks the same against the stores real buildah writes.
 */
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
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { scanRootfs } from '../../../../src/image/attest/packages.js'
import {
  layerChain,
  parseBuildahInfo,
  storedRootfs,
  topLayerOf,
  unsupportedStore
} from '../../../../src/image/attest/storage.js'
import { tarSplit } from '../../../support/tar-split.js'

const tmp = mkdtempSync(join(tmpdir(), 'conveyor-storage-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

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
