/**
 * The SBOM attestation of an image: scan its root filesystem (a directory the backend
 * that built it provides: `buildah mount`, or `docker export` unpacked), write the SPDX
 * 2.3 document, and wrap it in an in-toto statement about the image digest. Warnings
 * (a database that cannot be read, none found) come back for the caller to log.
 */
import { scanRootfs, type PackageScan } from './packages.js'
import { SPDX_PREDICATE_TYPE, spdxDocument, type SpdxDocument } from './spdx.js'
import { imageSubject, makeStatement, type Statement } from './statement.js'

/** The SBOM statement and what the scan found. */
export interface SbomResult {
  statement: Statement<SpdxDocument>
  scan: PackageScan
}

/** The in-toto statement of an SPDX document about an image. Pure. */
export function sbomStatement(
  image: string,
  digest: string,
  scan: PackageScan,
  created: Date,
  toolVersion?: string
): Statement<SpdxDocument> {
  return makeStatement(
    [imageSubject(image, digest)],
    SPDX_PREDICATE_TYPE,
    spdxDocument({ image, digest, scan, created, toolVersion })
  )
}

/** Scan `rootfs` and build the SBOM statement of `image@digest`. */
export function sbomOfRootfs(
  rootfs: string,
  image: string,
  digest: string,
  options: { created?: Date; toolVersion?: string } = {}
): SbomResult {
  const scan = scanRootfs(rootfs)
  return {
    statement: sbomStatement(
      image,
      digest,
      scan,
      options.created ?? new Date(),
      options.toolVersion
    ),
    scan
  }
}
