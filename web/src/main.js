// The web page of `voxir serve`: pick or upload a query, mark a slice range or a region, search,
// and see each result in its own viewer at the matched slices. Everything goes through the REST
// API (/api/v1, docs/server.md); the page decides nothing the API does not.
import { Niivue, SLICE_TYPE, DRAG_MODE, SHOW_RENDER, MULTIPLANAR_TYPE } from '@niivue/niivue'

const $ = (id) => document.getElementById(id)
const state = { volume: null, file: null, viewers: [] }

function headers () {
  const token = $('token').value.trim()
  return token ? { Authorization: `Bearer ${token}` } : {}
}

// fetch + JSON, throwing the API's {error: {kind, message}} as an Error.
async function api (path, options = {}) {
  const res = await fetch(path, { ...options, headers: { ...headers(), ...(options.headers || {}) } })
  const body = await res.json().catch(() => ({}))
  if (!res.ok) {
    const e = body.error || { kind: `HTTP ${res.status}`, message: res.statusText }
    throw new Error(`${e.kind}: ${e.message}`)
  }
  return body
}

function status (text, isError = false) {
  $('status').textContent = text
  $('status').classList.toggle('error', isError)
}

async function viewer (canvas) {
  // Axial, coronal and sagittal side by side, no 3-D render: the canvas's box (a fixed-height
  // .viewer) decides its size, NiiVue only fills it.
  const nv = new Niivue({
    backColor: [0, 0, 0, 1],
    isColorbar: false,
    multiplanarShowRender: SHOW_RENDER.NEVER,
    multiplanarLayout: MULTIPLANAR_TYPE.ROW
  })
  await nv.attachToCanvas(canvas)
  nv.setSliceType(SLICE_TYPE.MULTIPLANAR)
  return nv
}

// Moves the crosshair to voxel slice z (canonical order: 0 is the most inferior) at the centre
// of the slice, and records the slice shown on the canvas for tests and screen readers.
function showSlice (nv, canvas, z) {
  const dims = nv.volumes[0].dims // [3, nx, ny, nz, ...]
  const vox = [Math.floor(dims[1] / 2), Math.floor(dims[2] / 2), z]
  nv.scene.crosshairPos = nv.vox2frac(vox)
  nv.drawScene()
  canvas.dataset.slice = String(Math.round(nv.frac2vox(nv.scene.crosshairPos)[2]))
}

// Label overlays: a volume's label map (GET /api/v1/volumes/{id}/labels, one value per class,
// listed in the volume's label_values) drawn over its CT while the "labels" box is ticked; the
// class under the crosshair is named below the viewer. One entry per viewer that may show one.
const overlays = new Map() // canvas -> { nv, id, info: volume metadata, null (none), or undefined (not fetched yet) }

// NiiVue looks label colours up in a linearly filtered texture and nudges small values up by 2/256
// of its width, so with more than 64 labels the background would pick up some of the colour of
// value 1. Shifting every class value up by this much keeps the texels next to 0 transparent.
const LABEL_SHIFT = 2

// One colour per class value (golden-angle hues) at value + LABEL_SHIFT, transparent background.
function labelColormap (values) {
  const cm = { R: [0], G: [0], B: [0], A: [0], I: [0], labels: [''] }
  for (const { value: v, class: name } of values) {
    const value = v + LABEL_SHIFT
    const h = (value * 137.508) % 360
    const f = (n) => {
      const k = (n + h / 30) % 12
      return Math.round(255 * (0.55 - 0.45 * Math.max(-1, Math.min(k - 3, 9 - k, 1))))
    }
    cm.R.push(f(0))
    cm.G.push(f(8))
    cm.B.push(f(4))
    cm.A.push(255)
    cm.I.push(value)
    cm.labels.push(name)
  }
  return cm
}

async function applyOverlay (canvas) {
  const o = overlays.get(canvas)
  if (!o) return
  // A result's metadata (its label map link and values) is fetched the first time labels are shown.
  if ($('show-labels').checked && o.info === undefined) o.info = await api(`/api/v1/volumes/${encodeURIComponent(o.id)}`)
  const { nv, info } = o
  const show = $('show-labels').checked && info && info.label_map
  if (show && nv.volumes.length === 1) {
    const names = new Map(info.label_values.map((v) => [v.value, v.class]))
    await nv.addVolumeFromUrl({ url: info.label_map, name: `${info.id}-labels.nii.gz`, headers: headers(), opacity: 0.45 })
    const img = nv.volumes[1].img // uint8: class values stay far below 256 - LABEL_SHIFT
    for (let i = 0; i < img.length; i++) if (img[i]) img[i] += LABEL_SHIFT
    nv.volumes[1].setColormapLabel(labelColormap(info.label_values))
    nv.updateGLVolume()
    nv.onLocationChange = (data) => {
      const raw = data.values?.[1] ? Math.round(data.values[1].value) : 0
      const v = raw > 0 ? raw - LABEL_SHIFT : 0
      caption(canvas, v ? names.get(v) || `label ${v}` : '')
    }
  } else if (!show && nv.volumes.length > 1) {
    nv.removeVolume(nv.volumes[1])
    nv.onLocationChange = () => {}
    caption(canvas, '')
  }
  canvas.dataset.volumes = String(nv.volumes.length)
}

