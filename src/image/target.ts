/**
 * What a build targets: a service of the services file (the inputs override its
 * defaults, and the log says which value is used and why), or an explicit context and
 * image. The context and the Dockerfile must lie inside the workspace.
 */
import { existsSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { confinedPath } from '../core/confine.js'
import { ConfigurationError } from '../core/errors.js'
import type { Logger } from '../core/logger.js'
import { parseImageRef } from '../model/image-ref.js'
import { findService, serviceImage } from '../model/services/config.js'
import { loadServices } from '../model/services/load.js'
import type { ImageTarget } from './job.js'
import { refuseSecrets } from './refuse-secrets.js'

/** What was asked for: a service (with overrides), or a context and an image. */
export interface TargetRequest {
  /** The checked-out repository; every path is resolved and confined inside it. */
  workspace: string
  /** The services file, relative to the workspace. */
  servicesFile: string
  service?: string
  context?: string
  dockerfile?: string
  /** The image name; prefixed with `registry` when it names none. */
  image?: string
  registry?: string
  target?: string
  buildArgs: Map<string, string>
  platforms: string[]
}

/** A path inside the workspace (symlinks resolved), or a ConfigurationError naming the input. */
function insideWorkspace(workspace: string, path: string, input: string): string {
  return confinedPath(workspace, path, {
    input,
    hint: 'builds may only read the checked-out repository'
  })
}

function withRegistry(image: string, registry: string | undefined): string {
  const parsed = parseImageRef(image)
  if (parsed.registry || !registry) return image
  return `${registry}/${image}`
}

/**
 * The image a request names and the service it belongs to (for a merge: no context is
 * read). A service's image comes from the services file unless an input overrides it.
 */
export async function resolveImageName(
  req: Pick<TargetRequest, 'workspace' | 'servicesFile' | 'service' | 'image' | 'registry'>,
  log: Logger
): Promise<{ service: string; image: string }> {
  if (req.service !== undefined) {
    // loadServices refuses a services file that leads out of the workspace.
    const config = await loadServices({ workspace: req.workspace, config: req.servicesFile })
    const chosen = serviceImage(findService(config, req.service), config, req)
    log.info(`image ${chosen.image} (from ${chosen.from})`)
    return { service: req.service, image: chosen.image }
  }
  const image = withRegistry(req.image!, req.registry)
  return { service: parseImageRef(image).repository.split('/').pop()!, image }
}

/**
 * The target of a build: the service's settings under the inputs' overrides, or the
 * explicit context and image; the context must be a directory and the Dockerfile a
 * file, both inside the workspace. A build argument of the services file that holds a
 * secret is refused here, as the input's own are when they are read.
 */
export async function resolveTarget(req: TargetRequest, log: Logger): Promise<ImageTarget> {
  let target: ImageTarget
  if (req.service !== undefined) {
    const config = await loadServices({ workspace: req.workspace, config: req.servicesFile })
    const svc = findService(config, req.service)
    log.info(`service ${svc.name}: context ${svc.context}, dockerfile ${svc.dockerfile}`)
    refuseSecrets(
      'build-args',
      Object.entries(svc.buildArgs ?? {}),
      `services file ${config.file ?? ''}, service "${svc.name}", build-args`
    )
    // Inputs win over the services file's defaults: say which value is used and why.
    const chosen = serviceImage(svc, config, req)
    log.info(`image ${chosen.image} (from ${chosen.from})`)
    target = {
      name: svc.name,
      context: req.context ?? svc.context,
      dockerfile: req.dockerfile ?? svc.dockerfile,
      image: chosen.image,
      buildArgs: new Map<string, string>([
        ...Object.entries(svc.buildArgs ?? {}),
        ...req.buildArgs
      ]),
      platforms: req.platforms.length > 0 ? req.platforms : (svc.platforms ?? []),
      target: req.target ?? svc.target
    }
  } else {
    const context = req.context!
    target = {
      name: parseImageRef(req.image!).repository.split('/').pop()!,
      context,
      dockerfile: req.dockerfile ?? join(context, 'Dockerfile'),
      image: withRegistry(req.image!, req.registry),
      buildArgs: req.buildArgs,
      platforms: req.platforms,
      target: req.target
    }
  }
  target.context = insideWorkspace(req.workspace, target.context, 'context')
  if (!existsSync(target.context) || !statSync(target.context).isDirectory()) {
    throw new ConfigurationError(`context ${JSON.stringify(target.context)} is not a directory`)
  }
  target.dockerfile = insideWorkspace(req.workspace, target.dockerfile, 'dockerfile')
  if (!existsSync(target.dockerfile) || !statSync(target.dockerfile).isFile()) {
    throw new ConfigurationError(
      `Dockerfile ${JSON.stringify(relative(req.workspace, target.dockerfile))} does not exist (service ${target.name}); set "dockerfile" in the services file or the input`
    )
  }
  return target
}
