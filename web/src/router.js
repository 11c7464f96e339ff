import { createRouter, createWebHistory } from 'vue-router'
import { useAuthStore } from '@/stores/auth'
import { i18n } from '@/lib/i18n'

// The objects the import wizard takes; the create right of any one opens it.
export const IMPORT_OBJECTS = ['customers', 'contacts', 'leads', 'opportunities', 'activities', 'tasks']
export const IMPORT_PERMISSIONS = IMPORT_OBJECTS.map((o) => `${o}.create`)

const routes = [
  { path: '/', name: 'landing', component: () => import('@/views/LandingView.vue'), meta: { guest: true, title: 'titles.landing' } },
  { path: '/login', name: 'login', component: () => import('@/views/LoginView.vue'), meta: { guest: true, title: 'titles.login' } },
  { path: '/invite', name: 'invite', component: () => import('@/views/InviteView.vue'), meta: { title: 'titles.invite' } },
  { path: '/unsubscribe', name: 'unsubscribe', component: () => import('@/views/UnsubscribeView.vue'), meta: { title: 'unsubscribe.title' } },
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
      { path: 'customers', name: 'customers', component: () => import('@/views/records/CustomersView.vue'), meta: { auth: true, title: 'nav.customers', permission: 'customers.read' } },
      { path: 'customers/:id(\\d+)', name: 'customer', component: () => import('@/views/records/CustomerView.vue'), meta: { auth: true, title: 'nav.customers', permission: 'customers.read' } },
      { path: 'contacts', name: 'contacts', component: () => import('@/views/records/ContactsView.vue'), meta: { auth: true, title: 'nav.contacts', permission: 'contacts.read' } },
      { path: 'leads', name: 'leads', component: () => import('@/views/records/LeadsView.vue'), meta: { auth: true, title: 'nav.leads', permission: 'leads.read' } },
      { path: 'opportunities', name: 'opportunities', component: () => import('@/views/records/OpportunitiesView.vue'), meta: { auth: true, title: 'nav.opportunities', permission: 'opportunities.read' } },
      { path: 'pool', name: 'pool', component: () => import('@/views/automation/PoolView.vue'), meta: { auth: true, title: 'nav.pool', permission: 'customers.read' } },
      { path: 'sequences/:id(\\d+)?', name: 'sequences', component: () => import('@/views/automation/SequencesView.vue'), meta: { auth: true, title: 'nav.sequences', permission: 'leads.read' } },
      { path: 'tasks', name: 'tasks', component: () => import('@/views/records/TasksView.vue'), meta: { auth: true, title: 'nav.tasks', permission: 'tasks.read' } },
      {
        // Leads, opportunities, contacts, tasks and activities share one record page.
        path: ':object(leads|opportunities|contacts|tasks|activities)/:id(\\d+)',
        name: 'record',
        component: () => import('@/views/records/RecordView.vue'),
        meta: { auth: true, objectPermission: 'read' },
      },
      { path: 'settings/fields/:object?', name: 'settings-fields', component: () => import('@/views/settings/FieldsView.vue'), meta: { auth: true, title: 'nav.fields', permission: 'settings.manage' } },
      { path: 'settings/pipelines', name: 'settings-pipelines', component: () => import('@/views/settings/PipelinesView.vue'), meta: { auth: true, title: 'nav.pipelines', permission: 'settings.manage' } },
      { path: 'settings/roles', name: 'settings-roles', component: () => import('@/views/settings/RolesView.vue'), meta: { auth: true, title: 'nav.roles', permission: 'roles.manage' } },
      // Import: for whoever may create the records of one object at least.
      { path: 'settings/import', name: 'settings-import', component: () => import('@/views/settings/ImportView.vue'), meta: { auth: true, title: 'nav.import', anyPermission: IMPORT_PERMISSIONS } },
      { path: 'settings/rules/:id(\\d+)?', name: 'settings-rules', component: () => import('@/views/automation/RulesView.vue'), meta: { auth: true, title: 'nav.rules', permission: 'settings.manage' } },
      { path: 'settings/email-templates/:id(\\d+)?', name: 'settings-templates', component: () => import('@/views/automation/TemplatesView.vue'), meta: { auth: true, title: 'nav.templates', permission: 'settings.manage' } },
      { path: 'settings/webhooks/:id(\\d+)?', name: 'settings-webhooks', component: () => import('@/views/automation/WebhooksView.vue'), meta: { auth: true, title: 'nav.webhooks', permission: 'settings.manage' } },
      { path: 'settings/workspace', name: 'settings-workspace', component: () => import('@/views/automation/WorkspaceView.vue'), meta: { auth: true, title: 'nav.workspace', permission: 'settings.manage' } },
      { path: 'settings/recycle-bin', name: 'settings-recycle', component: () => import('@/views/settings/RecycleBinView.vue'), meta: { auth: true, title: 'nav.recycle' } },
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
    if (to.meta.anyPermission && !to.meta.anyPermission.some((p) => auth.can(p))) return { name: 'home' }
    if (to.meta.objectPermission && !auth.can(`${to.params.object}.${to.meta.objectPermission}`)) return { name: 'home' }
  } else if (to.meta.guest && auth.hasRefresh) {
    // A returning user goes straight to the workspace.
    try { if (await auth.ensureSession()) return { name: 'home' } } catch { /* stay */ }
  }
  return true
})

router.afterEach((to) => {
  const key = to.meta.title || (to.params.object ? `nav.${to.params.object}` : null)
  const { t } = i18n.global
  document.title = key ? `${t(key)} · ${t('brand')}` : t('brand')
})
