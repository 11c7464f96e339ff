// What the record screens share and rarely changes: the field catalog of each
// object, the members (owners, assignees), the pipelines and the tags. Loaded once,
// replaced when a settings screen changes them, so every form follows at once.
import { defineStore } from 'pinia'
import { api, queryString } from '@/lib/api'
import { fetchAll } from '@/lib/useList'

const inflight = new Map()
// One request per key at a time; later callers share it.
function once(key, load) {
  if (!inflight.has(key)) inflight.set(key, load().finally(() => inflight.delete(key)))
  return inflight.get(key)
}

export const useCatalogStore = defineStore('catalog', {
  state: () => ({
    fields: {},        // object → { data:[field], layout:[{section, fields}] }
    members: null,     // [member]
    pipelines: null,   // [pipeline]
    tags: null,        // [{id, name, color}]
    titles: {},        // "object:id" → title, for references shown by name
  }),
  getters: {
    memberById: (s) => new Map((s.members || []).map((m) => [m.id, m])),
    activeMembers: (s) => (s.members || []).filter((m) => m.status === 'active'),
    defaultPipeline: (s) => (s.pipelines || []).find((p) => p.is_default) || (s.pipelines || [])[0] || null,
    stageById: (s) => {
      const m = new Map()
      for (const p of s.pipelines || []) for (const st of p.stages || []) m.set(st.id, { ...st, pipeline_id: p.id })
      return m
    },
  },
  actions: {
    async loadFields(object, force = false) {
      if (this.fields[object] && !force) return this.fields[object]
      return once(`fields:${object}`, async () => {
        const r = await api.get(`/fields/${object}`)
        this.fields[object] = { data: r.data || [], layout: r.layout || [] }
        return this.fields[object]
      })
    },
    forgetFields(object) { delete this.fields[object] },

    async loadMembers(force = false) {
      if (this.members && !force) return this.members
      return once('members', async () => {
        this.members = await fetchAll((c) => `/members${queryString({ limit: 200, cursor: c })}`)
        return this.members
      })
    },
    memberName(id) {
      if (id === null || id === undefined) return '—'
      const m = this.memberById.get(id)
      return m ? m.name || m.email : `#${id}`
    },

    async loadPipelines(force = false) {
      if (this.pipelines && !force) return this.pipelines
      return once('pipelines', async () => {
        const r = await api.get('/pipelines')
        this.pipelines = (r.data || []).map((p) => ({ ...p, stages: [...(p.stages || [])].sort((a, b) => a.position - b.position) }))
        return this.pipelines
      })
    },

    async loadTags(force = false) {
      if (this.tags && !force) return this.tags
      return once('tags', async () => {
        this.tags = (await api.get('/tags')).data || []
        return this.tags
      })
    },

    // The title of a referenced record (a customer's name…), fetched once.
    async title(object, id) {
      const key = `${object}:${id}`
      if (this.titles[key]) return this.titles[key]
      return once(`title:${key}`, async () => {
        try {
          const r = await api.get(`/${object}/${id}`)
          this.titles[key] = r.name || r.subject || `#${id}`
        } catch {
          this.titles[key] = `#${id}`
        }
        return this.titles[key]
      })
    },
    rememberTitle(object, rec) {
      if (rec?.id) this.titles[`${object}:${rec.id}`] = rec.name || rec.subject || `#${rec.id}`
    },
  },
})
