// The live page served at `/`: totals, version, watermark, staleness, an events/s chart, the top 10 and a lookup
// box, purchases per event-time bucket over the last 48 buckets, the top 10 of the last 24 hours, the late rows and
// (with --view window) the window served,
// updated from /events. Self-contained (no CDN): users may have no internet. Driven in Chromium by
// test/browser/live-page.test.ts (npm run test:browser).

export const LIVE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lambdaflow — live view</title>
<link rel="icon" href="data:,">
<style>
  :root { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; background: #f5f6f8; }
  body { margin: 0 auto; max-width: 1100px; padding: 24px; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .sub { color: #5b6474; font-size: 13px; margin-bottom: 20px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; margin-bottom: 16px; }
  .card { background: #fff; border-radius: 10px; padding: 14px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.06); }
  .card .label { color: #5b6474; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
  .card .value { font-size: 24px; font-weight: 600; margin-top: 4px; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
  .row { display: grid; grid-template-columns: 3fr 2fr; gap: 12px; }
  .panel { background: #fff; border-radius: 10px; padding: 14px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.06); margin-bottom: 12px; }
  .panel h2 { font-size: 14px; margin: 0 0 10px; }
  canvas { width: 100%; height: 220px; display: block; }
  table { width: 100%; border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eef0f3; }
  td.num, th.num { text-align: right; }
  form { display: flex; gap: 8px; }
  input { flex: 1; padding: 6px 8px; border: 1px solid #c9ced6; border-radius: 6px; font-size: 14px; }
  input:focus { outline: none; border-color: #2f6fed; box-shadow: 0 0 0 3px rgba(47, 111, 237, 0.15); }
  button { padding: 6px 14px; border: 0; border-radius: 6px; background: #2f6fed; color: #fff; font-size: 14px; cursor: pointer; }
  #lookup-result { margin-top: 10px; font-size: 14px; min-height: 20px; }
  #connection { font-size: 12px; }
  .ok { color: #1a7f37; } .bad { color: #cf222e; }
  @media (max-width: 760px) { .row { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<h1>lambdaflow — merged view, live</h1>
<div class="sub">Batch view + realtime view, exact to the cent. <a href="/openapi.json">The API (OpenAPI)</a> · <span id="connection">connecting…</span></div>
<div class="cards">
  <div class="card"><div class="label">Users</div><div class="value" id="users">–</div></div>
  <div class="card"><div class="label">Purchases</div><div class="value" id="purchases">–</div></div>
  <div class="card"><div class="label">Amount</div><div class="value" id="amount">–</div></div>
  <div class="card"><div class="label">Events/s</div><div class="value" id="eps">–</div></div>
</div>
<div class="cards">
  <div class="card"><div class="label">Version</div><div class="value" id="version">–</div></div>
  <div class="card"><div class="label">Batch watermark</div><div class="value" id="watermark">–</div></div>
  <div class="card"><div class="label">Ingest seq</div><div class="value" id="seq">–</div></div>
  <div class="card"><div class="label">Staleness</div><div class="value" id="staleness">–</div></div>
</div>
<div class="cards">
  <div class="card"><div class="label">Event-time watermark</div><div class="value" id="event-watermark">–</div></div>
  <div class="card"><div class="label">Late rows</div><div class="value" id="late">–</div></div>
  <div class="card" id="window-card" style="display: none"><div class="label">Window served</div><div class="value" id="window">–</div><div class="sub" id="window-note"></div></div>
</div>
<div class="row">
  <div>
    <div class="panel"><h2>Events per second, <span id="chart-span">the last 1 min</span></h2><canvas id="chart" data-points="0"></canvas></div>
    <div class="panel">
      <h2>Look up a user</h2>
      <form id="lookup"><input id="lookup-id" placeholder="user id" autocomplete="off"><button type="submit">Look up</button></form>
      <div id="lookup-result"></div>
    </div>
  </div>
  <div>
    <div class="panel">
      <h2>Top 10 by amount, all time</h2>
      <table><thead><tr><th>#</th><th>User</th><th class="num">Purchases</th><th class="num">Amount</th></tr></thead><tbody id="top"></tbody></table>
    </div>
    <div class="panel">
      <h2>Top 10 by amount, last 24 hours of event time</h2>
      <table><thead><tr><th>#</th><th>User</th><th class="num">Purchases</th><th class="num">Amount</th></tr></thead><tbody id="top24"></tbody></table>
    </div>
  </div>
</div>
<div class="panel"><h2 id="buckets-title">Purchases per bucket of event time, last 48 buckets</h2><canvas id="buckets" data-buckets="0"></canvas><div class="sub" id="buckets-note"></div></div>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const number = (n) => n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US');
  const amount = (text) => { const [w, f] = text.split('.'); return Number(w).toLocaleString('en-US').replace(/^-?/, text.startsWith('-') ? '-' : '') + '.' + f; };
  // The chart keeps one events/s sample a second, for at most SPAN_MAX_MS; a young page spans at least SPAN_MIN_MS
  // so that its first seconds are not squeezed against the right edge.
  const SPAN_MAX_MS = 300000, SPAN_MIN_MS = 60000;
  const history = [];
  let latest = null, receivedAtMs = 0, lastTop = -1, lastRanges = -1, topTimer = null, lookups = 0, series = [];

  function setConnection(text, cls) { $('connection').textContent = text; $('connection').className = cls; }

  /** Staleness as of now: the server's figure plus the time since it arrived (it keeps growing when nothing comes). */
  function showStaleness() {
    const out = $('staleness');
    if (!latest || latest.staleness_ms === null) { out.textContent = '–'; return; }
    const ms = latest.staleness_ms + Date.now() - receivedAtMs;
    out.textContent = ms < 60000 ? (ms / 1000).toFixed(1) + ' s' : ms < 3600000 ? Math.floor(ms / 60000) + ' min ' + Math.floor(ms % 60000 / 1000) + ' s' : (ms / 3600000).toFixed(1) + ' h';
  }

  const isoTime = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');
  /** The window --view window serves (absent with the exact view): its bounds, its time kind, the watermark then. */
  function showWindow(w) {
    $('window-card').style.display = w ? '' : 'none';
    if (!w) return;
    const bounds = w.time === 'event' ? [w.start * 1000, w.end * 1000] : w.time === 'processing' ? [w.start_ms, w.end_ms] : null;
    $('window').textContent = bounds ? isoTime(bounds[0]).slice(11) + '–' + isoTime(bounds[1]).slice(11) : w.name;
    $('window-note').textContent = w.time === 'event'
      ? 'event time, watermark ' + isoTime(w.watermark * 1000) + ', ' + number(w.late_rows) + ' late rows'
      : w.time === 'processing' ? 'processing time, ' + isoTime(bounds[0]).slice(0, 10) : 'bounds unknown (no _WINDOW.json)';
  }

  function record(eventsPerSecond) {
    const now = Date.now(), last = history[history.length - 1];
    if (last && now - last.t < 1000) last.v = eventsPerSecond; else history.push({ t: now, v: eventsPerSecond });
    while (history.length && history[0].t < now - SPAN_MAX_MS) history.shift();
    $('chart').dataset.points = String(history.length);
  }

  function show(s) {
    latest = s; receivedAtMs = Date.now();
    $('users').textContent = number(s.users);
    $('purchases').textContent = number(s.purchase_count_total);
    $('amount').textContent = amount(s.purchase_amount_total);
    $('eps').textContent = number(s.events_per_second);
    $('version').textContent = number(s.version);
    $('watermark').textContent = number(s.batch_watermark);
    $('seq').textContent = number(s.through_seq);
    $('late').textContent = number(s.event_time.late_rows);
    $('event-watermark').textContent = s.event_time.watermark === null ? '–' : new Date(s.event_time.watermark * 1000).toISOString().replace('.000Z', 'Z');
    showWindow(s.window);
    showStaleness();
    document.body.dataset.version = String(s.version);
    if (s.events_per_second !== null) record(s.events_per_second);
    draw();
    if (s.version !== lastTop && !topTimer) topTimer = setTimeout(() => { topTimer = null; loadTop().catch(() => {}); loadRanges().catch(() => {}); }, lastTop < 0 ? 0 : 1000);
  }

  function topRows(users) {
    return users.map((u, i) => {
      const tr = document.createElement('tr');
      for (const [text, cls] of [[String(i + 1)], [u.user_id], [number(u.purchase_count_total), 'num'], [amount(u.purchase_amount_total), 'num']]) {
        const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; tr.append(td);
      }
      return tr;
    });
  }

  async function loadTop() {
    const r = await fetch('/top?by=amount&n=10');
    if (!r.ok) return;
    const body = await r.json();
    if (body.version < lastTop) return; // an answer overtaken by a newer one
    lastTop = body.version;
    $('top').replaceChildren(...topRows(body.users));
    document.body.dataset.topVersion = String(body.version);
  }

  /** The last 48 buckets (up to the one now is in) per bucket, and the top 10 of the last 24 hours of them. */
  async function loadRanges() {
    const b = latest.bucket_seconds, end = (Math.floor(Date.now() / 1000 / b) + 1) * b;
    const [r, t] = await Promise.all([fetch('/series?from=' + (end - 48 * b) + '&to=' + end), fetch('/top?by=amount&n=10&from=' + (end - 86400) + '&to=' + end)]);
    const [body, top] = await Promise.all([r.json(), t.json()]);
    // A view without buckets (409) says why: the chart and the table stay empty.
    $('buckets-note').textContent = r.ok ? '' : body.error;
    if (!r.ok || !t.ok || body.version < lastRanges) { series = r.ok ? series : []; drawBuckets(); return; }
    lastRanges = body.version;
    series = body.points;
    $('buckets-title').textContent = 'Purchases per ' + (b % 3600 ? b / 60 + '-minute' : b === 3600 ? 'hour' : b / 3600 + '-hour') + ' of event time, last 48 (UTC)';
    $('top24').replaceChildren(...topRows(top.users));
    const c = $('buckets');
    c.dataset.buckets = String(series.length);
    c.dataset.from = String(end - 48 * b);
    c.dataset.to = String(end);
    c.dataset.purchases = series.map((p) => p.purchase_count).join(',');
    drawBuckets();
    document.body.dataset.rangesVersion = String(body.version);
  }

  /** The 2D context of canvas id in CSS pixels, its backing store sized to the screen's pixel ratio, cleared. */
  function canvas(id) {
    const c = $(id), ratio = window.devicePixelRatio || 1, w = c.clientWidth, h = c.clientHeight;
    if (c.width !== Math.round(w * ratio) || c.height !== Math.round(h * ratio)) { c.width = Math.round(w * ratio); c.height = Math.round(h * ratio); }
    const g = c.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    return { g, w, h };
  }

  function drawBuckets() {
    const { g, w, h } = canvas('buckets');
    g.font = '11px system-ui, sans-serif';
    const peak = Math.max(0, ...series.map((p) => p.purchase_count)), step = roundStep(Math.max(peak, 1), 4), top = Math.max(step, Math.ceil(peak * 1.05 / step) * step);
    const levels = []; for (let v = 0; v <= top; v += step) levels.push(v);
    const left = Math.ceil(Math.max(...levels.map((v) => g.measureText(number(v)).width))) + 10, right = 6, above = 8, below = 22;
    const plotW = w - left - right, plotH = h - above - below, y = (v) => above + plotH * (1 - v / top);
    g.lineWidth = 1; g.strokeStyle = '#e3e6eb'; g.fillStyle = '#5b6474'; g.textAlign = 'right'; g.textBaseline = 'middle';
    for (const v of levels) { const yy = Math.round(y(v)) + 0.5; g.beginPath(); g.moveTo(left, yy); g.lineTo(w - right, yy); g.stroke(); g.fillText(number(v), left - 6, yy); }
    if (!series.length) return;
    const slot = plotW / series.length;
    g.textAlign = 'center'; g.textBaseline = 'top';
    series.forEach((p, i) => {
      g.fillStyle = '#2f6fed';
      g.fillRect(left + i * slot + 1, y(p.purchase_count), Math.max(1, slot - 2), y(0) - y(p.purchase_count));
      if (i % 8 === 0) { g.fillStyle = '#5b6474'; g.fillText(new Date(p.start * 1000).toISOString().slice(5, 16).replace('T', ' '), left + i * slot + slot / 2, h - below + 6); }
    });
  }

  /** A round step (1, 2 or 5 × a power of ten, at least 1) that splits 0..max into about that many parts. */
  function roundStep(max, ticks) {
    const raw = max / ticks, power = Math.pow(10, Math.floor(Math.log10(raw)));
    return Math.max(1, [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw));
  }

  function draw() {
    const { g, w, h } = canvas('chart');
    const now = Date.now(), span = Math.min(SPAN_MAX_MS, Math.max(SPAN_MIN_MS, history.length ? now - history[0].t : 0));
    $('chart-span').textContent = 'the last ' + Math.round(span / 60000) + ' min'; // what the axis shows, 1 to 5 min
    const peak = Math.max(0, ...history.map((p) => p.v)), step = roundStep(Math.max(peak, 1), 4), top = Math.max(step, Math.ceil(peak * 1.05 / step) * step);
    const levels = []; for (let v = 0; v <= top && history.length; v += step) levels.push(v);
    if (!levels.length) levels.push(0);
    g.font = '11px system-ui, sans-serif';
    const left = Math.ceil(Math.max(...levels.map((v) => g.measureText(number(v)).width))) + 10, right = 6, above = 8, below = 22;
    const plotW = w - left - right, plotH = h - above - below;
    const x = (t) => left + plotW * (1 - (now - t) / span), y = (v) => above + plotH * (1 - v / top);
    g.lineWidth = 1; g.strokeStyle = '#e3e6eb'; g.fillStyle = '#5b6474'; g.textAlign = 'right'; g.textBaseline = 'middle';
    for (const v of levels) { const yy = Math.round(y(v)) + 0.5; g.beginPath(); g.moveTo(left, yy); g.lineTo(w - right, yy); g.stroke(); g.fillText(number(v), left - 6, yy); }
    const tick = [10000, 15000, 30000, 60000, 120000, 300000].find((ms) => plotW * ms / span >= 60); // labels 60 px apart at least
    g.textBaseline = 'top';
    for (let ago = 0; ago <= span; ago += tick) {
      const xx = x(now - ago);
      g.textAlign = ago === 0 ? 'right' : xx - left < 24 ? 'left' : 'center';
      g.fillText(ago === 0 ? 'now' : ago % 60000 ? '−' + ago / 1000 + ' s' : '−' + ago / 60000 + ' min', ago === 0 ? w - right : xx, h - below + 6);
    }
    if (!history.length) {
      g.textAlign = 'center'; g.textBaseline = 'middle';
      g.fillText('no events from the speed layer yet', left + plotW / 2, above + plotH / 2);
      return;
    }
    const first = history[0], last = history[history.length - 1];
    g.save();
    g.beginPath(); g.rect(left, above, plotW, plotH + 1); g.clip();
    g.beginPath();
    history.forEach((p, i) => { if (i) g.lineTo(x(p.t), y(p.v)); else g.moveTo(x(p.t), y(p.v)); });
    g.strokeStyle = '#2f6fed'; g.lineWidth = 2; g.lineJoin = 'round'; g.stroke();
    g.lineTo(x(last.t), y(0)); g.lineTo(x(first.t), y(0)); g.closePath();
    g.fillStyle = 'rgba(47, 111, 237, 0.12)'; g.fill();
    g.beginPath(); g.arc(x(last.t), y(last.v), 3, 0, 2 * Math.PI); g.fillStyle = '#2f6fed'; g.fill();
    g.restore();
  }

  $('lookup').addEventListener('submit', async (e) => {
    e.preventDefault();
    const id = $('lookup-id').value.trim(), out = $('lookup-result'), mine = ++lookups;
    if (!id) return;
    let cls, text;
    try {
      const r = await fetch('/users/' + encodeURIComponent(id));
      const body = await r.json();
      cls = r.ok ? 'ok' : 'bad';
      text = r.ok ? body.user_id + ': ' + number(body.purchase_count_total) + ' purchases, ' + amount(body.purchase_amount_total) + ' (version ' + body.version + ')' : body.error;
    } catch (error) {
      cls = 'bad'; text = 'lookup failed: ' + error.message;
    }
    if (mine !== lookups) return; // a newer lookup is under way
    out.className = cls; out.textContent = text;
  });

  function connect() {
    const events = new EventSource('/events');
    events.addEventListener('version', (e) => { setConnection('live', 'ok'); show(JSON.parse(e.data)); });
    events.onerror = () => {
      setConnection('reconnecting…', 'bad');
      // The browser retries a dropped stream by itself, but not one refused with 503 (no view loaded yet).
      if (events.readyState === EventSource.CLOSED) setTimeout(connect, 1000);
    };
  }
  setInterval(() => { showStaleness(); draw(); }, 1000);
  window.addEventListener('resize', () => { draw(); drawBuckets(); });
  draw();
  drawBuckets();
  fetch('/status').then((r) => r.ok ? r.json() : null).then((s) => { if (s) show(s); }).catch(() => {}).finally(connect);
})();
</script>
</body>
</html>
`;
