/**
 * The SBOM: OS packages read from real package databases and judged by the package
 * managers themselves (this machine's dpkg database against `dpkg-query`; an rpm sqlite
 * database that rpmbuild and `rpm --root -i` write, against `rpm -qa`), distroless
 * status.d with its md5sums beside, apk, the warnings for what cannot be read, and the
 * SPDX 2.3 document checked against the official JSON schema (from the reference folder)
 * and the specification's rules the schema does not encode.
 */
import { execFileSync } from 'node:child_process'
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { afterAll, describe, expect, it } from 'vitest'
import { parseApkInstalled } from '../../../../src/image/attest/apk.js'
import { parseDeb822 } from '../../../../src/image/attest/dpkg.js'
import { parseOsRelease, scanRootfs } from '../../../../src/image/attest/packages.js'
import { packagePurl } from '../../../../src/image/attest/purl.js'
import { resolveInRoot } from '../../../../src/image/attest/rootfs.js'
import { sbomOfRootfs } from '../../../../src/image/attest/sbom.js'
import {
  isSpdxExpression,
  spdxDocument,
  type SpdxDocument
} from '../../../../src/image/attest/spdx.js'

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'attest')
const DIGEST = `sha256:${'d'.repeat(64)}`
const tmp = mkdtempSync(join(tmpdir(), 'conveyor-sbom-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))
let n = 0
const newRoot = (): string => {
  const dir = join(tmp, `root-${++n}`)
  mkdirSync(dir, { recursive: true })
  return dir
}

/** Rules of SPDX 2.3 that its JSON schema does not check. */
function specProblems(doc: SpdxDocument): string[] {
  const problems: string[] = []
  const ids = new Set(['SPDXRef-DOCUMENT', ...doc.packages.map(p => p.SPDXID)])
  if (ids.size !== doc.packages.length + 1) problems.push('duplicate SPDXID')
  for (const id of ids) if (!/^SPDXRef-[A-Za-z0-9.-]+$/.test(id)) problems.push(`bad SPDXID ${id}`)
  if (!/^[a-z][a-z0-9+.-]*:[^#]+$/.test(doc.documentNamespace))
    problems.push('documentNamespace not a URI without #')
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(doc.creationInfo.created))
    problems.push('created format')
  for (const r of doc.relationships) {
    if (!ids.has(r.spdxElementId) || !ids.has(r.relatedSpdxElement))
      problems.push(`dangling relationship ${JSON.stringify(r)}`)
  }
  const refs = new Set((doc.hasExtractedLicensingInfos ?? []).map(l => l.licenseId))
  for (const p of doc.packages) {
    for (const lic of [p.licenseDeclared, p.licenseConcluded]) {
      if (lic === 'NOASSERTION' || lic === 'NONE') continue
      if (lic.startsWith('LicenseRef-') ? !refs.has(lic) : !isSpdxExpression(lic))
        problems.push(`license ${lic}`)
    }
    if (
      !p.externalRefs.some(r => r.referenceType === 'purl' && r.referenceLocator.startsWith('pkg:'))
    )
      problems.push(`no purl on ${p.name}`)
    if (
      p.supplier &&
      p.supplier !== 'NOASSERTION' &&
      !/^(Person|Organization): .+/.test(p.supplier)
    )
      problems.push(`supplier ${p.supplier}`)
  }
  return problems
}

const REFERENCE = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'supply-chain')
const schemaPath = join(REFERENCE, 'spdx', 'spdx-schema-2.3.json')
function schemaErrors(doc: unknown): string[] {
  const ajv = new Ajv({ allErrors: true, strict: false })
  const validate = ajv.compile(JSON.parse(readFileSync(schemaPath, 'utf8')) as object)
  return validate(doc) ? [] : (validate.errors ?? []).map(e => `${e.instancePath} ${e.message}`)
}

describe('dpkg', () => {
  it("this machine's whole dpkg database: the installed packages dpkg-query lists, no more, no fewer", () => {
    const root = newRoot()
    mkdirSync(join(root, 'var/lib/dpkg'), { recursive: true })
    copyFileSync('/var/lib/dpkg/status', join(root, 'var/lib/dpkg/status'))
    const scan = scanRootfs(root)
    const dpkg = execFileSync('dpkg-query', [
      `--admindir=${join(root, 'var/lib/dpkg')}`,
      '-W',
      '-f=${db:Status-Abbrev}|${Package}|${Version}|${Architecture}\\n'
    ]).toString()
    const expected = dpkg
      .split('\n')
      .filter(l => l[1] === 'i')
      .map(l => l.split('|').slice(1).join('|'))
      .sort()
    const ours = scan.packages.map(p => `${p.name}|${p.version}|${p.arch}`).sort()
    expect(ours.length).toBeGreaterThan(50)
    expect(ours).toEqual(expected)
    expect(scan.warnings).toEqual([])
  })

  it('the fixture: source packages, epochs, the not-installed entry left out without a warning', () => {
    const scan = scanRootfs(join(FIXTURES, 'debian12'))
    expect(scan.distro).toMatchObject({ id: 'debian', versionId: '12' })
    expect(scan.warnings).toEqual([])
    expect(scan.packages.map(p => p.name).sort()).toEqual([
      'base-files',
      'gcc-12-base',
      'libc6',
      'libgcc-s1',
      'login',
      'zlib1g'
    ])
    const libc = scan.packages.find(p => p.name === 'libc6')!
    expect(libc).toMatchObject({ source: 'glibc', arch: 'amd64', database: 'var/lib/dpkg/status' })
    expect(packagePurl(libc, scan.distro)).toBe(
      `pkg:deb/debian/libc6@${libc.version}?arch=amd64&distro=debian-12&upstream=glibc`
    )
    const zlib = scan.packages.find(p => p.name === 'zlib1g')!
    expect(zlib.version).toMatch(/^1:/)
    expect(packagePurl(zlib, scan.distro)).toMatch(
      /^pkg:deb\/debian\/zlib1g@1:1\.2\.13\.dfsg-1\?arch=amd64&distro=debian-12&upstream=zlib$/
    )
    const gcc = scan.packages.find(p => p.name === 'libgcc-s1')!
    expect(gcc.source).toBe('gcc-12')
  })

  it('distroless status.d: one stanza a file, md5sums beside them ignored', () => {
    const root = newRoot()
    const dir = join(root, 'var/lib/dpkg/status.d')
    mkdirSync(dir, { recursive: true })
    const stanzas = parseDeb822(
      readFileSync(join(FIXTURES, 'debian12/var/lib/dpkg/status'), 'utf8')
    )
    const text = readFileSync(join(FIXTURES, 'debian12/var/lib/dpkg/status'), 'utf8').split(/\n\n/)
    for (const block of text) {
      const name = /^Package: (.*)$/m.exec(block)![1]!
      if (!/^Version:/m.test(block)) continue
      // distroless drops the Status line
      writeFileSync(join(dir, name), block.replace(/^Status: .*\n/m, '') + '\n')
      const md5 = `/var/lib/dpkg/info/${name}.md5sums`
      writeFileSync(
        join(dir, `${name}.md5sums`),
        existsSync(md5) ? readFileSync(md5) : 'd41d8cd98f00b204e9800998ecf8427e  usr/share/doc/x\n'
      )
    }
    const scan = scanRootfs(root)
    expect(scan.warnings).toEqual([])
    expect(scan.databases).toEqual(['var/lib/dpkg/status.d/'])
    expect(scan.packages.map(p => p.name).sort()).toEqual(
      stanzas
        .filter(s => s.version)
        .map(s => s.package)
        .sort()
    )
    expect(scan.packages.find(p => p.name === 'libc6')!.database).toBe(
      'var/lib/dpkg/status.d/libc6'
    )
  })
})

describe('apk', () => {
  it('the fixture: packages with license, origin and purl; an entry without V: is a warning', () => {
    const scan = scanRootfs(join(FIXTURES, 'alpine'))
    expect(scan.distro).toMatchObject({ id: 'alpine', versionId: '3.18.4' })
    expect(scan.packages.map(p => `${p.name}@${p.version}`)).toEqual([
      'musl@1.2.4-r2',
      'busybox-binsh@1.36.1-r5'
    ])
    expect(scan.warnings).toEqual([
      'lib/apk/db/installed: the entry at line 41 has no V: (version) and was skipped'
    ])
    const sh = scan.packages[1]!
    expect(sh).toMatchObject({
      license: 'GPL-2.0-only',
      source: 'busybox',
      supplier: 'Sören Tempel <soeren+alpine@soeren-tempel.net>'
    })
    expect(packagePurl(sh, scan.distro)).toBe(
      'pkg:apk/alpine/busybox-binsh@1.36.1-r5?arch=x86_64&distro=alpine-3.18.4&upstream=busybox'
    )
  })
  it("a real Alpine database (syft's apk test data)", () => {
    const real = join(REFERENCE, 'syft-apk', 'installed')
    const warnings: string[] = []
    const pkgs = parseApkInstalled(readFileSync(real, 'utf8'), 'lib/apk/db/installed', warnings)
    expect(warnings).toEqual([])
    expect(pkgs.map(p => p.name)).toEqual(expect.arrayContaining(['musl', 'busybox-binsh', 'bash']))
    expect(pkgs.every(p => p.version && p.arch && p.license)).toBe(true)
  })
})

const haveRpm = (() => {
  try {
    execFileSync('rpmbuild', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

describe.skipIf(!haveRpm)('rpm (rpmbuild and rpm from the Debian rpm package)', () => {
  it('reads the sqlite database rpm wrote, as rpm -qa lists it', () => {
    const top = join(tmp, 'rpmtop')
    const spec = join(tmp, 'hello.spec')
    writeFileSync(
      spec,
      [
        'Name: conveyor-hello',
        'Version: 1.2.3',
        'Release: 4.fc40',
        'Epoch: 2',
        'Summary: A test package',
        'License: MIT AND (Apache-2.0 OR BSD-3-Clause)',
        'Vendor: Conveyor Tests',
        'URL: https://example.com/hello',
        'BuildArch: noarch',
        '%description',
        'A test package.',
        '%install',
        'mkdir -p %{buildroot}/usr/share/hello && echo hi > %{buildroot}/usr/share/hello/hi.txt',
        '%files',
        '/usr/share/hello/hi.txt',
        ''
      ].join('\n')
    )
    const spec2 = join(tmp, 'old.spec')
    writeFileSync(
      spec2,
      readFileSync(spec, 'utf8')
        .replace('conveyor-hello', 'conveyor-old')
        .replace(/^Epoch: 2\n/m, '')
        .replace(/^License: .*$/m, 'License: GPLv2+')
        .replace(/hello/g, 'old')
    )
    for (const s of [spec, spec2]) {
      execFileSync('rpmbuild', ['-bb', '--define', `_topdir ${top}`, s], { stdio: 'pipe' })
    }
    const root = newRoot()
    const rpms = execFileSync('find', [join(top, 'RPMS'), '-name', '*.rpm'])
      .toString()
      .trim()
      .split('\n')
    execFileSync('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', '--nodeps', '-i', ...rpms], {
      stdio: 'pipe'
    })
    writeFileSync(join(root, 'os-release'), '')
    mkdirSync(join(root, 'etc'))
    writeFileSync(join(root, 'etc/os-release'), 'ID=fedora\nVERSION_ID=40\n')
    const scan = scanRootfs(root)
    expect(scan.warnings).toEqual([])
    expect(scan.databases).toEqual(['var/lib/rpm/rpmdb.sqlite'])
    const oracle = execFileSync('rpm', [
      '--root',
      root,
      '--dbpath',
      '/var/lib/rpm',
      '-qa',
      '--qf',
      '%{NAME}|%{EPOCHNUM}|%{VERSION}-%{RELEASE}|%{ARCH}|%{LICENSE}|%{VENDOR}\\n'
    ])
      .toString()
      .trim()
      .split('\n')
      .sort()
    const ours = scan.packages
      .map(p => `${p.name}|${p.epoch ?? 0}|${p.version}|${p.arch}|${p.license}|${p.supplier}`)
      .sort()
    expect(ours).toEqual(oracle)
    const hello = scan.packages.find(p => p.name === 'conveyor-hello')!
    expect(hello).toMatchObject({ source: 'conveyor-hello', sourceVersion: '1.2.3-4.fc40' })
    expect(packagePurl(hello, scan.distro)).toBe(
      'pkg:rpm/fedora/conveyor-hello@1.2.3-4.fc40?arch=noarch&distro=fedora-40&epoch=2'
    )
    // a license that is no SPDX expression becomes a LicenseRef with its text
    const doc = spdxDocument({ image: 'r/app', digest: DIGEST, scan, created: new Date() })
    const old = doc.packages.find(p => p.name === 'conveyor-old')!
    expect(old.licenseDeclared).toMatch(/^LicenseRef-GPLv2-[0-9a-f]{8}$/)
    expect(doc.hasExtractedLicensingInfos).toEqual([
      { licenseId: old.licenseDeclared, extractedText: 'GPLv2+', name: 'GPLv2+' }
    ])
    expect(doc.packages.find(p => p.name === 'conveyor-hello')!.versionInfo).toBe('2:1.2.3-4.fc40')
    expect(specProblems(doc)).toEqual([])
    expect(schemaErrors(doc)).toEqual([])
  })
})

describe('what cannot be read is a warning, never a silent empty SBOM', () => {
  it.each([
    ['var/lib/rpm/Packages', /an rpm Berkeley DB database, which Conveyor cannot read/],
    ['var/lib/rpm/Packages.db', /an rpm NDB database/],
    ['var/lib/rpm/rpmdb.sqlite', /cannot be read as an rpm sqlite database/]
  ])('%s', (rel, re) => {
    const root = newRoot()
    mkdirSync(join(root, rel, '..'), { recursive: true })
    writeFileSync(join(root, rel), 'not a database')
    const scan = scanRootfs(root)
    expect(scan.warnings.join('\n')).toMatch(re)
    expect(scan.packages).toEqual([])
  })
  it('a status that is no file, an apk database without entries', () => {
    const root = newRoot()
    mkdirSync(join(root, 'var/lib/dpkg/status'), { recursive: true }) // a directory where a file belongs
    mkdirSync(join(root, 'lib/apk/db'), { recursive: true })
    writeFileSync(join(root, 'lib/apk/db/installed'), 'garbage\nwithout fields\n')
    const scan = scanRootfs(root)
    expect(scan.warnings).toEqual([
      'var/lib/dpkg/status: exists but is not a file; its packages are missing from the SBOM',
      'lib/apk/db/installed: no package entry could be read; its packages are missing from the SBOM'
    ])
  })
  it("symlinks resolve inside the image, never to the build machine's own files", () => {
    const root = newRoot()
    // An absolute link, as an image may carry it: on the host it would name the host's database.
    mkdirSync(join(root, 'usr/lib/sysimage/dpkg'), { recursive: true })
    cpSync(
      join(FIXTURES, 'debian12/var/lib/dpkg/status'),
      join(root, 'usr/lib/sysimage/dpkg/status')
    )
    mkdirSync(join(root, 'var/lib'), { recursive: true })
    symlinkSync('/usr/lib/sysimage/dpkg', join(root, 'var/lib/dpkg'))
    // and one that climbs with .. past the root: clamped at the image's root
    mkdirSync(join(root, 'etc'))
    writeFileSync(join(root, 'os-release.real'), 'ID=debian\nVERSION_ID=12\n')
    symlinkSync('../../../../../../os-release.real', join(root, 'etc/os-release'))
    const scan = scanRootfs(root)
    expect(scan.warnings).toEqual([])
    expect(scan.packages).toHaveLength(6) // the fixture's, not this machine's hundreds
    expect(scan.distro).toEqual({ id: 'debian', versionId: '12' })
    expect(resolveInRoot(root, 'var/lib/dpkg/status')).toBe(
      join(root, 'usr/lib/sysimage/dpkg/status')
    )
    symlinkSync('loop', join(root, 'loop'))
    expect(resolveInRoot(root, 'loop/x')).toBeUndefined()
  })
  it('no database at all (FROM scratch): said, and the SBOM still lists the image', () => {
    const { statement, scan } = sbomOfRootfs(newRoot(), 'r/app', DIGEST)
    expect(scan.warnings).toEqual([expect.stringMatching(/^no package database found/)])
    expect(statement.predicate.packages.map(p => p.name)).toEqual(['r/app'])
    expect(statement.predicate.creationInfo.comment).toMatch(/Warning: no package database found/)
  })
})

describe('the SPDX 2.3 document', () => {
  const created = new Date('2026-03-04T05:06:07.890Z')
  const { statement } = sbomOfRootfs(
    join(FIXTURES, 'debian12'),
    '127.0.0.1:5000/acme/cart',
    DIGEST,
    { created, toolVersion: '1.0.0' }
  )
  const doc = statement.predicate

  it('is an in-toto statement about the image, with the SPDX predicate type', () => {
    expect(statement.predicateType).toBe('https://spdx.dev/Document/v2.3')
    expect(statement.subject).toEqual([
      { name: '127.0.0.1:5000/acme/cart', digest: { sha256: 'd'.repeat(64) } }
    ])
  })
  it('describes the image, which contains every package', () => {
    expect(doc.relationships[0]).toEqual({
      spdxElementId: 'SPDXRef-DOCUMENT',
      relatedSpdxElement: 'SPDXRef-image',
      relationshipType: 'DESCRIBES'
    })
    expect(
      doc.relationships
        .slice(1)
        .every(r => r.spdxElementId === 'SPDXRef-image' && r.relationshipType === 'CONTAINS')
    ).toBe(true)
    expect(doc.relationships).toHaveLength(doc.packages.length)
    expect(doc.packages[0]).toMatchObject({
      name: '127.0.0.1:5000/acme/cart',
      versionInfo: DIGEST,
      primaryPackagePurpose: 'CONTAINER',
      externalRefs: [
        {
          referenceCategory: 'PACKAGE-MANAGER',
          referenceType: 'purl',
          referenceLocator: `pkg:oci/cart@sha256%3A${'d'.repeat(64)}?repository_url=127.0.0.1:5000/acme/cart`
        }
      ]
    })
    expect(doc.creationInfo).toMatchObject({
      created: '2026-03-04T05:06:07Z',
      creators: ['Tool: conveyor-1.0.0']
    })
    expect(doc.packages.find(p => p.name === 'libc6')!.supplier).toMatch(
      /^Person: GNU Libc Maintainers \(debian-glibc@lists\.debian\.org\)$/
    )
  })
  it('keeps the rules of the specification', () => {
    expect(specProblems(doc)).toEqual([])
  })
  it('validates against the official SPDX 2.3 JSON schema', () => {
    expect(schemaErrors(doc)).toEqual([])
    // the schema is a real check: a document without a name fails it
    expect(schemaErrors({ ...doc, name: undefined }).join()).toMatch(
      /must have required property 'name'/
    )
  })
  it('the same input gives the same document', () => {
    const again = sbomOfRootfs(join(FIXTURES, 'debian12'), '127.0.0.1:5000/acme/cart', DIGEST, {
      created,
      toolVersion: '1.0.0'
    })
    expect(JSON.stringify(again.statement)).toBe(JSON.stringify(statement))
  })
})

describe('parseOsRelease', () => {
  it.each([
    ['ID=alpine\nVERSION_ID=3.20.1\n', { id: 'alpine', versionId: '3.20.1' }],
    [
      'NAME="Red Hat"\nID="rhel"\nVERSION_ID="9.4"\nPRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"',
      { id: 'rhel', versionId: '9.4', prettyName: 'Red Hat Enterprise Linux 9.4 (Plow)' }
    ],
    ['# no id\nNAME=x\n', undefined]
  ])('%j', (text, distro) => {
    expect(parseOsRelease(text)).toEqual(distro)
  })
})
