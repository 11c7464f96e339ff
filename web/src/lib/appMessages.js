// The messages of the workspace screens (records, settings), merged into vue-i18n
// when the app shell loads, so the sign-up and login pages do not carry them.
import { i18n } from './i18n'
import zhCN from '@/locales/app/zh-CN.json'
import en from '@/locales/app/en.json'
import automationZhCN from '@/locales/automation/zh-CN.json'
import automationEn from '@/locales/automation/en.json'

i18n.global.mergeLocaleMessage('zh-CN', { ...zhCN, ...automationZhCN })
i18n.global.mergeLocaleMessage('en', { ...en, ...automationEn })
