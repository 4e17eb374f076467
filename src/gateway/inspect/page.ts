/**
 * The inspector page and its script, served by the gateway (`/inspect`, `/inspect/inspect.js`). Plain HTML and
 * browser JavaScript, no build step and nothing from a CDN; Mermaid (from `node_modules`) draws the machines.
 * The page holds no data: the token comes in the link's fragment (`/inspect#token=…`, printed by `npm start`),
 * is kept for the tab only (sessionStorage) and sent as a bearer token to `/api/v1/inspect/*`.
 * (The script avoids template literals: it lives in one here.)
 */

export const INSPECT_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>lock-integration inspector</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2433; background: #f6f7f9; }
  header { background: #1d2433; color: #fff; padding: 10px 16px; display: flex; gap: 16px; align-items: baseline; }
  header a { color: #9ecbff; }
  main { padding: 12px 16px; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e3e6eb; font-size: 13px; }
  tr.actor { cursor: pointer; }
  tr.actor:hover { background: #eef4ff; }
  tr.flash { animation: flash 1.2s; }
  @keyframes flash { from { background: #fff3b0; } to { background: transparent; } }
  .filters { display: flex; gap: 8px; margin-bottom: 8px; }
  .graph { background: #fff; padding: 8px; margin-bottom: 12px; overflow: auto; }
  .cols { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
  pre { background: #fff; padding: 8px; overflow: auto; max-height: 480px; font-size: 12px; }
  .muted { color: #6b7385; }
  #problem { color: #b00020; }
</style>
</head>
<body>
<header><strong>lock-integration inspector</strong><a href="/inspect" id="home">actors</a><span id="live" class="muted"></span><span id="problem"></span></header>
<main id="main"></main>
<script src="/inspect/mermaid.min.js"></script>
<script src="/inspect/inspect.js"></script>
</body>
</html>
`;

export const INSPECT_JS = String.raw`
'use strict';
(function () {
  var fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get('token')) {
    sessionStorage.setItem('lockToken', fragment.get('token'));
    history.replaceState(null, '', location.pathname + location.search);
  }
  var token = sessionStorage.getItem('lockToken');
  var main = document.getElementById('main');
  var problem = document.getElementById('problem');
  var live = document.getElementById('live');
  var machines = {};
  window.mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'neutral' });

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { e.append(c); });
    return e;
  }
  function api(path) {
    return fetch('/api/v1/inspect/' + path, { headers: { authorization: 'Bearer ' + token } }).then(function (r) {
      if (!r.ok) return r.json().then(function (p) { throw new Error(r.status + ' ' + (p.detail || p.title)); });
      return r.json();
    });
  }
  function show(err) { problem.textContent = String(err && err.message || err); }
  function stateText(v) { return typeof v === 'string' ? v : JSON.stringify(v); }
  /** The Mermaid ids of the states a value is in: a path's names joined by '_', as docs/lifecycle.md draws them. */
  function statePaths(v, prefix, out) {
    out = out || [];
    if (typeof v === 'string') { out.push(prefix ? prefix + '_' + v : v); return out; }
    Object.keys(v || {}).forEach(function (k) {
      var p = prefix ? prefix + '_' + k : k;
      out.push(p);
      statePaths(v[k], p, out);
    });
    return out;
  }
  var drawn = 0;
  function draw(target, type, values) {
    var text = machines[type];
    if (!text) { target.textContent = 'no diagram for ' + type; return Promise.resolve(); }
    var ids = [];
    values.forEach(function (v) { statePaths(v, '', ids); });
    var highlighted = text + '\n  classDef current fill:#ffd54f,stroke:#5b4500,stroke-width:2px' +
      ids.map(function (id) { return '\n  class ' + id + ' current'; }).join('');
    drawn += 1;
    return window.mermaid.render('graph' + drawn, highlighted).then(function (r) {
      target.innerHTML = r.svg;
      target.setAttribute('data-current', ids.join(' '));
    }, function () {
      return window.mermaid.render('graph' + drawn + 'b', text).then(function (r) { target.innerHTML = r.svg; });
    });
  }

  function stream(onNotice) {
    var controller = new AbortController();
    fetch('/api/v1/inspect/stream', { headers: { authorization: 'Bearer ' + token }, signal: controller.signal })
      .then(function (r) {
        live.textContent = 'live';
        var reader = r.body.getReader();
        var decoder = new TextDecoder();
        var buffer = '';
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) { live.textContent = 'disconnected'; return; }
            buffer += decoder.decode(chunk.value, { stream: true });
            var events = buffer.split('\n\n');
            buffer = events.pop();
            events.forEach(function (block) {
              block.split('\n').forEach(function (line) {
                if (line.indexOf('data: ') === 0) onNotice(JSON.parse(line.slice(6)));
              });
            });
            return pump();
          });
        }
        return pump();
      })
      .catch(function (e) { if (e.name !== 'AbortError') live.textContent = 'disconnected'; });
    return function () { controller.abort(); };
  }

  var stopStream = function () {};

  function listView() {
    var q = new URLSearchParams(location.search);
    var type = el('select', { id: 'type' }, [el('option', { value: '' }, ['every type'])].concat(
      Object.keys(machines).filter(function (t) { return t !== 'grant'; }).map(function (t) { return el('option', { value: t }, [t]); })));
    type.value = q.get('type') || '';
    var property = el('input', { id: 'property', placeholder: 'property id' });
    property.value = q.get('propertyId') || '';
    var state = el('input', { id: 'state', placeholder: 'state' });
    state.value = q.get('state') || '';
    var apply = el('button', {}, ['filter']);
    var body = el('tbody', { id: 'actors' });
    main.replaceChildren(
      el('div', { class: 'filters' }, [type, property, state, apply]),
      el('table', {}, [el('thead', {}, [el('tr', {}, ['type', 'id', 'state', 'version', 'last event', 'changed'].map(function (h) { return el('th', {}, [h]); }))]), body]));
    apply.onclick = function () {
      var p = new URLSearchParams();
      if (type.value) p.set('type', type.value);
      if (property.value) p.set('propertyId', property.value);
      if (state.value) p.set('state', state.value);
      history.pushState(null, '', '/inspect?' + p.toString());
      route();
    };
    function row(a) {
      var tr = el('tr', { class: 'actor', 'data-key': a.type + '/' + a.id }, [
        el('td', {}, [a.type]), el('td', {}, [a.id]), el('td', { class: 'state' }, [stateText(a.state)]),
        el('td', { class: 'version' }, [String(a.version)]), el('td', { class: 'event' }, [a.lastEvent || '']),
        el('td', { class: 'muted' }, [a.updatedAt || 'now'])]);
      tr.onclick = function () { history.pushState(null, '', '/inspect?actor=' + encodeURIComponent(a.type + '/' + a.id)); route(); };
      return tr;
    }
    var params = new URLSearchParams();
    ['type', 'propertyId', 'state'].forEach(function (k) { if (q.get(k)) params.set(k, q.get(k)); });
    api('actors?' + params.toString()).then(function (r) { body.replaceChildren.apply(body, r.items.map(row)); }, show);
    stopStream = stream(function (n) {
      if (q.get('type') && n.type !== q.get('type')) return;
      if (q.get('propertyId') && n.propertyId !== q.get('propertyId')) return;
      if (q.get('state') && stateText(n.state).indexOf(q.get('state')) < 0) return;
      var key = n.type + '/' + n.id;
      var existing = body.querySelector('tr[data-key="' + CSS.escape(key) + '"]');
      var fresh = row({ type: n.type, id: n.id, state: n.state, version: n.version, lastEvent: n.event, updatedAt: new Date().toISOString() });
      fresh.classList.add('flash');
      if (existing) existing.replaceWith(fresh); else body.prepend(fresh);
    });
  }

  function actorView(key) {
    var slash = key.indexOf('/');
    var type = key.slice(0, slash);
    var id = key.slice(slash + 1);
    var title = el('h2', {}, [key]);
    var state = el('p', { id: 'actor-state' }, []);
    var graph = el('div', { class: 'graph', id: 'graph' }, []);
    var grants = el('div', { class: 'graph', id: 'grant-graph' }, []);
    var timeline = el('tbody', { id: 'timeline' });
    var context = el('pre', { id: 'context' }, []);
    main.replaceChildren(title, state, graph, grants, el('div', { class: 'cols' }, [
      el('div', {}, [el('h3', {}, ['timeline']), el('table', {}, [el('thead', {}, [el('tr', {}, ['at', 'event', 'by', 'from', 'to'].map(function (h) { return el('th', {}, [h]); }))]), timeline])]),
      el('div', {}, [el('h3', {}, ['context (redacted)']), context])]));
    function load() {
      return api('actors/' + encodeURIComponent(type) + '/' + encodeURIComponent(id)).then(function (r) {
        state.textContent = 'state ' + stateText(r.actor.state) + ' · version ' + r.actor.version;
        state.setAttribute('data-state', stateText(r.actor.state));
        timeline.replaceChildren.apply(timeline, r.timeline.map(function (t) {
          return el('tr', { 'data-event': t.event }, [el('td', { class: 'muted' }, [t.at]), el('td', {}, [t.event]), el('td', {}, [t.by]),
            el('td', {}, [stateText(t.from)]), el('td', {}, [stateText(t.to)])]);
        }));
        context.textContent = JSON.stringify(r.context, null, 2);
        var inner = type === 'credential' && r.context && Array.isArray(r.context.grants)
          ? r.context.grants.map(function (g) { return g.value; }) : [];
        return draw(graph, type, [r.actor.state]).then(function () {
          if (inner.length) return draw(grants, 'grant', inner);
          grants.replaceChildren();
        });
      }, show);
    }
    load();
    stopStream = stream(function (n) { if (n.type === type && n.id === id) load(); });
  }

  function route() {
    stopStream();
    problem.textContent = '';
    if (!token) { main.textContent = 'Open the link npm start prints (/inspect#token=…), or add #token=<a lock:read token> to this address.'; return; }
    var actor = new URLSearchParams(location.search).get('actor');
    if (actor) actorView(actor); else listView();
  }
  window.onpopstate = route;
  api('machines').then(function (r) { machines = r.machines; route(); }, show);
})();
`;
