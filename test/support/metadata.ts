/**
 * Shared fixtures of the tag-engine unit tests: a context per event, and the tag names
 * some rules give in it.
 */
import { computeMetadata } from '../../src/image/metadata/compute.js'
import type { EventPayload } from '../../src/core/context.js'
import type { MetadataContext } from '../../src/image/metadata/context.js'
import { metadataContext } from '../../src/image/metadata/context.js'

export const SHA = '860c1904a1ce19322e91ac35af1ab07466440c37'
export const HEAD = '3370e228f2209994d57af4427fe64e71bb79ac96'
export const NOW = new Date('2020-01-10T00:30:00.000Z')
export const REPO = { name: 'shop', htmlUrl: 'https://github.com/acme/shop', defaultBranch: 'main' }
export const withRepo: EventPayload = { repository: { default_branch: 'main' } }

/** A context for an event and ref (payload with the default branch `main` unless given). */
export function ctx(
  eventName: string,
  ref: string,
  payload: EventPayload = withRepo,
  env: Record<string, string> = {}
): MetadataContext {
  return metadataContext({ eventName, ref, sha: SHA, payload, repo: REPO, now: NOW, env })
}

/** The tag names the rules give in a context. */
export function tags(rules: string[], c: MetadataContext, flavor: string[] = []): string[] {
  return computeMetadata({ tags: rules, flavor }, c).tags
}

/** A push of `ref`. */
export const push = (ref: string): MetadataContext => ctx('push', ref)
/** A pull_request run for pull request 15. */
export const pr = ctx('pull_request', 'refs/pull/15/merge', {
  number: 15,
  ...withRepo,
  pull_request: { base: { ref: 'main' }, head: { sha: HEAD } }
})
