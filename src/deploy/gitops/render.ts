/**
 * Verify a deploy by what its targets render, before anything leaves the runner. Before
 * the edit, every kustomize target is rendered (`kustomize build` or `kubectl
 * kustomize` when on PATH, else the in-process resolution) and Helm charts are found;
 * after the edit is written, each target is rendered again and judged: every deployed
 * image renders where an old one was and nothing else in the render moved. A sparse
 * checkout is widened to the bases, components and charts a target needs.
 */
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { delimiter, join, posix } from 'node:path'
import picomatch from 'picomatch'
import { kustomizationFile, type EditPlan } from './edit.js'
import { targetLabel, type ImageUpdate, type Target } from './updates.js'
import {
  describeDifference,
  diffImages,
  diffResources,
  didYouMeanImage,
  imagesOf,
  judge,
  parseRender,
  renderedList,
  rendersRef,
  type RenderDifference,
  type RenderedImage
} from './render-compare.js'
import { chartCandidates, checkHelm } from './render-helm.js'
import { isWithin } from '../../core/confine.js'
import { ConfigurationError } from '../../core/errors.js'
import { exec, lastLines } from '../../core/exec.js'
import { resolveKustomization, type FileSource } from './kustomize/resolve.js'
import type { Logger } from '../../core/logger.js'

/** The `verify-render` input. */
export type VerifyMode = 'auto' | 'required' | 'off'

/** A kustomize renderer on PATH. */
export interface Renderer {
  command: string
  args: (dir: string) => string[]
  label: string
}

/** The first of `names` that is an executable file on PATH. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const full = join(dir, name)
    try {
      const st = statSync(full)
      if (st.isFile() && (st.mode & 0o111) !== 0) return full
    } catch {
      // not there
    }
  }
  return undefined
}

/** `kustomize build`, else `kubectl kustomize`, when on PATH. */
export function findRenderer(env: NodeJS.ProcessEnv = process.env): Renderer | undefined {
  const kustomize = findOnPath('kustomize', env)
  if (kustomize) return { command: kustomize, args: d => ['build', d], label: 'kustomize build' }
  const kubectl = findOnPath('kubectl', env)
  if (kubectl) return { command: kubectl, args: d => ['kustomize', d], label: 'kubectl kustomize' }
  return undefined
}

/** Files of the clone, confined to it (a link out of it reads as absent). */
export function diskSource(within: string): FileSource {
  const real = realpathSync(within)
  const inside = (rel: string): string | undefined => {
    try {
      const p = realpathSync(join(within, rel))
      return isWithin(real, p) ? p : undefined
    } catch {
      return undefined
    }
  }
  return {
    read: rel => {
      const p = inside(rel)
      return p !== undefined && statSync(p).isFile() ? readFileSync(p, 'utf8') : undefined
    },
    isDir: rel => {
      const p = inside(rel)
      return p !== undefined && statSync(p).isDirectory()
    }
  }
}

/** Every regular file under `dir` of the clone (repository-relative). */
export function lister(within: string): (dir: string) => string[] {
  const walk = (dir: string, out: string[]): string[] => {
    let entries
    try {
      entries = readdirSync(join(within, dir), { withFileTypes: true })
    } catch {
      return out
    }
    for (const e of entries) {
      const rel = `${dir}/${e.name}`
      if (e.isDirectory()) walk(rel, out)
      else if (e.isFile()) out.push(rel)
    }
    return out
  }
  return dir => walk(dir, []).sort()
}

/** A gitignore-style pattern matching exactly one repository path. */
export function sparsePattern(path: string): string {
  return `/${path.replace(/[\\*?[\]!#]/g, c => `\\${c}`)}`
}

/** How one kustomize target was rendered before the edit. */
interface KustomizeState {
  target: Extract<Target, { kind: 'kustomize' }>
  /** Repository-relative directory. */
  dir: string
  how: 'renderer' | 'in-process'
  resources: unknown[]
  images: RenderedImage[]
}

/** Options of a render check. */
export interface RenderCheckOptions {
  mode: Exclude<VerifyMode, 'off'>
  /** The clone. */
  within: string
  /** Directory of the clone the targets are relative to (`.` for the clone). */
  path: string
  log: Logger
  renderer: Renderer | undefined
  /** Widen a sparse checkout by these patterns; absent for a full checkout. */
  widen?: (patterns: string[]) => Promise<void>
  timeoutMs?: number
  env?: NodeJS.ProcessEnv
}

