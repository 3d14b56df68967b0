/**
 * The build action's state, shared by the main step (which saves it) and the post step
 * (which reads it): one set of keys, so the two cannot drift apart.
 */
import { getState, saveState } from '../../core/outputs.js'

/** State keys shared by the main and the post step. */
export enum State {
  /** The directory holding the builders' registry login (config.json, certs/). */
  AuthDir = 'auth-dir',
  /** The registry host that login is for (for the post step's log). */
  Registry = 'registry'
}

/** Save where the builders' login was written, for the post step. */
export function saveLogin(dir: string, registry: string): void {
  saveState(State.AuthDir, dir)
  saveState(State.Registry, registry)
}

/** Where the main step wrote the builders' login; `dir` is '' when it wrote none. */
export function savedLogin(): { dir: string; registry: string } {
  return { dir: getState(State.AuthDir), registry: getState(State.Registry) }
}
