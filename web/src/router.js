import { createRouter, createWebHistory } from 'vue-router'
import { useAuthStore } from '@/stores/auth'
import { i18n } from '@/lib/i18n'

const routes = [
  { path: '/', name: 'landing', component: () => import('@/views/LandingView.vue'), meta: { guest: true, title: 'titles.landing' } },
  { path: '/login', name: 'login', component: () => import('@/views/LoginView.vue'), meta: { guest: true, title: 'titles.login' } },
  { path: '/invite', name: 'invite', component: () => import('@/views/InviteView.vue'), meta: { title: 'titles.invite' } },
  {
    path: '/app',
    component: () => import('@/views/AppShell.vue'),
    meta: { auth: true },
    children: [
      { path: '', name: 'home', component: () => import('@/views/HomeView.vue'), meta: { auth: true, title: 'nav.home' } },
      {
        path: 'settings/members',
        name: 'members',
        component: () => import('@/views/MembersView.vue'),
        meta: { auth: true, title: 'nav.members', permission: 'members.read' },
      },
    ],
  },
  { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('@/views/NotFoundView.vue'), meta: { title: 'titles.notFound' } },
]

export const router = createRouter({
  history: createWebHistory(),
  routes,
  scrollBehavior: () => ({ top: 0 }),
})

router.beforeEach(async (to) => {
  const auth = useAuthStore()
  if (to.meta.auth) {
    let ok = false
    try { ok = await auth.ensureSession() } catch { ok = !!auth.me }
    if (!ok) return { name: 'login', query: to.fullPath !== '/app' ? { redirect: to.fullPath } : {} }
    if (to.meta.permission && !auth.can(to.meta.permission)) return { name: 'home' }
  } else if (to.meta.guest && auth.hasRefresh) {
    // A returning user goes straight to the workspace.
    try { if (await auth.ensureSession()) return { name: 'home' } } catch { /* stay */ }
  }
  return true
})

router.afterEach((to) => {
  const key = to.meta.title
  const { t } = i18n.global
  document.title = key ? `${t(key)} · ${t('brand')}` : t('brand')
})
