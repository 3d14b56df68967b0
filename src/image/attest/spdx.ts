/**
 * An SPDX 2.3 JSON document (https://spdx.github.io/spdx-spec/v2.3/) of an image: one
 * package for the image itself (purpose CONTAINER, `pkg:oci` purl), which the document
 * DESCRIBES, and one package per OS package found in its root filesystem, each CONTAINED
 * by the image, with its purl. A license that is not a valid SPDX expression (older
 * Fedora/RHEL short names such as `GPLv2+`) becomes a LicenseRef with the original text.
 * Pure: the scan and the creation time come in.
 */
import { createHash } from 'node:crypto'
import parseLicense from 'spdx-expression-parse'
import type { OsPackage, PackageScan } from './packages.js'
import { imagePurl, packagePurl } from './purl.js'

/** `predicateType` of an SPDX 2.3 document in an in-toto statement. */
export const SPDX_PREDICATE_TYPE = 'https://spdx.dev/Document/v2.3'

/** One SPDX package (the fields we write). */
export interface SpdxPackage {
  SPDXID: string
  name: string
  versionInfo?: string
  supplier?: string
  downloadLocation: string
  filesAnalyzed: boolean
  homepage?: string
  sourceInfo?: string
  licenseConcluded: string
  licenseDeclared: string
  copyrightText: string
  summary?: string
  primaryPackagePurpose?: string
  externalRefs: { referenceCategory: string; referenceType: string; referenceLocator: string }[]
}

/** An SPDX 2.3 document. */
export interface SpdxDocument {
  spdxVersion: 'SPDX-2.3'
  dataLicense: 'CC0-1.0'
  SPDXID: 'SPDXRef-DOCUMENT'
  name: string
  documentNamespace: string
  creationInfo: { created: string; creators: string[]; comment?: string }
  packages: SpdxPackage[]
  relationships: { spdxElementId: string; relatedSpdxElement: string; relationshipType: string }[]
  hasExtractedLicensingInfos?: { licenseId: string; extractedText: string; name: string }[]
}

/** What the document is about. */
export interface SbomInput {
  /** Repository without tag. */
  image: string
  digest: string
  scan: PackageScan
  created: Date
  /** Conveyor's version, for `creators` (`Tool: conveyor-<version>`). */
  toolVersion?: string
}

/** An SPDX element id from free text: letters, digits, `.` and `-` only. */
export function spdxId(prefix: string, ...parts: string[]): string {
  return `SPDXRef-${[prefix, ...parts].join('-').replace(/[^A-Za-z0-9.-]+/g, '-')}`
}

/** `Name <mail>` as an SPDX agent (`Person: Name (mail)`), or NOASSERTION. */
export function spdxAgent(text: string | undefined, kind: 'Person' | 'Organization'): string {
  const t = text?.trim()
  if (!t) return 'NOASSERTION'
  const m = /^(.*?)\s*<([^>]*)>\s*$/.exec(t)
  return m ? `${kind}: ${m[1] || m[2]} (${m[2]})` : `${kind}: ${t}`
}

/** Whether a license string is a valid SPDX license expression. */
export function isSpdxExpression(text: string): boolean {
  try {
    parseLicense(text)
    return true
  } catch {
    return false
  }
}

function sha8(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8)
}

/** Seconds precision and a `Z`, as SPDX's `created` wants it. */
function spdxTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** The SPDX document of an image and its OS packages. */
export function spdxDocument(input: SbomInput): SpdxDocument {
  const { image, digest, scan } = input
  const imageId = 'SPDXRef-image'
  const licenseRefs = new Map<string, string>()
  const license = (text: string | undefined): string => {
    const t = text?.trim()
    if (!t) return 'NOASSERTION'
    if (isSpdxExpression(t)) return t
    let ref = licenseRefs.get(t)
    if (!ref) {
      ref = `LicenseRef-${t.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '') || 'unknown'}-${sha8(t)}`
      licenseRefs.set(t, ref)
    }
    return ref
  }
  const packages: SpdxPackage[] = [
    {
      SPDXID: imageId,
      name: image,
      versionInfo: digest,
      supplier: 'NOASSERTION',
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      primaryPackagePurpose: 'CONTAINER',
      externalRefs: [
        {
          referenceCategory: 'PACKAGE-MANAGER',
          referenceType: 'purl',
          referenceLocator: imagePurl(image, digest)
        }
      ]
    }
  ]
  const relationships: SpdxDocument['relationships'] = [
    {
      spdxElementId: 'SPDXRef-DOCUMENT',
      relatedSpdxElement: imageId,
      relationshipType: 'DESCRIBES'
    }
  ]
  const seen = new Set<string>([imageId])
  for (const pkg of sortPackages(scan.packages)) {
    let id = spdxId(
      'Package',
      pkg.manager,
      pkg.name,
      sha8(`${pkg.name} ${pkg.version} ${pkg.arch ?? ''} ${pkg.database}`)
    )
    for (let i = 2; seen.has(id); i++) id = `${id}-${i}`
    seen.add(id)
    const version = pkg.epoch ? `${pkg.epoch}:${pkg.version}` : pkg.version
    const entry: SpdxPackage = {
      SPDXID: id,
      name: pkg.name,
      versionInfo: version,
      supplier: spdxAgent(pkg.supplier, pkg.manager === 'rpm' ? 'Organization' : 'Person'),
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: license(pkg.license),
      copyrightText: 'NOASSERTION',
      primaryPackagePurpose: 'LIBRARY',
      externalRefs: [
        {
          referenceCategory: 'PACKAGE-MANAGER',
          referenceType: 'purl',
          referenceLocator: packagePurl(pkg, scan.distro)
        }
      ]
    }
    if (pkg.homepage && /^https?:\/\//.test(pkg.homepage)) entry.homepage = pkg.homepage
    if (pkg.summary) entry.summary = pkg.summary
    entry.sourceInfo = `listed in ${pkg.database}`
    packages.push(entry)
    relationships.push({
      spdxElementId: imageId,
      relatedSpdxElement: id,
      relationshipType: 'CONTAINS'
    })
  }
  const comment = [
    scan.distro?.prettyName ? `Distribution: ${scan.distro.prettyName}.` : undefined,
    scan.databases.length > 0 ? `Package databases: ${scan.databases.join(', ')}.` : undefined,
    ...scan.warnings.map(w => `Warning: ${w}.`)
  ]
    .filter(Boolean)
    .join(' ')
  const doc: SpdxDocument = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${image}@${digest}`,
    documentNamespace: `https://spdx.org/spdxdocs/conveyor/${encodeURIComponent(image)}-${digest.replace(':', '-')}-${sha8(spdxTime(input.created))}`,
    creationInfo: {
      created: spdxTime(input.created),
      creators: [`Tool: conveyor${input.toolVersion ? `-${input.toolVersion}` : ''}`],
      ...(comment ? { comment } : {})
    },
    packages,
    relationships
  }
  if (licenseRefs.size > 0) {
    doc.hasExtractedLicensingInfos = [...licenseRefs].map(([text, id]) => ({
      licenseId: id,
      extractedText: text,
      name: text
    }))
  }
  return doc
}

/** Packages in a stable order: manager, name, version. */
function sortPackages(list: OsPackage[]): OsPackage[] {
  const key = (p: OsPackage): string =>
    `${p.manager}\u0000${p.name}\u0000${p.version}\u0000${p.arch ?? ''}`
  return [...list].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
}
