/**
 * Bounded concurrency: run an async function over a list with at most `limit` calls in
 * flight, keeping the results in the list's order.
 */

/**
 * Run `fn` over `items` with at most `limit` at a time; the results keep the items'
 * order. The first error rejects (the calls already started run to their end).
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, () => worker()))
  return results
}
