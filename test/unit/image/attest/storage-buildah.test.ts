/**
 * The SBOM's direct read of containers/storage against the stores real buildah writes:
 * an image whose layers (written here as tars, pulled with `buildah pull oci:`, so that
 * containers/storage applies them itself) delete files and directories, make a
 * directory opaque, replace a directory with a file and link across layers, in a vfs
 * store, an overlay store (the kernel's format: character-device whiteouts, opaque
 * xattrs) and an overlay store with fuse-overlayfs as mount program (`.wh.` files). The
 * oracle is the same image mounted by buildah (merged by the kernel's overlayfs,
 * fuse-overlayfs or vfs): every directory lists the same names, every file reads the
 * same, the package scans are equal; and the read writes nothing into the store. Then
 * the fallbacks: what cannot be read directly is mounted, with a debug line saying why.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  existsSync,
  lstatSync,
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
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memoryLogger } from '../../../../src/core/logger.js'
import { scanRootfs } from '../../../../src/image/attest/packages.js'
import {
  locateStore,
  rootfsCleanups,
  withRootfs,
  type LocalImage
} from '../../../../src/image/attest/rootfs-backend.js'
import { resolveInRoot, type RootView } from '../../../../src/image/attest/rootfs.js'
import { storedRootfs, type StoreLocation } from '../../../../src/image/attest/storage.js'
import { isolatedBuildahEnv, type BuildahEnv } from '../../../support/base-image.js'
import { writeOciLayout } from '../../../support/oci-layout.js'

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'attest')
const fixture = (path: string): string => readFileSync(join(FIXTURES, path), 'utf8')
const haveBuildah = (() => {
  try {
    execFileSync('buildah', ['--version'], { stdio: 'ignore' })
    return process.getuid?.() === 0
  } catch {
    return false
  }
})()
const FUSE = '/usr/bin/fuse-overlayfs'
const haveFuse = existsSync(FUSE) && existsSync('/dev/fuse')
const NAME = 'localhost/conveyor/layers:1'

const tmp = mkdtempSync(join(tmpdir(), 'conveyor-storage-buildah-'))
// buildah names an image pulled from a layout after its path, which must be lower case.
const layout = join(tmpdir(), `conveyor-layout-${randomBytes(6).toString('hex')}`)
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true })
  rmSync(layout, { recursive: true, force: true })
})

/** A staging directory of one layer: path → text, a link, or an empty marker file. */
function stage(name: string, entries: Record<string, string | { link: string }>): string {
  const dir = join(tmp, name)
  for (const [path, entry] of Object.entries(entries)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    if (typeof entry === 'string') writeFileSync(join(dir, path), entry)
    else symlinkSync(entry.link, join(dir, path))
  }
  return dir
}

/** An rpm-style sqlite database in WAL mode (its header says so; no -wal file beside it). */
function walDatabase(path: string): void {
  const { DatabaseSync } = process.getBuiltinModule('node:sqlite') as {
    DatabaseSync: new (path: string) => {
      exec(sql: string): void
      prepare(sql: string): { run(...values: unknown[]): unknown }
      close(): void
    }
  }
  mkdirSync(dirname(path), { recursive: true })
  const db = new DatabaseSync(path)
  db.exec('PRAGMA journal_mode=WAL; CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)')
  db.prepare('INSERT INTO Packages VALUES (1, ?)').run(Buffer.from('not an rpm header'))
  db.close()
}

const stanza = (name: string): string => `Package: ${name}\nVersion: 1.0-1\nArchitecture: amd64\n`

beforeAll(() => {
  if (!haveBuildah) return
  const base = stage('l1', {
    'etc/os-release': 'ID=stale\n',
    'var/lib/dpkg/status': 'Package: stale\nVersion: 0\nStatus: install ok installed\n',
    'var/lib/dpkg/status.d/a': stanza('a'),
    'var/lib/dpkg/status.d/b': stanza('b'),
    'var/lib/dpkg/status.d/b.md5sums': 'd41d8cd98f00b204e9800998ecf8427e  usr/bin/b\n',
    'var/cache/apt/pkgcache.bin': 'x',
    'lib/apk/db/installed': 'P:stale\nV:0\n\n',
    'lib/apk/keys/k.pub': 'k',
    'data/keep': 'keep',
    'data/sub/y': 'y',
    'old/x': 'x'
  })
  walDatabase(join(base, 'usr/lib/sysimage/rpm/rpmdb.sqlite'))
  const mid = stage('l2', {
    'var/lib/dpkg/status': fixture('debian12/var/lib/dpkg/status'),
    'var/lib/dpkg/status.d/.wh.a': '',
    'var/lib/dpkg/status.d/c': stanza('c'),
    'var/.wh.cache': '',
    old: 'now a file',
    'etc/os-release': { link: '../usr/lib/os-release' },
    'usr/lib/os-release': fixture('debian12/etc/os-release'),
    'var/lib/rpm': { link: '/usr/lib/sysimage/rpm' }
  })
  const top = stage('l3', {
    'lib/apk/.wh..wh..opq': '',
    'lib/apk/db/installed': fixture('alpine/lib/apk/db/installed'),
    'data/.wh..wh..opq': '',
    'data/new': 'new',
    'var/lib/dpkg/status.d/d': stanza('d')
  })
  writeOciLayout(layout, 'layers', [base, mid, top])
})

