// The messages of the workspace screens (records, settings), merged into vue-i18n
// when the app shell loads, so the sign-up and login pages do not carry them.
import { i18n } from './i18n'
import zhCN from '@/locales/app/zh-CN.json'
import en from '@/locales/app/en.json'
import automationZhCN from '@/locales/automation/zh-CN.json'
import automationEn from '@/locales/automation/en.json'
import rulesZhCN from '@/locales/automation/rules.zh-CN.json'
import rulesEn from '@/locales/automation/rules.en.json'
import poolZhCN from '@/locales/automation/pool.zh-CN.json'
import poolEn from '@/locales/automation/pool.en.json'
import integrationsZhCN from '@/locales/automation/integrations.zh-CN.json'
import integrationsEn from '@/locales/automation/integrations.en.json'
import templatesZhCN from '@/locales/automation/templates.zh-CN.json'
import templatesEn from '@/locales/automation/templates.en.json'

i18n.global.mergeLocaleMessage('zh-CN', { ...zhCN, ...automationZhCN, ...rulesZhCN, ...poolZhCN, ...integrationsZhCN, ...templatesZhCN })
i18n.global.mergeLocaleMessage('en', { ...en, ...automationEn, ...rulesEn, ...poolEn, ...integrationsEn, ...templatesEn })
