import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { router } from './router'
import { i18n } from './lib/i18n'
import { setSessionLostHandler } from './lib/api'
import { REFRESH_KEY, useAuthStore } from './stores/auth'
import './styles/main.css'

const app = createApp(App)
const pinia = createPinia()
app.use(pinia).use(router).use(i18n)
document.documentElement.lang = i18n.global.locale.value

setSessionLostHandler(() => {
  const here = router.currentRoute.value
  if (here.meta.auth) router.replace({ name: 'login', query: { redirect: here.fullPath, expired: '1' } })
})

// Signed out in another tab: leave the workspace here too.
window.addEventListener('storage', (e) => {
  if (e.key !== REFRESH_KEY || e.newValue) return
  const auth = useAuthStore()
  auth.clear()
  if (router.currentRoute.value.meta.auth) router.replace({ name: 'login' })
})

app.mount('#app')
