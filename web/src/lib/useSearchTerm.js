// A search box's text and the term a list searches for: the text trimmed, applied
// once typing pauses, and only from 2 characters on (the API refuses a shorter q)
// or when cleared. `tooShort` says when to ask for one more character.
import { computed, ref, watch } from 'vue'
import { debounce } from './debounce'

export function useSearchTerm(ms = 300) {
  const input = ref('')
  const term = ref('')
  const apply = debounce((v) => { term.value = v }, ms)
  watch(input, (v) => {
    const text = v.trim()
    if (text.length !== 1) apply(text)
  })
  const tooShort = computed(() => input.value.trim().length === 1)
  return { input, term, tooShort }
}
