// Where a placeholder picked from PlaceholderPicker goes: into the text input the cursor
// was last in, in place of its selection (`remember` it on the input's focus, with the
// object it edits and the key); else at the end of `fallback()`'s { owner, key }. An
// input that has left the page since (its step removed, switched to a template) is
// passed over for the fallback, which may be null: nothing to write into.
export function usePlaceholderTarget(fallback) {
  let last = null
  const remember = (owner, key, event) => { last = { owner, key, el: event.target } }
  const forget = () => { last = null }

  function insert(text) {
    const target = last?.el.isConnected ? last : fallback()
    if (!target) return
    const { owner, key, el } = target
    const value = owner[key]
    const start = el?.selectionStart ?? value.length
    const end = el?.selectionEnd ?? start
    owner[key] = value.slice(0, start) + text + value.slice(end)
  }

  return { remember, forget, insert }
}
