// The FerryFS dashboard page: Preact components written with htm tagged templates (no build step), polling
// the JSON API (docs/dashboard.md) every few seconds.
import { h, render } from 'preact';
import { useEffect, useState, useCallback } from 'preact/hooks';
import htm from 'htm';

const html = htm.bind(h);
const REFRESH_S = Number(new URLSearchParams(location.search).get('refresh') || document.body.dataset.refresh || 5);

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
function bytes(n) {
  if (n === undefined || n === null) return '-';
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) (v /= 1024), i++;
  return `${i ? v.toFixed(v < 10 ? 2 : 1) : v} ${units[i]}`;
}
function ago(ms) {
  if (ms === undefined || ms === null) return '-';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ago`;
  return `${Math.floor(s / 86400)}d ago`;
}
const at = (t, now) => (t ? ago(now - t) : '-');
const pct = (f) => `${(f * 100).toFixed(f < 0.1 ? 1 : 0)}%`;

async function getJson(path) {
  const r = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

function Bar({ used, total }) {
  if (!total) return html`<span class="muted">no limit</span>`;
  const f = used / total;
  return html`<div class="bar ${f >= 1 ? 'err' : f >= 0.95 ? 'warn' : ''}" title=${pct(f)}><div style=${`width:${Math.min(100, f * 100)}%`}></div></div>`;
}

function Section({ id, title, note, wide, children }) {
  return html`<section id=${id} class=${wide ? 'wide' : ''}><h2>${title}${note !== undefined ? html` <small>${note}</small>` : ''}</h2>${children}</section>`;
}

function Empty({ children }) {
  return html`<p class="empty">${children}</p>`;
}

function Tips({ tips }) {
  if (!tips.length) return html`<${Section} id="tips" title="Health" wide><span class="badge ok">no known problem</span><//>`;
  return html`<${Section} id="tips" title="Health" note=${`${tips.length} problem(s)`} wide>
    ${tips.map((t) => html`<div class="tip ${t.severity}" data-problem=${t.problem}><b>${t.message}</b><div class="what">Tip: ${t.tip}</div></div>`)}
  <//>`;
}

function Usage({ v }) {
  const u = v.usage;
  return html`<${Section} id="usage" title="Usage and quotas">
    <div class="usage">
      <span>Space</span><${Bar} used=${u.usedSpace} total=${u.capacity} /><span>${bytes(u.usedSpace)}${u.capacity ? ` of ${bytes(u.capacity)}` : ''}</span>
      <span>Inodes</span><${Bar} used=${u.usedInodes} total=${u.inodeLimit} /><span>${u.usedInodes}${u.inodeLimit ? ` of ${u.inodeLimit}` : ''}</span>
    </div>
    ${v.quotas.filter((q) => q.path !== '/').length
      ? html`<div class="scroll"><table>
          <tr><th>Directory</th><th>Space</th><th class="num">Used</th><th class="num">Limit</th><th class="num">Inodes</th></tr>
          ${v.quotas.filter((q) => q.path !== '/').map((q) => html`<tr data-quota=${q.path}>
            <td>${q.path}</td><td><${Bar} used=${q.usedSpace} total=${q.capacity} /></td><td class="num">${bytes(q.usedSpace)}</td>
            <td class="num">${q.capacity ? bytes(q.capacity) : '-'}</td><td class="num">${q.usedInodes}${q.inodes ? ` / ${q.inodes}` : ''}</td></tr>`)}
        </table></div>`
      : html`<${Empty}>No directory quotas.<//>`}
  <//>`;
}

function Trash({ v, now }) {
  const t = v.trash;
  return html`<${Section} id="trash" title="Trash">
    <div class="kv">
      <span class="muted">Kept</span><span>${t.days ? `${t.days} day(s)` : 'off'}</span>
      <span class="muted">Entries</span><span>${t.entries}</span>
      <span class="muted">Size</span><span>${bytes(t.bytes)}</span>
      <span class="muted">Oldest</span><span>${at(t.oldest, now)}</span>
      <span class="muted">Write-back backlog</span><span id="writeback">${v.writeback.pendingBlocks} block(s) on ${v.writeback.clients} client(s)</span>
    </div>
  <//>`;
}

