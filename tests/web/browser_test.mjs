// Browser test of `voxir serve`'s web page: Debian's Chromium, headless, driven by playwright-core.
// Builds a small phantom index, starts the server on a free loopback port, runs a region search
// and a slice-range search from the page, checks the result list, that each result's viewer
// shows a slice inside the matched range and that its explanation (heatmap and strip) is shown,
// saves screenshots, and stops the server with SIGTERM.
// Usage: node browser_test.mjs <voxir binary> <web source dir> <work dir> <screenshot dir>
// Exit 77 (skipped) when Chromium is not installed.
import { spawn, spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import fs from 'node:fs'
import path from 'node:path'

const [voxir, webDir, work, shots] = process.argv.slice(2)
const chromiumPath = '/usr/bin/chromium'
if (!fs.existsSync(chromiumPath)) {
  console.log(`SKIPPED: ${chromiumPath} is not installed (scripts/setup installs it)`)
  process.exit(77)
}
const { chromium } = createRequire(path.resolve(webDir, 'package.json'))('playwright-core')

function check (ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`)
  console.log(`ok: ${what}`)
}

function run (...args) {
  const r = spawnSync(voxir, args, { encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: path.join(work, 'cache') } })
  if (r.status !== 0) throw new Error(`voxir ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
}

fs.rmSync(work, { recursive: true, force: true })
fs.mkdirSync(work, { recursive: true })
fs.mkdirSync(shots, { recursive: true })
run('synth', path.join(work, 'ds'), '--subjects', '4', '--seed', '3', '--spacing', '5', '--region', 'abdomen', '--quiet')
run('index', 'build', path.join(work, 'index'), path.join(work, 'ds'))

const server = spawn(voxir, ['serve', path.join(work, 'index'), '--port', '0', '--threads', '4'], { stdio: ['ignore', 'ignore', 'pipe'] })
let serverLog = ''
const url = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`server did not start: ${serverLog}`)), 120000)
  server.stderr.on('data', (d) => {
    serverLog += d
    const m = serverLog.match(/on (http:\/\/127\.0\.0\.1:\d+\/)/)
    if (m) { clearTimeout(timer); resolve(m[1]) }
  })
  server.on('exit', (code) => reject(new Error(`server exited ${code}: ${serverLog}`)))
})

const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--no-sandbox']
})
let failed = false
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
// Generous limits: ctest runs this beside other tests on two cores, where loading the page and its
// volumes in a software-rendered WebGL took over 30 s (Playwright's default) under load.
page.setDefaultTimeout(120000)
page.setDefaultNavigationTimeout(120000)
try {
  const errors = []
  page.on('pageerror', (e) => errors.push(e.message))
  await page.goto(url)
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120000 })
  const options = await page.locator('#volume-select option').count()
  check(options === 4, `the volume list shows the 4 indexed volumes (${options})`)

  // A region search with the labels of an indexed volume.
  await page.selectOption('#volume-select', 's0002')
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('s0002:'))
  await page.fill('#region', 'liver')
  await page.fill('#top', '3')
  await page.click('#search')
  await page.waitForSelector('body[data-searched="true"]', { timeout: 120000 })
  const status = await page.textContent('#status')
  check(/results for slices \d+–\d+ \(liver\)/.test(status), `the status reports the region search: "${status}"`)
  const results = await page.$$eval('#results li', (lis) => lis.map((li) => ({
    volume: li.dataset.volume, location: li.dataset.location, ready: li.dataset.ready, slice: li.querySelector('canvas').dataset.slice
  })))
  check(results.length >= 1 && results.length <= 3, `1 to 3 results listed (${results.length})`)
  for (const r of results) {
    const [a, b] = r.location.split(':').map(Number)
    check(r.volume !== 's0002', `result ${r.volume} is not the query itself`)
    check(r.ready === 'true', `result ${r.volume} has its viewer loaded`)
    check(Number(r.slice) >= a && Number(r.slice) <= b, `result ${r.volume}'s viewer shows slice ${r.slice}, inside its match ${a}..${b}`)
  }
  await page.screenshot({ path: path.join(shots, 'region-search.png'), fullPage: true })

  // Each result shows its explanation: the heatmap and the strip, decoded by the browser.
  await page.waitForFunction(() => [...document.querySelectorAll('#results .explanation img')].every((i) => i.complete), null, { timeout: 120000 })
  const pictures = await page.$$eval('#results li', (lis) => lis.map((li) => ({
    volume: li.dataset.volume,
    heatmap: li.querySelector('img.heatmap')?.naturalWidth ?? 0,
    strip: li.querySelector('img.strip')?.naturalWidth ?? 0
  })))
  for (const p of pictures) {
    check(p.heatmap > 0 && p.strip > 0, `result ${p.volume} shows its heatmap (${p.heatmap} px wide) and strip (${p.strip} px wide)`)
  }
  await page.locator('#results .explanation').first().screenshot({ path: path.join(shots, 'explanation.png') })

  // Label overlays: ticking "show labels" adds each viewer's label map as a second NiiVue volume
  // (the phantoms all have masks) and changes what the viewers show; unticking removes them.
  const volumeCounts = () => page.$$eval('canvas[data-volumes]', (cs) => cs.map((c) => c.dataset.volumes))
  const counts = await volumeCounts()
  check(counts.length === results.length + 1 && counts.every((n) => n === '1'), `without labels the query and each result viewer hold one volume (${counts})`)
  const before = await page.locator('#query-canvas').screenshot()
  await page.check('#show-labels')
  await page.waitForFunction(() => [...document.querySelectorAll('canvas[data-volumes]')].every((c) => c.dataset.volumes === '2'), null, { timeout: 120000 })
  check(true, `with labels every viewer (${(await volumeCounts()).length}) holds the CT and its label map`)
  const after = await page.locator('#query-canvas').screenshot()
  check(!before.equals(after), 'the query viewer looks different with the label overlay')
  await page.screenshot({ path: path.join(shots, 'label-overlay.png'), fullPage: true })
  await page.uncheck('#show-labels')
  await page.waitForFunction(() => [...document.querySelectorAll('canvas[data-volumes]')].every((c) => c.dataset.volumes === '1'), null, { timeout: 120000 })
  check(true, 'unticking removes the overlays again')

  // A slice-range search, typed in.
  await page.evaluate(() => { document.body.dataset.searched = '' })
  await page.fill('#region', '')
  await page.fill('#slice-first', '3')
  await page.fill('#slice-last', '8')
  await page.click('#search')
  await page.waitForSelector('body[data-searched="true"]', { timeout: 120000 })
  const status2 = await page.textContent('#status')
  check(status2.includes('results for slices 3–8'), `the slice search used slices 3..8: "${status2}"`)
  await page.screenshot({ path: path.join(shots, 'slice-search.png'), fullPage: true })
  check(errors.length === 0, `no page errors (${errors.join('; ')})`)
} catch (e) {
  failed = true
  console.error(e.message.split('\n')[0])
  await page.screenshot({ path: path.join(shots, 'failure.png'), fullPage: true }).catch(() => {})
} finally {
  await browser.close()
}

// SIGTERM: requests finish, the server exits 0.
const code = await new Promise((resolve) => {
  server.removeAllListeners('exit')
  server.on('exit', (c) => resolve(c))
  server.kill('SIGTERM')
})
if (code !== 0) { failed = true; console.error(`server exited ${code} on SIGTERM: ${serverLog}`) } else console.log('ok: the server stops cleanly on SIGTERM')
console.log(`screenshots in ${shots}`)
process.exit(failed ? 1 : 0)
