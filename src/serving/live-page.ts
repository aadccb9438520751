// The live page served at `/`: totals, version, watermark, staleness, an events/s chart, the top 10 and a lookup
// box, updated from /events. Self-contained (no CDN): users may have no internet.

export const LIVE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lambdaflow — live view</title>
<style>
  :root { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; background: #f5f6f8; }
  body { margin: 0 auto; max-width: 1100px; padding: 24px; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .sub { color: #5b6474; font-size: 13px; margin-bottom: 20px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin-bottom: 16px; }
  .card { background: #fff; border-radius: 10px; padding: 14px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.06); }
  .card .label { color: #5b6474; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
  .card .value { font-size: 24px; font-weight: 600; margin-top: 4px; font-variant-numeric: tabular-nums; }
  .row { display: grid; grid-template-columns: 3fr 2fr; gap: 12px; }
  .panel { background: #fff; border-radius: 10px; padding: 14px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.06); margin-bottom: 12px; }
  .panel h2 { font-size: 14px; margin: 0 0 10px; }
  canvas { width: 100%; height: 220px; display: block; }
  table { width: 100%; border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eef0f3; }
  td.num, th.num { text-align: right; }
  form { display: flex; gap: 8px; }
  input { flex: 1; padding: 6px 8px; border: 1px solid #c9ced6; border-radius: 6px; font-size: 14px; }
  button { padding: 6px 14px; border: 0; border-radius: 6px; background: #2f6fed; color: #fff; font-size: 14px; cursor: pointer; }
  #lookup-result { margin-top: 10px; font-size: 14px; min-height: 20px; }
  #connection { font-size: 12px; }
  .ok { color: #1a7f37; } .bad { color: #cf222e; }
</style>
</head>
<body>
<h1>lambdaflow — merged view, live</h1>
<div class="sub">Batch view + realtime view, exact to the cent. <span id="connection">connecting…</span></div>
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
<div class="row">
  <div>
    <div class="panel"><h2>Events per second (last 5 minutes)</h2><canvas id="chart" width="640" height="220"></canvas></div>
    <div class="panel">
      <h2>Look up a user</h2>
      <form id="lookup"><input id="lookup-id" placeholder="user id" autocomplete="off"><button type="submit">Look up</button></form>
      <div id="lookup-result"></div>
    </div>
  </div>
  <div class="panel">
    <h2>Top 10 by amount</h2>
    <table><thead><tr><th>#</th><th>User</th><th class="num">Purchases</th><th class="num">Amount</th></tr></thead><tbody id="top"></tbody></table>
  </div>
</div>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const number = (n) => n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US');
  const amount = (text) => { const [w, f] = text.split('.'); return Number(w).toLocaleString('en-US').replace(/^-?/, text.startsWith('-') ? '-' : '') + '.' + f; };
  const history = [];
  let lastTop = -1, topTimer = null;

  function show(s) {
    $('users').textContent = number(s.users);
    $('purchases').textContent = number(s.purchase_count_total);
    $('amount').textContent = amount(s.purchase_amount_total);
    $('eps').textContent = number(s.events_per_second);
    $('version').textContent = number(s.version);
    $('watermark').textContent = number(s.batch_watermark);
    $('seq').textContent = number(s.through_seq);
    $('staleness').textContent = s.staleness_ms === null ? '–' : (s.staleness_ms / 1000).toFixed(1) + ' s';
    document.body.dataset.version = String(s.version);
    if (s.events_per_second !== null) { history.push({ t: Date.now(), v: s.events_per_second }); }
    while (history.length && history[0].t < Date.now() - 300000) history.shift();
    draw();
    if (s.version !== lastTop && !topTimer) topTimer = setTimeout(() => { topTimer = null; loadTop(); }, lastTop < 0 ? 0 : 1000);
  }

  async function loadTop() {
    const r = await fetch('/top?by=amount&n=10');
    if (!r.ok) return;
    const body = await r.json();
    lastTop = body.version;
    $('top').replaceChildren(...body.users.map((u, i) => {
      const tr = document.createElement('tr');
      for (const [text, cls] of [[String(i + 1)], [u.user_id], [number(u.purchase_count_total), 'num'], [amount(u.purchase_amount_total), 'num']]) {
        const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; tr.append(td);
      }
      return tr;
    }));
    document.body.dataset.topVersion = String(body.version);
  }

  function draw() {
    const c = $('chart'), g = c.getContext('2d'), w = c.width, h = c.height;
    g.clearRect(0, 0, w, h);
    const max = Math.max(1, ...history.map((p) => p.v)) * 1.1, now = Date.now(), span = 300000;
    g.strokeStyle = '#e3e6eb'; g.fillStyle = '#5b6474'; g.font = '11px system-ui';
    for (let i = 0; i <= 4; i++) { const y = h - 18 - (h - 28) * i / 4; g.beginPath(); g.moveTo(40, y); g.lineTo(w, y); g.stroke(); g.fillText(number(Math.round(max * i / 4)), 0, y + 4); }
    g.strokeStyle = '#2f6fed'; g.lineWidth = 2; g.beginPath();
    history.forEach((p, i) => { const x = 40 + (w - 40) * (1 - (now - p.t) / span), y = h - 18 - (h - 28) * p.v / max; if (i) g.lineTo(x, y); else g.moveTo(x, y); });
    g.stroke();
  }

  $('lookup').addEventListener('submit', async (e) => {
    e.preventDefault();
    const id = $('lookup-id').value.trim();
    if (!id) return;
    const r = await fetch('/users/' + encodeURIComponent(id));
    const body = await r.json();
    const out = $('lookup-result');
    out.className = r.ok ? 'ok' : 'bad';
    out.textContent = r.ok ? body.user_id + ': ' + number(body.purchase_count_total) + ' purchases, ' + amount(body.purchase_amount_total) + ' (version ' + body.version + ')' : body.error;
  });

  function connect() {
    const events = new EventSource('/events');
    events.addEventListener('version', (e) => { $('connection').textContent = 'live'; $('connection').className = 'ok'; show(JSON.parse(e.data)); });
    events.onerror = () => { $('connection').textContent = 'reconnecting…'; $('connection').className = 'bad'; };
  }
  fetch('/status').then((r) => r.ok ? r.json() : null).then((s) => { if (s) show(s); }).finally(connect);
})();
</script>
</body>
</html>
`;