/** One deploy's render check; `before` and `after` run on each attempt. */
export class RenderCheck {
  private states: KustomizeState[] = []
  private readonly files: FileSource
  private readonly widened = new Set<string>()
  /** Targets the renderer could not render as they were on the branch. */
  private readonly fellBack = new Set<string>()
  private announced = false
  /** What the last `after` verified, one line per target (for the step summary). */
  readonly report: string[] = []

  constructor(private readonly o: RenderCheckOptions) {
    this.files = diskSource(o.within)
  }

  private rel(p: string): string {
    return posix.normalize(this.o.path === '.' ? p : `${this.o.path}/${p}`)
  }

  private async widen(paths: readonly string[]): Promise<boolean> {
    const fresh = paths.filter(p => !this.widened.has(p))
    if (fresh.length === 0 || !this.o.widen) return false
    for (const p of fresh) this.widened.add(p)
    const patterns = fresh.map(sparsePattern)
    this.o.log.info(`sparse checkout: adding ${patterns.join(' ')} for the render`)
    await this.o.widen(patterns)
    return true
  }

  /** Resolve in-process, widening a sparse checkout until nothing more is missing. */
  private async resolve(dir: string): Promise<ReturnType<typeof resolveKustomization>> {
    for (let round = 0; ; round++) {
      const res = resolveKustomization(this.files, dir)
      if (round >= 20 || !(await this.widen(res.missing.map(m => m.path)))) return res
    }
  }

  private async render(
    dir: string
  ): Promise<{ ok: true; text: string } | { ok: false; why: string }> {
    const r = this.o.renderer!
    try {
      const res = await exec(r.command, r.args(join(this.o.within, dir)), {
        cwd: this.o.within,
        env: this.o.env,
        allowFailure: true,
        timeoutMs: this.o.timeoutMs ?? 120_000,
        maxOutputBytes: 64 * 1024 * 1024
      })
      if (res.code === 0 && !res.timedOut && !res.truncated) return { ok: true, text: res.stdout }
      const why = res.timedOut
        ? 'it timed out'
        : res.truncated
          ? 'its output is too large'
          : lastLines(res.stderr, 2).replace(/\s+/g, ' ')
      return { ok: false, why }
    } catch (error) {
      return { ok: false, why: (error as Error).message }
    }
  }

  /** Render one kustomize target as it is now: resources and images. */
  private async state(
    target: Extract<Target, { kind: 'kustomize' }>,
    how?: 'renderer' | 'in-process'
  ): Promise<KustomizeState> {
    const dir = this.rel(target.dir)
    const label = targetLabel(target)
    let resolved: ReturnType<typeof resolveKustomization> | undefined
    let resolveError: Error | undefined
    try {
      resolved = await this.resolve(dir)
    } catch (error) {
      resolveError = error as Error
    }
    // The checks the edit makes, before anything reads the target: it is there, and no
    // symbolic link leads to it.
    kustomizationFile(join(this.o.within, this.o.path), this.o.within, target.dir)
    const useRenderer =
      how === undefined
        ? this.o.renderer !== undefined && !this.fellBack.has(dir)
        : how === 'renderer'
    if (useRenderer) {
      const out = await this.render(dir)
      if (out.ok) {
        const resources = parseRender(out.text)
        return { target, dir, how: 'renderer', resources, images: imagesOf(resources) }
      }
      if (how === 'renderer') {
        throw new ConfigurationError(
          `${label}: after the edit, ${this.o.renderer!.label} fails: ${out.why}. Nothing was pushed; the config repository is unchanged.`
        )
      }
      if (this.o.mode === 'required') {
        throw new ConfigurationError(
          `${label}: ${this.o.renderer!.label} cannot render the kustomization as it is on the branch (verify-render: required): ${out.why}`
        )
      }
      // Once per target: later attempts go straight to the in-process resolution.
      this.fellBack.add(dir)
      this.o.log.warning(
        `${label}: ${this.o.renderer!.label} cannot render the kustomization as it is on the branch (${out.why}); verifying with the in-process resolution instead`
      )
    }
    if (resolveError || !resolved) {
      throw new ConfigurationError(
        `${label}: the kustomization cannot be resolved to check the deploy: ${resolveError?.message}`
      )
    }
    if (resolved.missing.length > 0) {
      throw new ConfigurationError(
        `${label}: the kustomization refers to ${resolved.missing.map(m => m.path).join(', ')}, which ${resolved.missing.length === 1 ? 'is' : 'are'} not in the config repository`
      )
    }
    if (!this.announced) for (const n of resolved.notices) this.o.log.notice(n)
    return {
      target,
      dir,
      how: 'in-process',
      resources: resolved.resources,
      images: imagesOf(resolved.resources)
    }
  }