/** Pull the layout into a store; the image's ID. */
function pull(buildah: BuildahEnv): string {
  const env = { ...process.env, ...buildah.env }
  const out = execFileSync('buildah', ['pull', '--quiet', `oci:${layout}:layers`], { env })
  const id = out.toString().trim().split('\n').pop()!
  execFileSync('buildah', ['tag', id, NAME], { env })
  return id
}

/** `fn` on the image mounted by buildah (a working container, removed afterwards). */
function mounted<T>(buildah: BuildahEnv, id: string, fn: (root: string) => T): T {
  const env = { ...process.env, ...buildah.env }
  const name = execFileSync('buildah', ['from', '--pull=never', id], { env }).toString().trim()
  try {
    return fn(execFileSync('buildah', ['mount', name], { env }).toString().trim())
  } finally {
    execFileSync('buildah', ['rm', name], { env, stdio: 'ignore' })
  }
}

/** Every file of a directory tree: path → size and modification time. */
function snapshot(dir: string, out = new Map<string, string>(), rel = ''): Map<string, string> {
  for (const name of readdirSync(join(dir, rel))) {
    const path = rel ? `${rel}/${name}` : name
    const st = lstatSync(join(dir, path))
    out.set(path, `${st.size}:${st.mtimeMs}`)
    if (st.isDirectory()) snapshot(dir, out, path)
  }
  return out
}

/** Where the view and the mounted image differ, walking the mounted one. */
function differences(view: RootView, root: string, rel = ''): string[] {
  const out: string[] = []
  const names = readdirSync(join(root, rel)).sort()
  const ours = view.list(rel)?.sort()
  if (JSON.stringify(ours) !== JSON.stringify(names))
    out.push(`${rel || '/'}: lists ${JSON.stringify(ours)}, mounted ${JSON.stringify(names)}`)
  for (const name of names) {
    const path = rel ? `${rel}/${name}` : name
    const st = lstatSync(join(root, path))
    if (st.isDirectory()) {
      out.push(...differences(view, root, path))
      continue
    }
    // A link is followed inside the image, by the view and by resolveInRoot on the mount.
    const host = view.resolve(path)
    const real = resolveInRoot(root, path)
    if ((host === undefined) !== (real === undefined)) out.push(`${path}: ${host} vs ${real}`)
    else if (real !== undefined && lstatSync(real).isFile()) {
      if (!readFileSync(host!).equals(readFileSync(real))) out.push(`${path}: content differs`)
    }
  }
  return out
}

const stores: [string, Parameters<typeof isolatedBuildahEnv>[0], boolean][] = [
  ['vfs', { driver: 'vfs' }, true],
  ['overlay (the kernel)', { driver: 'overlay' }, true],
  ['overlay (fuse-overlayfs)', { driver: 'overlay', mountProgram: FUSE }, haveFuse]
]