function caption (canvas, text) {
  let el = canvas.parentElement.querySelector('.label-name')
  if (!el) {
    el = document.createElement('span')
    el.className = 'label-name'
    canvas.parentElement.append(el)
  }
  el.textContent = text ? `under the crosshair: ${text}` : ''
}

async function applyOverlays () {
  for (const canvas of overlays.keys()) await applyOverlay(canvas)
}

const query = { nv: null }

async function loadQueryImage (source) {
  if (!query.nv) {
    query.nv = await viewer($('query-canvas'))
    query.nv.opts.dragMode = DRAG_MODE.callbackOnly
    // A drag on the coronal (or sagittal) view marks the slices between its ends.
    query.nv.onDragRelease = (p) => {
      if (p.axCorSag !== SLICE_TYPE.CORONAL && p.axCorSag !== SLICE_TYPE.SAGITTAL) return
      const a = Math.round(p.voxStart[2])
      const b = Math.round(p.voxEnd[2])
      $('slice-first').value = Math.min(a, b)
      $('slice-last').value = Math.max(a, b)
      $('region').value = ''
    }
  }
  while (query.nv.volumes.length) query.nv.removeVolume(query.nv.volumes[0])
  if (source instanceof File) {
    await query.nv.loadFromFile(source)
  } else {
    await query.nv.loadVolumes([{ url: source, name: 'query.nii.gz', headers: headers() }])
  }
  overlays.set($('query-canvas'), { nv: query.nv, info: source instanceof File ? null : state.volumeInfo })
  await applyOverlay($('query-canvas'))
}

async function selectVolume (id) {
  state.volume = id
  state.file = null
  $('upload').value = ''
  status(`loading ${id}…`)
  const v = await api(`/api/v1/volumes/${encodeURIComponent(id)}`)
  const names = new Set()
  for (const l of v.labels) {
    names.add(l.class)
    if (l.region) names.add(l.region)
  }
  $('region-list').replaceChildren(...[...names].sort().map((n) => new Option(n)))
  state.volumeInfo = v
  await loadQueryImage(v.image)
  status(`${id}: ${v.slices} slices${v.labels.length ? `, ${v.labels.length} labelled classes` : ''}`)
}

async function loadVolumeList () {
  const select = $('volume-select')
  let next = 0
  while (next !== null) {
    const page = await api(`/api/v1/volumes?offset=${next}&limit=500`)
    for (const v of page.volumes) select.add(new Option(`${v.id} (${v.slices} slices)`, v.id))
    next = page.next
  }
  select.onchange = () => selectVolume(select.value).catch((e) => status(e.message, true))
  if (select.options.length) await selectVolume(select.value)
}

function searchParams () {
  const p = { k: Number($('k').value), top: Number($('top').value), explain: $('explain').checked }
  const region = $('region').value.trim()
  const first = $('slice-first').value
  const last = $('slice-last').value
  if (region) p.region = region
  else if (first !== '' && last !== '') p.slices = [Number(first), Number(last)]
  return p
}

function alignmentPlot (result, answer) {
  const ns = 'http://www.w3.org/2000/svg'
  const svg = document.createElementNS(ns, 'svg')
  svg.classList.add('alignment')
  const q = answer.query.slices
  const pts = result.alignment
  const ys = pts.map((a) => a[1])
  const y0 = Math.min(...ys)
  const y1 = Math.max(...ys)
  const W = 200
  const H = 200
  svg.setAttribute('viewBox', `-30 -10 ${W + 40} ${H + 40}`)
  const sx = (x) => ((x - q[0]) / Math.max(1, q[1] - q[0])) * W
  const sy = (y) => H - ((y - y0) / Math.max(1, y1 - y0)) * H
  const axis = document.createElementNS(ns, 'path')
  axis.setAttribute('d', `M0 0 V${H} H${W}`)
  axis.setAttribute('stroke', '#777')
  axis.setAttribute('fill', 'none')
  svg.append(axis)
  for (const [qs, vs] of pts) {
    const c = document.createElementNS(ns, 'circle')
    c.setAttribute('cx', sx(qs))
    c.setAttribute('cy', sy(vs))
    c.setAttribute('r', 2.5)
    c.setAttribute('fill', '#7fd1ff')
    svg.append(c)
  }
  const label = (text, x, y) => {
    const t = document.createElementNS(ns, 'text')
    t.textContent = text
    t.setAttribute('x', x)
    t.setAttribute('y', y)
    t.setAttribute('fill', '#aaa')
    t.setAttribute('font-size', '11')
    svg.append(t)
  }
  label('query slice →', 60, H + 25)
  label(`${y1}`, -28, 8)
  label(`${y0}`, -28, H)
  return svg
}

