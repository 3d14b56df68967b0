/**
 * dpkg's package database as Debian and Ubuntu images carry it: `var/lib/dpkg/status`
 * (deb822 stanzas: `Field: value`, continuation lines indented, stanzas separated by
 * blank lines), and distroless images' `var/lib/dpkg/status.d/<package>`, one stanza a
 * file with no `Status` field, beside `<package>.md5sums` files that are not stanzas.
 */
import type { OsPackage } from './packages.js'

/** Files in status.d that are not control stanzas (checksums and maintainer scripts). */
export const DPKG_NON_CONTROL =
  /\.(md5sums|conffiles|list|preinst|postinst|prerm|postrm|config|templates|triggers|shlibs|symbols|sha256sums)$/

/** Split deb822 text into stanzas of lower-cased field → value (continuations joined). */
export function parseDeb822(text: string): Record<string, string>[] {
  const stanzas: Record<string, string>[] = []
  let current: Record<string, string> = {}
  let last: string | undefined
  const flush = (): void => {
    if (Object.keys(current).length > 0) stanzas.push(current)
    current = {}
    last = undefined
  }
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      flush()
      continue
    }
    if (/^[ \t]/.test(line)) {
      if (last !== undefined) current[last] += `\n${line.trim() === '.' ? '' : line.trim()}`
      continue
    }
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    last = line.slice(0, colon).trim().toLowerCase()
    current[last] = line.slice(colon + 1).trim()
  }
  flush()
  return stanzas
}

/** Whether a `Status:` value means the package is on disk (`install ok installed`, held too). */
function isInstalled(status: string | undefined): boolean {
  if (status === undefined) return true // distroless status.d entries carry no Status
  const words = status.trim().split(/\s+/)
  return words[2] === 'installed'
}

/**
 * The packages of a dpkg status text. Stanzas without a Package or Version field are
 * reported in `warnings`; packages not installed (`deinstall ok config-files`) are left out.
 */
export function parseDpkgStatus(
  text: string,
  database: string,
  warnings: string[],
  options: { distroless?: boolean } = {}
): OsPackage[] {
  const out: OsPackage[] = []
  const stanzas = parseDeb822(text)
  if (stanzas.length === 0 && text.trim() !== '') {
    warnings.push(
      `${database}: no dpkg stanza could be read; its packages are missing from the SBOM`
    )
  }
  for (const s of stanzas) {
    // A package dpkg knows of but has not installed (`install ok not-installed`,
    // `deinstall ok config-files`) has no files in the image, and often no Version.
    if (!options.distroless && !isInstalled(s.status)) continue
    if (!s.package || !s.version) {
      warnings.push(
        `${database}: a stanza without ${s.package ? 'Version' : 'Package'} (${s.package ?? 'unnamed'}) was skipped`
      )
      continue
    }
    const pkg: OsPackage = { manager: 'dpkg', name: s.package, version: s.version, database }
    if (s.architecture) pkg.arch = s.architecture
    // `Source: glibc (2.36-9)`: the source name, and its version when it differs.
    const source = /^(\S+)(?:\s+\(([^)]+)\))?$/.exec(s.source ?? '')
    if (source) {
      pkg.source = source[1]
      if (source[2]) pkg.sourceVersion = source[2]
    }
    if (s.maintainer) pkg.supplier = s.maintainer
    if (s.homepage) pkg.homepage = s.homepage
    if (s.description) pkg.summary = s.description.split('\n')[0]
    out.push(pkg)
  }
  return out
}
