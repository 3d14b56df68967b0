/**
 * Registry credentials for the builders without argv: a docker-style `config.json`
 * (`{"auths":{"<host>":{"auth":"<base64 user:password>"}}}`, mode 0600, in a 0700
 * directory under RUNNER_TEMP) that docker, buildx, buildah and skopeo all read
 * (`DOCKER_CONFIG`, `--authfile`, `REGISTRY_AUTH_FILE`). The base64 pair is a derived
 * secret: it is registered before the file is written, and the post step removes the
 * directory. A private CA goes into `certs/ca.crt` of the same directory.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { secrets } from '../core/secrets.js'
import type { RegistryLogin } from './distribution.js'

/** The registry key docker uses in `auths` for a host (Docker Hub's is a URL). */
export function authKey(registry: string): string {
  return ['docker.io', 'index.docker.io', 'registry-1.docker.io'].includes(registry)
    ? 'https://index.docker.io/v1/'
    : registry
}

/** The config.json text for one registry login. Registers the derived secret first. */
export function authConfigJson(registry: string, username: string, password: string): string {
  secrets.add(password, { user: username })
  const auth = Buffer.from(`${username}:${password}`).toString('base64')
  secrets.add(auth)
  return JSON.stringify({ auths: { [authKey(registry)]: { auth } } }, null, 2) + '\n'
}

/** Where the credentials live for one run. */
export interface AuthDir {
  dir: string
  /** `<dir>/config.json` when credentials were given. */
  configFile?: string
  /** `<dir>/certs` (holding `ca.crt`) when a CA was given. */
  certDir?: string
}

/** Create the 0700 directory with the 0600 auth file (and the CA) for `login` under `base`. */
export function writeAuthDir(base: string, login: RegistryLogin): AuthDir {
  const dir = join(base, `registry-auth-${randomBytes(6).toString('hex')}`)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
  const out: AuthDir = { dir }
  const file = join(dir, 'config.json')
  if (login.password) {
    writeFileSync(file, authConfigJson(login.registry, login.username ?? '', login.password), {
      mode: 0o600
    })
    chmodSync(file, 0o600)
    out.configFile = file
  } else {
    // An empty config keeps the builders away from the user's ~/.docker credentials helpers.
    writeFileSync(file, '{"auths":{}}\n', { mode: 0o600 })
  }
  if (login.ca) {
    const certDir = join(dir, 'certs')
    mkdirSync(certDir, { mode: 0o700 })
    writeFileSync(join(certDir, 'ca.crt'), login.ca)
    out.certDir = certDir
  }
  return out
}

/** Remove an auth directory (the post step's logout). Returns whether something was removed. */
export function removeAuthDir(dir: string): boolean {
  if (!dir || !existsSync(dir)) return false
  rmSync(dir, { recursive: true, force: true })
  return true
}