function Sessions({ v }) {
  return html`<${Section} id="sessions" title="Sessions" note=${`${v.sessions.length}`} wide>
    ${v.sessions.length
      ? html`<div class="scroll"><table>
          <tr><th>SID</th><th>Role</th><th>Host</th><th>PID</th><th>Mount / label</th><th>Version</th><th>Heartbeat</th><th class="num">Open files</th><th class="num">WB pending</th><th>Last error</th></tr>
          ${v.sessions.map((s) => html`<tr data-sid=${s.sid}>
            <td>${s.sid}</td><td><span class="badge">${s.role}</span></td><td>${s.host}</td><td>${s.pid}</td><td class="wrap">${s.label || '-'}</td><td>${s.version}</td>
            <td>${ago(s.heartbeatAgeMs)}${s.stale ? html` <span class="badge err">stale</span>` : ''}</td>
            <td class="num">${s.openFiles ?? '-'}</td><td class="num">${s.writebackPending ?? '-'}</td>
            <td class="wrap">${s.lastError ? html`<span class="badge ${s.lastError.clearedAt ? 'ok' : 'err'}">${s.lastError.job}</span> ${s.lastError.clearedAt ? 'recovered' : ''}` : '-'}</td></tr>`)}
        </table></div>`
      : html`<${Empty}>No client uses the volume.<//>`}
  <//>`;
}

function Ring({ v }) {
  return html`<${Section} id="cache-groups" title="Cache groups">
    ${v.cacheGroups.length
      ? v.cacheGroups.map((g) => html`<div data-group=${g.name}><b>${g.name}</b> <span class="muted">${g.members.length} member(s)</span>
          <div class="scroll"><table>
            <tr><th>Member</th><th>Host</th><th>Zone</th><th class="num">Hit ratio</th><th class="num">Served</th><th class="num">Requests</th></tr>
            ${g.members.map((m) => html`<tr><td>${m.address}</td><td>${m.host}</td><td>${[m.region, m.zone].filter(Boolean).join('/') || '-'}</td>
              <td class="num">${m.hitRatio === undefined ? '-' : pct(m.hitRatio)}</td><td class="num">${m.servedBytes === undefined ? '-' : bytes(m.servedBytes)}</td><td class="num">${m.servedRequests ?? '-'}</td></tr>`)}
          </table></div></div>`)
      : html`<${Empty}>No cache group has live members.<//>`}
  <//>`;
}

function Mirrors({ v, now }) {
  return html`<${Section} id="mirrors" title="Mirrors">
    ${v.mirrorOf ? html`<p>This volume mirrors <code>${v.mirrorOf.source}</code> (${v.mirrorOf.writable ? 'writable' : 'read-only'}).</p>` : ''}
    ${v.mirrors.length
      ? html`<div class="scroll"><table>
          <tr><th>ID</th><th>URL</th><th class="num">Behind</th><th>Last applied</th><th>State</th></tr>
          ${v.mirrors.map((m) => html`<tr data-mirror=${m.id}><td>${m.id}</td><td>${m.url}</td><td class="num">${m.behind}</td><td>${at(m.appliedAt, now)}</td>
            <td>${m.needsResync ? html`<span class="badge err">needs resync</span>` : m.stale ? html`<span class="badge warn">stale</span>` : html`<span class="badge ok">ok</span>`}</td></tr>`)}
        </table></div>`
      : html`<${Empty}>No mirrors registered.<//>`}
  <//>`;
}

function Errors({ v, now }) {
  return html`<${Section} id="errors" title="Recent background errors" wide>
    ${v.errors.length
      ? html`<div class="scroll"><table>
          <tr><th>When</th><th>Session</th><th>Job</th><th>Error</th><th>State</th></tr>
          ${v.errors.map((e) => html`<tr><td>${at(e.at, now)}</td><td>${e.sid} (${e.role} on ${e.host})</td><td>${e.job}</td><td class="wrap">${e.message}</td>
            <td>${e.clearedAt ? html`<span class="badge ok">recovered ${at(e.clearedAt, now)}</span>` : html`<span class="badge err">failing</span>`}</td></tr>`)}
        </table></div>`
      : html`<${Empty}>No background errors.<//>`}
  <//>`;
}

