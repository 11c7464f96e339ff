// Vite build of the CRM web app. nginx serves web/dist: hashed files under /assets/
// (cached for a year) and index.html for every client-side route. The CSP there has
// `script-src 'self'` without 'unsafe-eval', so: Vue templates are compiled here,
// vue-i18n messages are precompiled (runtime-only build, no message compiler), and
// index.html has no inline script.
import { fileURLToPath, URL } from 'node:url'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import VueI18nPlugin from '@intlify/unplugin-vue-i18n/vite'
import AutoImport from 'unplugin-auto-import/vite'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'

const src = (p) => fileURLToPath(new URL(`./src/${p}`, import.meta.url))

export default defineConfig({
  plugins: [
    vue(),
    VueI18nPlugin({
      include: [src('locales/**')],
      runtimeOnly: true,
      compositionOnly: true,
      fullInstall: false,
      dropMessageCompiler: true,
      strictMessage: true,
    }),
    // Element Plus on demand: components in templates and ElMessage/ElMessageBox
    // in scripts, each with its own CSS.
    AutoImport({ resolvers: [ElementPlusResolver()], dts: false }),
    Components({ resolvers: [ElementPlusResolver()], dts: false }),
  ],
  resolve: { alias: { '@': src('') } },
  build: {
    target: 'es2020',
    assetsDir: 'assets',
    cssCodeSplit: true,
    chunkSizeWarningLimit: 600,
    reportCompressedSize: false,
  },
  server: {
    proxy: { '/api': process.env.CRM_BASE_URL || 'http://127.0.0.1:8080' },
  },
})
