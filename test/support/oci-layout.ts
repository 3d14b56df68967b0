/**
 * An OCI image layout (image-spec `oci-layout`, `index.json`, `blobs/sha256/`) whose
 * layers are tars of directories as given, made with GNU tar: a test writes the exact
 * entries a layer carries (whiteouts `.wh.<name>`, opaque markers `.wh..wh..opq`,
 * symlinks), and `buildah pull oci:<dir>:<tag>` has containers/storage apply them as it
 * applies any pulled layer. No test framework imports.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** The image-spec architecture of this machine. */
function architecture(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch
}

/**
 * Write an OCI layout in `dir` with one image tagged `tag`, whose layers (bottom first)
 * are the contents of the directories `layers`, each an uncompressed tar.
 */
export function writeOciLayout(dir: string, tag: string, layers: string[]): void {
  const blobs = join(dir, 'blobs', 'sha256')
  mkdirSync(blobs, { recursive: true })
  const put = (bytes: Buffer): { digest: string; size: number } => {
    const hex = createHash('sha256').update(bytes).digest('hex')
    writeFileSync(join(blobs, hex), bytes)
    return { digest: `sha256:${hex}`, size: bytes.length }
  }
  const layerDescriptors = layers.map(layer => {
    // Entry names without a leading ./, as image builders write them.
    const names = readdirSync(layer).sort()
    const tar = execFileSync(
      'tar',
      [
        '--sort=name',
        '--owner=0',
        '--group=0',
        '--numeric-owner',
        '-C',
        layer,
        '-cf',
        '-',
        ...names
      ],
      { maxBuffer: 256 * 1024 * 1024 }
    )
    return { mediaType: 'application/vnd.oci.image.layer.v1.tar', ...put(tar) }
  })
  const config = put(
    Buffer.from(
      JSON.stringify({
        architecture: architecture(),
        os: 'linux',
        config: {},
        rootfs: { type: 'layers', diff_ids: layerDescriptors.map(l => l.digest) }
      })
    )
  )
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: layerDescriptors
      })
    )
  )
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': tag }
        }
      ]
    })
  )
}
