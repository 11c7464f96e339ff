// One request per record, a few at a time; the failures are kept with their record.
// `fn(item)` returns the new record (or null for a deletion).
export async function eachRecord(items, fn, concurrency = 4) {
  const done = []
  const failed = []
  let next = 0
  async function worker() {
    while (next < items.length) {
      const item = items[next++]
      try {
        done.push({ item, result: await fn(item) })
      } catch (error) {
        failed.push({ item, error })
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  return { done, failed }
}