function Kubernetes({ k }) {
  if (!k) return '';
  return html`<${Section} id="kubernetes" title="Kubernetes" note=${`${k.pvs.length} PV(s)`} wide>
    ${k.error ? html`<div class="tip error"><b>${k.error}</b></div>` : ''}
    ${k.pvs.length
      ? html`<div class="scroll"><table>
          <tr><th>PV</th><th>Claim</th><th>Capacity</th><th>Pod</th><th>Node</th><th>Containers</th><th>Mount processes</th></tr>
          ${k.pvs.flatMap((p) => (p.pods.length ? p.pods : [null]).map((pod, i) => html`<tr data-pv=${p.pv}>
            <td>${i ? '' : p.pv}</td><td>${i ? '' : p.claim ? `${p.claim.namespace}/${p.claim.name}` : '-'}</td><td>${i ? '' : p.capacity ?? '-'}</td>
            <td>${pod ? `${pod.namespace}/${pod.name}` : html`<span class="muted">no pod</span>`}</td><td>${pod?.node ?? ''}</td>
            <td class="wrap">${pod ? pod.containers.map((c) => html`<span class="badge ${c.restarts ? 'warn' : c.ready ? 'ok' : ''}">${c.name}${c.restarts ? ` ↻${c.restarts}` : ''}</span> `) : ''}</td>
            <td class="wrap">${pod ? (pod.mounts.length ? pod.mounts.map((m) => html`<span class="badge ${m.stale ? 'err' : 'ok'}">session ${m.sid} on ${m.host}</span> `) : html`<span class="muted">none seen</span>`) : ''}</td></tr>`))}
        </table></div>`
      : html`<${Empty}>No FerryFS PersistentVolume of this volume.<//>`}
  <//>`;
}

function Volume({ v }) {
  if (v.error) {
    return html`<main><${Tips} tips=${v.tips} /></main>`;
  }
  const now = v.readAt;
  return html`<main>
    <${Tips} tips=${v.tips} />
    <${Usage} v=${v} />
    <${Trash} v=${v} now=${now} />
    <${Sessions} v=${v} />
    <${Ring} v=${v} />
    <${Mirrors} v=${v} now=${now} />
    <${Errors} v=${v} now=${now} />
    <${Kubernetes} k=${v.kubernetes} />
  </main>`;
}

function App() {
  const [list, setList] = useState(null);
  const [selected, setSelected] = useState(Number(location.hash.slice(1)) || 0);
  const [detail, setDetail] = useState(null);
  const [error, setError] = useState(null);
  const [updated, setUpdated] = useState(null);
  const [paused, setPaused] = useState(false);
  const [, tick] = useState(0);

  const load = useCallback(async () => {
    try {
      const l = await getJson('/api/volumes');
      const id = l.volumes.some((v) => v.id === selected) ? selected : l.volumes[0]?.id;
      const d = id === undefined ? null : await getJson(`/api/volumes/${id}`);
      setList(l);
      setDetail(d);
      setError(null);
      setUpdated(Date.now());
    } catch (e) {
      setError(e.message);
    }
  }, [selected]);

  useEffect(() => {
    load();
    if (paused) return undefined;
    const t = setInterval(load, REFRESH_S * 1000);
    return () => clearInterval(t);
  }, [load, paused]);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, []);

  const choose = (id) => {
    location.hash = String(id);
    setSelected(id);
  };
  return html`<div>
    <header>
      <h1>FerryFS</h1>
      <span>${detail && !detail.error ? `${detail.name} · ${detail.engine} · version ${detail.version}` : ''}</span>
      <div class="right">
        <span id="updated">${updated ? `updated ${ago(Date.now() - updated)}, every ${REFRESH_S}s` : 'loading…'}</span>
        <button id="pause" onClick=${() => setPaused(!paused)}>${paused ? 'Resume' : 'Pause'}</button>
      </div>
    </header>
    ${list ? html`<nav>${list.volumes.map((v) => html`<button class=${v.id === (detail?.id ?? selected) ? 'active' : ''} data-volume=${v.id} onClick=${() => choose(v.id)}>
        ${v.name ?? v.metaUrl}${v.tips.length ? html`<span class="badge ${v.tips.some((t) => t.severity === 'error') ? 'err' : 'warn'}">${v.tips.length}</span>` : ''}</button>`)}</nav>` : ''}
    ${error ? html`<div class="error-box" id="fetch-error">Cannot load ${error}</div>` : ''}
    ${detail ? html`<${Volume} v=${detail} />` : list ? html`<p class="empty error-box">No volume.</p>` : html`<p class="loading">Loading…</p>`}
  </div>`;
}

const root = document.getElementById('app');
root.textContent = ''; // the static "Loading…" shown until this module runs
render(html`<${App} />`, root);
