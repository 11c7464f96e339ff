// vue-i18n with precompiled messages (see vite.config.js): no eval at run time.
// zh-CN is the default; the choice is remembered in localStorage.
import { createI18n } from 'vue-i18n'
import zhCN from '@/locales/zh-CN.json'
import en from '@/locales/en.json'

export const LOCALES = [
  { value: 'zh-CN', label: '简体中文' },
  { value: 'en', label: 'English' },
]
const KEY = 'crm.locale'

export function initialLocale() {
  let saved = null
  try { saved = localStorage.getItem(KEY) } catch { /* storage blocked */ }
  return LOCALES.some((l) => l.value === saved) ? saved : 'zh-CN'
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
  missingWarn: false,
  fallbackWarn: false,
})

export function setLocale(value) {
  if (!LOCALES.some((l) => l.value === value)) return
  i18n.global.locale.value = value
  try { localStorage.setItem(KEY, value) } catch { /* storage blocked */ }
  document.documentElement.lang = value
}

export const t = (...args) => i18n.global.t(...args)