describe.skipIf(!haveBuildah)('an image in a real buildah store, read without buildah', () => {
  describe.each(stores)('%s', (_, storage, available) => {
    let buildah: BuildahEnv
    let id: string
    let store: StoreLocation
    beforeAll(async () => {
      if (!available) return
      buildah = isolatedBuildahEnv(storage)
      id = pull(buildah)
      const located = await locateStore({ ...process.env, ...buildah.env })
      if (typeof located === 'string') throw new Error(located)
      store = located
    })
    afterAll(() => buildah?.cleanup())

    it.skipIf(!available)('lists and reads what buildah mounts, and writes nothing', async () => {
      expect(store.driver).toBe(storage!.driver)
      const before = snapshot(store.graphRoot)
      const rootfs = await storedRootfs(store, { id: `sha256:${id}`, name: NAME })
      if (typeof rootfs === 'string') throw new Error(rootfs)
      const scan = scanRootfs(rootfs.view)
      expect(rootfs.problem()).toBeUndefined()
      expect(snapshot(store.graphRoot)).toEqual(before)
      // What the layers say, read through deletions, opacity and links:
      expect(scan.distro).toMatchObject({ id: 'debian', versionId: '12' })
      const dpkg = scan.packages.filter(p => p.manager === 'dpkg').map(p => p.name)
      expect(dpkg).toHaveLength(6 + 3)
      expect(dpkg.slice(-3)).toEqual(['b', 'c', 'd'])
      expect(dpkg).not.toContain('stale')
      // The opaque lib/apk of the top layer: the fixture's database, not the base layer's.
      const apk = scan.packages.filter(p => p.manager === 'apk').map(p => p.name)
      expect(apk).toEqual(['musl', 'busybox-binsh'])
      expect(scan.databases).toEqual([
        'var/lib/dpkg/status',
        'var/lib/dpkg/status.d/',
        'lib/apk/db/installed',
        'usr/lib/sysimage/rpm/rpmdb.sqlite'
      ])
      expect(scan.warnings).toEqual([
        expect.stringMatching(/^lib\/apk\/db\/installed: the entry at line \d+ has no V:/),
        expect.stringMatching(/^usr\/lib\/sysimage\/rpm\/rpmdb.sqlite: package header 1 skipped/)
      ])
      // The oracle: buildah's own mount of the image.
      mounted(buildah, id, root => {
        expect(differences(rootfs.view, root)).toEqual([])
        expect(scanRootfs(rootfs.view)).toEqual(scanRootfs(root))
      })
      expect(rootfs.problem()).toBeUndefined()
    })

    it.skipIf(!available)('through withRootfs: read from the store, no container', async () => {
      const log = memoryLogger()
      const img: LocalImage = {
        backend: 'buildah',
        ref: NAME,
        platforms: [],
        env: { ...process.env, ...buildah.env },
        temp: tmp,
        imageId: `sha256:${id}`,
        store: Promise.resolve(store)
      }
      const got = await withRootfs(img, scanRootfs, log)
      expect('value' in got && got.value.packages).toHaveLength(6 + 3 + 2)
      expect(log.text()).toMatch(/debug: sbom: .* read from its storage .*, no container/)
      expect(log.text()).not.toMatch(/mounted at/)
    })
  })

  describe('what cannot be read directly is mounted, and the debug line says why', () => {
    let buildah: BuildahEnv
    let id: string
    let store: StoreLocation
    beforeAll(async () => {
      buildah = isolatedBuildahEnv({ driver: 'overlay' })
      id = pull(buildah)
      store = (await locateStore({ ...process.env, ...buildah.env })) as StoreLocation
    })
    afterAll(() => buildah?.cleanup())
    const image = (s: LocalImage['store'], imageId?: string): LocalImage => ({
      backend: 'buildah',
      ref: NAME,
      platforms: [],
      env: { ...process.env, ...buildah.env },
      temp: tmp,
      imageId,
      store: s
    })
    const expected = (): ReturnType<typeof scanRootfs> => mounted(buildah, id, scanRootfs)

    it.each([
      ['the store unknown', () => image(undefined), /the store was not located/],
      [
        'buildah info failed',
        () => image(Promise.resolve('buildah info failed: x')),
        /buildah info failed: x/
      ],
      [
        'another driver',
        () => image(Promise.resolve({ ...store, driver: 'btrfs' })),
        /storage driver btrfs/
      ],
      [
        'an image ID the store lacks',
        () => image(Promise.resolve(store), `sha256:${'0'.repeat(64)}`),
        /is not in images.json/
      ]
    ])('%s', async (_, make, why) => {
      const log = memoryLogger()
      const got = await withRootfs(make(), scanRootfs, log)
      await rootfsCleanups()
      expect(got).toEqual({ value: expected() })
      expect(log.text()).toMatch(
        new RegExp(`not read from its storage directly \\(.*${why.source}.*\\); mounting it`)
      )
      expect(log.text()).toMatch(/mounted at/)
    })

    it('a layer whose tar-split is gone: found out while reading, then mounted', async () => {
      const top = (
        JSON.parse(
          readFileSync(join(store.graphRoot, 'overlay-images', 'images.json'), 'utf8')
        ) as {
          id: string
          layer: string
        }[]
      ).find(i => i.id === id)!.layer
      rmSync(join(store.graphRoot, 'overlay-layers', `${top}.tar-split.gz`))
      const log = memoryLogger()
      const got = await withRootfs(image(Promise.resolve(store), `sha256:${id}`), scanRootfs, log)
      await rootfsCleanups()
      expect(got).toEqual({ value: expected() })
      expect(log.text()).toMatch(
        /not read from its storage directly \(layer \w+: no readable tar-split \(ENOENT/
      )
    })
  })
})
