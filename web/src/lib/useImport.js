// The import wizard's flow (views/settings/ImportView): choose the object and a file
// → the columns mapped to fields (the API's proposal, from a dry run of the file's
// first rows) and the duplicate policy → a dry run of the whole file (its report) →
// the import (its report). A file of more than 500 rows is queued by the API (202):
// its progress is polled until it is done.
import { onBeforeUnmount, reactive } from 'vue'
import { readCsvHead } from './csv'
import { ApiError } from './errors'
import { i18n } from './i18n'
import { MAX_FILE_BYTES, importErrorText, postImport, waitForImport } from './imports'
import { useCatalogStore } from '@/stores/catalog'

export const STEPS = ['file', 'mapping', 'check', 'import']

export function useImport(initialObject) {
  const { t } = i18n.global
  const catalog = useCatalogStore()
  const s = reactive({
    step: 0,
    object: initialObject,
    file: null,
    head: null,          // { encoding, headers, samples } (lib/csv)
    targets: [],         // per column: a field path or '' (ignored)
    duplicates: 'skip',
    check: null,         // the dry run's report
    result: null,        // the import's report
    progress: null,      // the import being waited for (queued / running)
    busy: false,
    error: '',
  })
  let alive = true
  onBeforeUnmount(() => { alive = false })

  // Runs one step's work: busy meanwhile, its error (in the user's language) kept.
  async function work(fn) {
    s.busy = true
    s.error = ''
    try {
      await fn()
    } catch (e) {
      if (alive) s.error = importErrorText(e)
    } finally {
      s.busy = false
    }
  }

  function chooseFile(file) {
    s.error = ''
    if (file && file.size > MAX_FILE_BYTES) {
      s.file = null
      s.error = t('imports.errors.tooLarge')
      return
    }
    s.file = file || null
  }

  function setObject(object) {
    s.object = object
    s.head = null
  }

  // File → mapping: the header row read here, the API's mapping of it asked for.
  const propose = () => work(async () => {
    const head = await readCsvHead(s.file)
    if (!head.headers.length) throw new ApiError(422, { error: { code: 'validation_failed', fields: { file: 'empty' } } })
    await catalog.loadFields(s.object)
    let proposal = {}
    try {
      proposal = (await postImport(head.head, { object: s.object, encoding: head.encoding, dryRun: true })).mapping || {}
    } catch (e) {
      if (!(e instanceof ApiError) || e.fields?.mapping !== 'no_column_mapped') throw e
    }
    if (!alive) return
    s.head = head
    s.targets = head.headers.map((h) => proposal[h] || '')
    s.duplicates = 'skip'
    s.step = 1
  })

  // { column: field } of the mapped columns.
  const mapping = () => Object.fromEntries(s.head.headers.map((h, i) => [h, s.targets[i]]).filter(([, f]) => f))

  async function send(dryRun) {
    s.progress = null
    const imp = await postImport(s.file, { object: s.object, encoding: s.head.encoding, mapping: mapping(), dryRun, duplicates: s.duplicates })
    return waitForImport(imp, { onProgress: (p) => { if (alive) s.progress = p }, cancelled: () => !alive })
  }

  const dryRun = () => {
    s.check = null
    s.step = 2
    return work(async () => { s.check = await send(true) })
  }

  const run = () => {
    s.result = null
    s.step = 3
    return work(async () => { s.result = await send(false) })
  }

  function back() {
    s.error = ''
    s.step = Math.max(0, s.step - 1)
  }

  function restart() {
    Object.assign(s, { step: 0, file: null, head: null, targets: [], check: null, result: null, progress: null, error: '' })
  }

  return { s, chooseFile, setObject, propose, dryRun, run, back, restart }
}
