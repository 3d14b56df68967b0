/**
 * Package URLs (https://github.com/package-url/purl-spec) for the SBOM: `pkg:deb`,
 * `pkg:apk`, `pkg:rpm` for OS packages (namespace = the distribution, qualifiers arch,
 * distro, epoch, upstream, sorted as the spec wants) and `pkg:oci` for the image itself.
 */
import type { Distro, OsPackage } from './packages.js'

/** Percent-encode a purl component, keeping the characters tools leave readable (`+`, `:`). */
function enc(value: string): string {
  return encodeURIComponent(value).replace(/%2B/g, '+').replace(/%3A/g, ':')
}

function qualifiers(q: Record<string, string | undefined>): string {
  const parts = Object.keys(q)
    .filter(k => q[k] !== undefined && q[k] !== '')
    .sort()
    .map(k => `${k}=${enc(q[k]!).replace(/%2F/g, '/')}`)
  return parts.length > 0 ? `?${parts.join('&')}` : ''
}

const DEFAULT_NAMESPACE: Record<OsPackage['manager'], string> = {
  dpkg: 'debian',
  apk: 'alpine',
  rpm: 'fedora'
}

/** The purl namespace of a distribution (`rhel` is written `redhat`, as the tools do). */
function namespace(manager: OsPackage['manager'], distro: Distro | undefined): string {
  const id = distro?.id
  if (!id) return DEFAULT_NAMESPACE[manager]
  return id === 'rhel' ? 'redhat' : id
}

/** The purl of an OS package. */
export function packagePurl(pkg: OsPackage, distro: Distro | undefined): string {
  const type = pkg.manager === 'dpkg' ? 'deb' : pkg.manager
  // The source package, when it says something the name and version do not.
  const otherVersion = pkg.sourceVersion !== undefined && pkg.sourceVersion !== pkg.version
  const upstream =
    pkg.source && (pkg.source !== pkg.name || otherVersion)
      ? otherVersion && pkg.manager === 'dpkg'
        ? `${pkg.source}@${pkg.sourceVersion}`
        : pkg.source
      : undefined
  return (
    `pkg:${type}/${enc(namespace(pkg.manager, distro))}/${enc(pkg.name)}@${enc(pkg.version)}` +
    qualifiers({
      arch: pkg.arch,
      distro: distro?.versionId ? `${distro.id}-${distro.versionId}` : distro?.id,
      epoch: pkg.epoch !== undefined && pkg.epoch !== 0 ? String(pkg.epoch) : undefined,
      upstream
    })
  )
}

/** The purl of an image: `pkg:oci/<last path component>@<digest>?repository_url=<repository>`. */
export function imagePurl(image: string, digest: string): string {
  const name = image.slice(image.lastIndexOf('/') + 1)
  return `pkg:oci/${enc(name)}@${encodeURIComponent(digest)}${qualifiers({ repository_url: image })}`
}
