// Calls fn once `ms` have passed without another call (typing in a search box).
export function debounce(fn, ms = 300) {
  let timer = null
  const d = (...args) => {
    clearTimeout(timer)
    timer = setTimeout(() => fn(...args), ms)
  }
  d.cancel = () => clearTimeout(timer)
  return d
}
