import { FieldReader, isRepoUrl, isDeployPath, type FieldErrors } from '../web/validate.ts'
import { ENVIRONMENTS } from '../web/environments.ts'
import { HOOKS, ROLLOUTS, type HookColumn, type HookName, type ProjectInput } from './repository.ts'

export const HOOK_LABELS: Record<HookName, string> = {
  before_download: 'Before download hook',
  after_download: 'After download hook',
  before_deploy: 'Before deploy hook',
  after_deploy: 'After deploy hook',
}

export const HOOK_MAX_CHARS = 65_000
/** A TEXT column on MariaDB holds 65,535 bytes, and utf8mb4 text can take four per character. */
const HOOK_MAX_BYTES = 65_535
/** More links than this is a mistake, not a fleet. */
export const MAX_SERVERS = 5_000

export interface ReadOptions {
  /** PATCH: only the fields present are read and returned. */
  partial?: boolean
  /**
   * A browser form: an unticked checkbox is simply absent, so a missing
   * stop_on_failure means false. For the API a missing one means the default
   * (true), and server_ids must be a JSON array.
   */
  form?: boolean
}

function readServerIds(r: FieldReader, form: boolean): number[] {
  const raw = r.raw('server_ids')
  if (!form && raw !== undefined && raw !== null && !Array.isArray(raw)) {
    r.fail('server_ids', 'Servers must be a list of ids')
    return []
  }
  const ids = r.ids('server_ids', 'Servers')
  if (ids.length > MAX_SERVERS) r.fail('server_ids', `A project may have at most ${MAX_SERVERS} servers`)
  return ids
}

function readHook(r: FieldReader, hook: HookName): string {
  const name: HookColumn = `hook_${hook}`
  const label = HOOK_LABELS[hook]
  const text = r.text(name, { label, max: HOOK_MAX_CHARS, multiline: true })
  if (!r.errors[name] && Buffer.byteLength(text, 'utf8') > HOOK_MAX_BYTES) r.fail(name, `${label} is too long (at most 64 KiB)`)
  // a hook that is only whitespace runs nothing; store it as no hook
  return text.trim() === '' ? '' : text
}

/**
 * Reads a project from a form or a (hooks-flattened) JSON body, collecting a
 * message per bad field.
 */
export function readProject(input: Record<string, unknown>, opts: ReadOptions = {}): { value: Partial<ProjectInput>; errors: FieldErrors } {
  const partial = opts.partial ?? false
  const form = opts.form ?? false
  const r = new FieldReader(input, partial)
  const value: Partial<ProjectInput> = {}
  const fallback = <T>(v: T): T | undefined => (partial ? undefined : v)

  if (r.has('title')) value.title = r.text('title', { label: 'Title', required: true, max: 128 })
  if (r.has('repo_url')) {
    value.repo_url = r.text('repo_url', { label: 'Repository URL', required: true, max: 1024 })
    if (value.repo_url && !r.errors.repo_url && !isRepoUrl(value.repo_url)) {
      r.fail('repo_url', 'Repository URL must be https://, ssh://, git@host:path, file:// or an absolute local path')
    }
  }
  if (r.has('env')) value.env = r.choice('env', ENVIRONMENTS, { label: 'Environment', fallback: fallback('test' as const) })
  if (r.has('deploy_path')) {
    const path = r.text('deploy_path', { label: 'Deploy path', required: true, max: 512 })
    // "/srv/app/" and "/srv/app" are the same place; keep one spelling
    value.deploy_path = path.length > 1 ? path.replace(/\/+$/, '') || '/' : path
    if (path && !r.errors.deploy_path) {
      if (!isDeployPath(path)) {
        r.fail('deploy_path', 'Deploy path must be an absolute path (or one under the login user\'s home, starting with "~/") of letters, digits, dot, dash, underscore and slashes (no "..")')
      } else if (value.deploy_path === '/') {
        r.fail('deploy_path', 'Deploy path must not be the root directory')
      }
    }
  }
  if (r.has('keep_releases')) value.keep_releases = r.integer('keep_releases', { label: 'Keep releases', min: 1, max: 50, fallback: fallback(5) })
  if (r.has('rollout')) value.rollout = r.choice('rollout', ROLLOUTS, { label: 'Rollout', fallback: fallback('parallel' as const) })
  if (r.has('batch_size')) value.batch_size = r.integer('batch_size', { label: 'Batch size', min: 1, max: 1000, fallback: fallback(10) })
  if (r.has('stop_on_failure')) {
    const absent = r.raw('stop_on_failure') === undefined
    value.stop_on_failure = absent && !form ? true : r.boolean('stop_on_failure', 'Stop on failure', true)
    if (r.errors.stop_on_failure) r.errors.stop_on_failure = 'Stop on failure must be true or false'
  }
  for (const hook of HOOKS) {
    if (r.has(`hook_${hook}`)) value[`hook_${hook}`] = readHook(r, hook)
  }
  if (r.has('server_ids')) value.server_ids = readServerIds(r, form)
  return { value, errors: r.errors }
}
