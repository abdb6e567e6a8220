// Shared code of the localbench example pages: where the API is, fetching
// with clear errors, the data version, charts (vega-embed over the
// collector's /v1/charts specs) and editors' verdicts.
//
// The API is the page's own origin, or ?api=http://host:port for pages
// hosted elsewhere (the collector answers CORS for any origin).
'use strict';

const LB = (() => {
  const params = new URLSearchParams(location.search);
  const API = (params.get('api') || location.origin).replace(/\/+$/, '');

  // An error a person should read as it is.
  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  // GET path (with its query) as JSON. Unreachable API and error answers
  // become ApiErrors whose message says what happened.
  async function getJson(path) {
    let res;
    try {
      res = await fetch(API + path, {headers: {Accept: 'application/json'}});
    } catch (e) {
      throw new ApiError(`Cannot reach the localbench API at ${API}. Is the collector running ` +
                         `(localbench-collector --http-listen ...)?`, 0);
    }
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      body = null;
    }
    if (!res.ok) {
      const message = body && body.error ? body.error.message : `HTTP ${res.status}`;
      throw new ApiError(message, res.status);
    }
    return body;
  }

  // Fields whose zero is a value, not "any" (a served workload key's training dimensions).
  const keepZero = new Set(['loss_chunks']);

  // A query string from an object; empty, zero (but see keepZero) and *_UNSPECIFIED values are left out.
  function query(fields) {
    const q = new URLSearchParams();
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined || value === null || value === '') continue;
      // Zero is "any" for most fields; a training dimension states it (loss_chunks=0: whole loss).
      if ((value === 0 || value === '0') && !keepZero.has(key)) continue;
      if (typeof value === 'string' && value.endsWith('_UNSPECIFIED')) continue;
      if (Array.isArray(value)) {
        if (value.length) q.set(key, value.join(','));
        continue;
      }
      q.set(key, String(value));
    }
    const s = q.toString();
    return s ? '?' + s : '';
  }

  // The parameters naming a workload (a WorkloadKey in its JSON form).
  function workloadParams(w) {
    return {
      model_preset: w.model_preset, kind: w.kind, precision: w.precision,
      prompt_tokens: w.prompt_tokens, generated_tokens: w.generated_tokens,
      sequence_tokens: w.sequence_tokens, lora_rank: w.lora_rank,
      // Training dimensions: present on training rows only, so a row's key
      // selects exactly its own cell (checkpointing on and off are two cells).
      activation_precision: w.activation_precision, gradient_checkpointing: w.gradient_checkpointing,
      accumulation_steps: w.accumulation_steps, full_finetune_accounting: w.full_finetune_accounting,
      loss_chunks: w.loss_chunks,
    };
  }

  // "bf16 act, ckpt, accum 4": the training dimensions away from the
  // pre-2027.01 meaning (as the collector's chart titles word them).
  function trainingLabel(w) {
    const parts = [];
    if (w.activation_precision && w.activation_precision !== 'PRECISION_FP32') {
      parts.push(`${shortEnum(w.activation_precision)} act`);
    }
    if (w.gradient_checkpointing === true) parts.push('ckpt');
    if (Number(w.accumulation_steps) > 1) parts.push(`accum ${w.accumulation_steps}`);
    if (Number(w.loss_chunks) > 0) parts.push(`loss ${w.loss_chunks} chunks`);
    if (w.full_finetune_accounting === 'FULL_FINETUNE_ACCOUNTING_MIXED') parts.push('mixed');
    return parts.join(', ');
  }

  function shortEnum(name) {
    return String(name || '').replace(/^(WORKLOAD_KIND_|PRECISION_|BACKEND_|VENDOR_|FIT_|BASIS_)/, '')
        .toLowerCase().replace(/_/g, '-');
  }

  function workloadLabel(w) {
    const parts = [w.model_preset, shortEnum(w.kind), shortEnum(w.precision)];
    if (w.sequence_tokens) parts.push(`seq ${w.sequence_tokens}`);
    if (w.prompt_tokens) parts.push(`prompt ${w.prompt_tokens}`);
    if (w.generated_tokens) parts.push(`gen ${w.generated_tokens}`);
    const dims = trainingLabel(w);
    return parts.filter(Boolean).join(' ') + (dims ? `, ${dims}` : '');
  }

  function gib(bytes) {
    return (Number(bytes) / 2 ** 30).toFixed(2);
  }

  // Bytes in the largest binary unit that keeps a figure of at least 1.
  function bytes(n) {
    let v = Number(n);
    for (const unit of ['B', 'KiB', 'MiB']) {
      if (Math.abs(v) < 1024) return `${unit === 'B' ? v : v.toFixed(2)} ${unit}`;
      v /= 1024;
    }
    return `${v.toFixed(2)} GiB`;
  }

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  }

  // Shows `message` in the page's #status box (role=alert for errors).
  function status(message, kind = 'error') {
    const box = document.getElementById('status');
    box.textContent = message;
    box.className = `status ${kind}`;
    box.hidden = !message;
    if (kind === 'error') box.setAttribute('role', 'alert');
  }

  // Shows the data version a page renders, and pins later requests to it.
  let pinned = 0;
  function showVersion(version) {
    if (!version) return;
    pinned = Number(version.data_version);
    const made = version.made_at ? ` (${version.made_at.replace('T', ' ').replace(/\..*|Z$/, '')} UTC)` : '';
    document.getElementById('version').textContent = `Data version ${pinned}${made}`;
  }
  function asOf() {
    return pinned ? {as_of: pinned} : {};
  }

  // A number that links its reproduce command: a click shows the command.
  function reproducible(text, command) {
    if (!command) return document.createTextNode(text);
    const a = el('a', {href: '#', class: 'num', title: `Reproduce: ${command}`, 'data-command': command, text});
    a.addEventListener('click', (ev) => {
      ev.preventDefault();
      const box = document.getElementById('reproduce');
      box.hidden = false;
      box.querySelector('code').textContent = command;
      if (navigator.clipboard) navigator.clipboard.writeText(command).catch(() => {});
    });
    return a;
  }

  // Embeds the chart at `path` (a /v1/charts route) into `target`, sized to
  // its container. Resolves to the vega View.
  async function chart(target, path) {
    const spec = await getJson(path);
    spec.width = 'container';
    spec.autosize = {type: 'fit', contains: 'padding'};
    if (target.clientWidth < 500) {
      // A phone: subtitle parts on lines of their own, legends below the plot.
      if (spec.title && typeof spec.title.subtitle === 'string') spec.title.subtitle = spec.title.subtitle.split(' · ');
      spec.config = {...(spec.config || {}), legend: {orient: 'bottom'}};
    }
    const result = await vegaEmbed(target, spec, {actions: false, renderer: 'svg'});
    target.dataset.chart = spec.usermeta ? spec.usermeta.chart : '';
    // Kept for scripts on the page and for the browser tests.
    (window.lbCharts = window.lbCharts || []).push({target, view: result.view, spec});
    return result.view;
  }

  // Verdicts on a device model: from the table responses that carry them and
  // from /v1/verdicts. A missing route or an empty list shows nothing.
  async function verdicts(slug, fromTables = []) {
    const byId = new Map();
    for (const v of fromTables) byId.set(v.verdict_id, v);
    try {
      const list = await getJson('/v1/verdicts' + query({device_model: slug, ...asOf()}));
      for (const v of (list && list.verdicts) || []) byId.set(v.verdict_id, v);
    } catch (e) {
      // Not served (yet) or not reachable: the page simply has no verdicts.
    }
    return [...byId.values()];
  }

  function renderVerdicts(container, list) {
    container.textContent = '';
    container.hidden = list.length === 0;
    if (!list.length) return;
    container.append(el('h2', {text: 'Verdicts'}));
    for (const v of list) {
      const card = el('article', {class: 'verdict' + (v.stale ? ' stale' : '')});
      const about = v.workload && v.workload.model_preset ? workloadLabel(v.workload) : 'the whole device model';
      card.append(el('h3', {text: `${v.device_model} · ${about}`}));
      card.append(el('p', {class: 'verdict-text', text: v.text}));
      const written = v.written_at ? v.written_at.slice(0, 10) : '';
      card.append(el('p', {class: 'meta', text: `${v.editor} · ${written} · at data version ${v.written_at_version}`}));
      if (v.stale) {
        card.append(el('p', {class: 'stale-note', text: 'Stale: the figures it cites have moved since.'}));
        const ul = el('ul');
        for (const r of v.stale_reasons || []) ul.append(el('li', {text: r}));
        card.append(ul);
      }
      container.append(card);
    }
  }

  return {
    API, ApiError, getJson, query, workloadParams, workloadLabel, shortEnum, gib, bytes, el, status,
    showVersion, asOf, reproducible, chart, verdicts, renderVerdicts, params,
  };
})();