// The server's explanation of a result (docs/server.md): the similarity heatmap with the MaxSim
// alignment in red, and the strip of aligned query | result slice pairs, both inline PNGs.
function explanationFigure (r) {
  const box = document.createElement('div')
  box.className = 'explanation'
  const a = r.explanation.alignment
  const picture = (src, cls, alt) => {
    const img = document.createElement('img')
    img.className = cls
    img.src = src
    img.alt = alt
    img.title = alt
    return img
  }
  box.append(picture(r.explanation.heatmap, 'heatmap',
    `similarity of query slices ${a.rows[0]}–${a.rows[a.rows.length - 1]} (rows) with the ${a.columns} slices of ${r.volume} (columns); red: the aligned slice`))
  if (r.explanation.strip) {
    box.append(picture(r.explanation.strip, 'strip',
      `query slice | aligned slice of ${r.volume}: ${a.strip.map((p) => `${p.query_slice}→${p.result_slice}`).join(', ')}`))
  } else {
    const note = document.createElement('p')
    note.className = 'hint'
    note.textContent = `no slice pairs: ${a.strip_note}`
    box.append(note)
  }
  return box
}

async function showResults (answer) {
  for (const nv of state.viewers) nv.gl?.getExtension('WEBGL_lose_context')?.loseContext()
  state.viewers = []
  for (const canvas of [...overlays.keys()]) if (canvas !== $('query-canvas')) overlays.delete(canvas)
  const list = $('results')
  list.replaceChildren()
  for (const [i, r] of answer.results.entries()) {
    const li = document.createElement('li')
    li.dataset.volume = r.volume
    li.dataset.location = r.location.join(':')
    const meta = document.createElement('div')
    meta.className = 'meta'
    meta.innerHTML = `<b>${i + 1}. </b>`
    for (const text of [r.volume, `score ${r.score.toFixed(4)}`, `votes ${r.votes}`, `slices ${r.location[0]}–${r.location[1]}`]) {
      const span = document.createElement('span')
      span.textContent = text
      meta.append(span)
    }
    const views = document.createElement('div')
    views.className = 'views'
    const box = document.createElement('div')
    box.className = 'viewer'
    const canvas = document.createElement('canvas')
    box.append(canvas)
    views.append(box, alignmentPlot(r, answer))
    li.append(meta, views)
    if (r.explanation) li.append(explanationFigure(r))
    list.append(li)
    const nv = await viewer(canvas)
    state.viewers.push(nv)
    await nv.loadVolumes([{ url: r.image, name: `${r.volume}.nii.gz`, headers: headers() }])
    showSlice(nv, canvas, Math.round((r.location[0] + r.location[1]) / 2))
    overlays.set(canvas, { nv, id: r.volume, info: undefined })
    await applyOverlay(canvas)
    li.dataset.ready = 'true'
  }
}

async function search () {
  status('searching…')
  $('results').replaceChildren()
  const params = searchParams()
  let answer
  if (state.file) {
    const form = new FormData()
    form.append('file', state.file, state.file.name)
    form.append('params', JSON.stringify(params))
    answer = await api('/api/v1/search', { method: 'POST', body: form })
  } else {
    params.volume = state.volume
    params.exclude_self = $('exclude-self').checked
    answer = await api('/api/v1/search', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(params)
    })
  }
  const q = answer.query
  status(`${answer.results.length} results for slices ${q.slices[0]}–${q.slices[1]}` +
    `${q.region ? ` (${q.region})` : ''} in ${answer.timings_ms.total.toFixed(0)} ms`)
  await showResults(answer)
  document.body.dataset.searched = 'true'
}

async function main () {
  const info = await api('/api/v1/index')
  $('index-summary').textContent = `${info.volumes} volumes, ${info.vectors} slices, ${info.index}, generation ${info.generation}`
  $('search').onclick = () => search().catch((e) => status(e.message, true))
  $('show-labels').onchange = () => applyOverlays().catch((e) => status(e.message, true))
  $('upload').onchange = async () => {
    const file = $('upload').files[0]
    if (!file) return
    state.file = file
    state.volume = null
    $('region-list').replaceChildren()
    if (/\.zip$/i.test(file.name)) {
      // A zip of a DICOM series is read by the server only: no preview here.
      while (query.nv?.volumes.length) query.nv.removeVolume(query.nv.volumes[0])
      status(`${file.name} (a zip of a DICOM series, read by the server when you search; type the slices)`)
      return
    }
    await loadQueryImage(file)
    status(`${file.name} (uploaded with the search; the region needs labels, so mark slices)`)
  }
  await loadVolumeList()
  document.body.dataset.ready = 'true'
}

main().catch((e) => status(e.message, true))
