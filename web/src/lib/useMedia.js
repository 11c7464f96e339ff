// Is the screen phone-sized? One media query listener per component, removed with it.
import { onBeforeUnmount, ref } from 'vue'

export const PHONE_QUERY = '(max-width: 860px)'

export function useIsMobile(query = PHONE_QUERY) {
  const mq = window.matchMedia(query)
  const isMobile = ref(mq.matches)
  const on = (e) => { isMobile.value = e.matches }
  mq.addEventListener('change', on)
  onBeforeUnmount(() => mq.removeEventListener('change', on))
  return isMobile
}