  /**
   * Before the edit: render every kustomize target and widen a sparse checkout to the
   * Helm charts. Returns each kustomize target's rendered images (by target dir).
   */
  async before(
    updates: readonly ImageUpdate[],
    targets: readonly Target[]
  ): Promise<Map<string, string[]>> {
    const all = [...targets, ...updates.flatMap(u => u.targets)]
    const kustomize = [
      ...new Map(all.flatMap(t => (t.kind === 'kustomize' ? [[t.dir, t] as const] : []))).values()
    ]
    if (!this.announced) {
      const how = this.o.renderer
        ? `${this.o.renderer.label} (${this.o.renderer.command})`
        : 'the in-process resolution (neither kustomize nor kubectl is on PATH)'
      if (kustomize.length > 0)
        this.o.log.info(`verify-render: kustomize targets are rendered with ${how}`)
    }
    const helm = all.filter(t => t.kind === 'helm')
    if (helm.length > 0) await this.widen(helm.flatMap(t => chartCandidates(this.rel(t.file))))
    this.states = []
    for (const t of kustomize) this.states.push(await this.state(t))
    this.announced = true
    return new Map(this.states.map(s => [s.target.dir, s.images.map(i => i.value)]))
  }

  /** After the edit is written: judge every target; throws ConfigurationError when one fails. */
  async after(
    plan: EditPlan,
    updates: readonly ImageUpdate[],
    targets: readonly Target[]
  ): Promise<void> {
    const problems: string[] = []
    this.report.length = 0
    const placedOn = (t: Target): ImageUpdate[] =>
      updates.filter(u =>
        (plan.placed.get(u.service) ?? []).some(p => targetLabel(p) === targetLabel(t))
      )
    for (const s of this.states) {
      // Nothing written (a no-op): the render before is the render after.
      const now = plan.files.size === 0 ? s : await this.state(s.target, s.how)
      const diffs: RenderDifference[] =
        s.how === 'renderer'
          ? diffResources(s.resources, now.resources)
          : diffImages(s.images, now.images)
      const placed = placedOn(s.target)
      const verdict = judge(diffs, now.images, placed, (u, v) => rendersRef(u.ref, v))
      const label = targetLabel(s.target)
      const values = now.images.map(i => i.value)
      for (const u of verdict.missing) {
        problems.push(
          `${u.service}: after the edit, ${label} does not render ${u.ref}.${didYouMeanImage(u, values)} It renders: ${renderedList(u.names, values)}.`
        )
      }
      if (verdict.unexpected.length > 0) {
        problems.push(
          `${label}: the edit changes more than the deployed images in what it renders: ${verdict.unexpected.slice(0, 5).map(describeDifference).join('; ')}`
        )
      }
      if (verdict.missing.length === 0 && verdict.unexpected.length === 0) {
        const line = `${label} renders ${placed.map(u => u.ref).join(', ') || 'the same images'} (${s.how === 'renderer' ? this.o.renderer!.label : 'in-process resolution'}); nothing else changed`
        this.report.push(line)
        this.o.log.info(`verify-render: ${line}`)
      }
    }
    problems.push(
      ...(await checkHelm(plan, updates, {
        files: this.files,
        list: lister(this.o.within),
        rel: p => this.rel(p),
        within: this.o.within,
        mode: this.o.mode,
        log: this.o.log,
        helm: findOnPath('helm', this.o.env ?? process.env),
        env: this.o.env
      }))
    )
    problems.push(
      ...this.manifests(plan, [...targets, ...updates.flatMap(u => u.targets)], updates)
    )
    if (problems.length > 0) {
      throw new ConfigurationError(
        `verify-render: ${problems.join('\n')}\nNothing was pushed; the config repository is unchanged.`
      )
    }
  }

  private manifests(
    plan: EditPlan,
    targets: readonly Target[],
    updates: readonly ImageUpdate[]
  ): string[] {
    const globs = targets.flatMap(t =>
      t.kind === 'manifests' ? [picomatch(t.glob, { dot: true })] : []
    )
    const out: string[] = []
    for (const [file, before] of plan.originals) {
      if (!globs.some(m => m(file))) continue
      // The manifests edit writes only deployed references: any other change is wrong.
      const unexpected = diffResources(
        parseRender(before),
        parseRender(plan.files.get(file)!)
      ).filter(d => !(typeof d.after === 'string' && updates.some(u => u.ref === d.after)))
      if (unexpected.length > 0) {
        out.push(
          `manifests ${file}: the edit changes more than container images: ${unexpected.slice(0, 5).map(describeDifference).join('; ')}`
        )
      }
    }
    return out
  }
}
