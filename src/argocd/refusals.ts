/**
 * What Argo CD's refusals of a sync or a terminate mean, by the server's own code
 * (server/application/application.go): `SetAppOperation` answers FailedPrecondition
 * "another operation is already in progress" (worth retrying); `Sync` answers
 * FailedPrecondition for a request it will never accept as it is (auto-sync set to
 * another revision, a revision that does not resolve, an app being deleted); and
 * `TerminateOperation` answers InvalidArgument "No operation is in progress" when
 * no operation is set or none has started. Pure.
 */
import { ArgoApiError, GrpcCode } from './client.js'

/** Whether a sync was refused only because another operation holds the app (retry it). */
export function isOperationInProgress(error: unknown): boolean {
  return (
    error instanceof ArgoApiError &&
    /another operation is already in progress/i.test(error.serverMessage || error.message)
  )
}

/**
 * The message for a sync Argo CD refused for good (FailedPrecondition other than a
 * running operation), with how to fix it; undefined for other errors.
 */
export function syncRefusal(error: unknown): string | undefined {
  if (!(error instanceof ArgoApiError) || error.code !== GrpcCode.FailedPrecondition) return
  if (isOperationInProgress(error)) return
  const said = error.serverMessage || error.message
  let fix = ''
  if (/auto-sync currently set to/i.test(said)) {
    fix =
      '. With automated sync on, Argo CD syncs only to the targetRevision of the application: leave input "revision" empty (or set it to that targetRevision), or turn off automated sync for the application'
  } else if (/unable to resolve|error resolving repo revision/i.test(said)) {
    fix =
      '. Check input "revision" (a commit, branch or tag of the source it belongs to, see input "source") and that Argo CD can reach the repository'
  }
  return `Argo CD refused the sync: ${said}${fix}`
}

/** Whether a terminate was refused because no operation is in progress (nothing to terminate). */
export function isNothingToTerminate(error: unknown): boolean {
  return (
    error instanceof ArgoApiError &&
    (error.code === GrpcCode.InvalidArgument || error.code === GrpcCode.FailedPrecondition) &&
    /no operation is in progress/i.test(error.serverMessage || error.message)
  )
}
