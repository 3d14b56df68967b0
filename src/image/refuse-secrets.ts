/**
 * Build arguments, labels and tags end up in the pushed image (its configuration,
 * history and name): a value that holds a registered secret is refused before anything
 * runs, whether it came from an input or from the services file.
 */
import { ConfigurationError } from '../core/errors.js'
import { describeSecret, secrets } from '../core/secrets.js'

/** Where a value holding a secret would end up, for the error. */
const WHERE = {
  'build-args':
    "build arguments reach the builder's command line and are stored in the image's configuration and history",
  labels: "labels reach the builder's command line and are stored in the image's configuration",
  tags: "tags reach the builder's command line and name the image in the registry"
} as const

/**
 * Refuse a build argument, label or tag that holds a registered secret (in any
 * encoding) before anything runs: the pushed image would carry it for anyone who can
 * pull it (`skopeo inspect --config` shows labels and history). The error names the
 * input, the key (never the value) and says to use `secrets` (BuildKit secret mounts).
 * `source` says where the values came from when not from the input itself.
 */
export function refuseSecrets(
  input: keyof typeof WHERE,
  entries: Iterable<readonly [string, string]>,
  source = `input "${input}"`
): void {
  for (const [key, value] of entries) {
    const info = secrets.whose(`${key}=${value}`) ?? secrets.whose(value)
    if (info === undefined) continue
    throw new ConfigurationError(
      `${source}: ${key ? `${key} holds` : 'a line holds'} ${describeSecret(info)} (or an encoding of it); ${WHERE[input]}, where anyone who can pull it can read it. Pass secrets with input "secrets" instead (BuildKit secret mounts: id=<name>,env=<VARIABLE>, read in the Dockerfile with RUN --mount=type=secret,id=<name>)`
    )
  }
}
