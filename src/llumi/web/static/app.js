// LLUMI assistant page: live triage, streamed drafts, word-level diff of improvements, copy.
// No framework, no build step, no inline script (the CSP forbids it). Text from the post, the model
// or the server is only ever inserted with textContent, never as HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
  const post = $("post");
  if (!post) return; // not the assistant page

  const reply = $("reply"), status = $("status");

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  async function api(path, body) {
    const r = await fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body),
    });
    if (r.status === 401) { window.location = "/signin"; throw new Error("signed out"); }
    if (!r.ok) {
      let msg = "HTTP " + r.status;
      try { msg = (await r.json()).error.message; } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    return r;
  }

  // --- triage as the post is pasted ---------------------------------------------------
  function renderGuidance(box, g) {
    box.replaceChildren();
    box.appendChild(el("p", "mode", g.mode));
    if (g.emergency_first && g.emergency) box.appendChild(el("p", "emergency", "Emergency number: " + g.emergency));
    if (g.resources && g.resources.length) {
      const ul = el("ul", "resources");
      g.resources.forEach((r) => ul.appendChild(el("li", null, r)));
      box.appendChild(ul);
    }
    if (g.questions && g.questions.length) {
      box.appendChild(el("p", "label", "Ask, in this order:"));
      const ol = el("ol", "questions");
      g.questions.forEach((q) => ol.appendChild(el("li", null, q)));
      box.appendChild(ol);
    }
  }

  let triageTimer = null, lastTriaged = null;
  async function runTriage() {
    const text = post.value.trim();
    if (!text || text === lastTriaged) return;
    lastTriaged = text;
    try {
      const t = await (await api("/v1/safety/triage", { text })).json();
      $("triage").hidden = false;
      const tier = $("tier");
      tier.textContent = t.tier;
      tier.className = "tier tier-" + t.tier;
      $("triage-rules").textContent = t.rules.length ? "(" + t.rules.join(", ") + ")" : "";
      renderGuidance($("guidance"), t.guidance);
    } catch (e) { status.textContent = "Triage failed: " + e.message; }
  }
  post.addEventListener("input", () => { clearTimeout(triageTimer); triageTimer = setTimeout(runTriage, 250); });

  // --- the verdict and the escalation card ----------------------------------------------
  function showVerdict(s) {
    const v = $("verdict");
    v.hidden = false;
    v.replaceChildren();
    v.className = "verdict action-" + s.action;
    const words = { allow: "Checked: nothing to change.", rewrite: "Checked: the safety guard changed some wording.",
                    block: "Blocked: the safety guard withheld this output.", escalate: "Withheld: escalate this case." };
    v.appendChild(el("strong", null, "Safety guard: " + s.action + ". "));
    v.appendChild(el("span", null, words[s.action] || ""));
    if (s.guard_rules && s.guard_rules.length) v.appendChild(el("span", "rules", " Reasons: " + s.guard_rules.join(", ")));
    v.appendChild(el("span", "model", " (" + s.model_version + ")"));
  }

  function showEscalation(s) {
    const box = $("escalation");
    box.hidden = false;
    box.replaceChildren();
    const g = s.guidance;
    box.appendChild(el("h3", null, "No draft: this post was triaged " + s.tier + ". Escalate."));
    if (g.emergency) box.appendChild(el("p", "emergency", "Emergency number: " + g.emergency));
    if (g.crisis_line && !(g.resources || []).includes(g.crisis_line)) box.appendChild(el("p", "crisis-line", g.crisis_line));
    const inner = el("div");
    renderGuidance(inner, g);
    box.appendChild(inner);
  }

  function resetOutputs() {
    $("verdict").hidden = true;
    $("escalation").hidden = true;
    $("diff-panel").hidden = true;
    status.textContent = "";
  }

  function busy(on) { ["draft", "improve"].forEach((id) => { $(id).disabled = on || $(id).dataset.off === "1"; }); }
  ["draft", "improve"].forEach((id) => { if ($(id).disabled) $(id).dataset.off = "1"; });

  // --- draft: streamed through the guard --------------------------------------------------
  $("draft").addEventListener("click", async () => {
    const text = post.value.trim();
    if (!text) { status.textContent = "Paste a post first."; return; }
    resetOutputs(); busy(true);
    status.textContent = "Drafting...";
    reply.value = "";
    try {
      const r = await api("/v1/chat/completions", { model: "llumi-gm", stream: true,
                                                    messages: [{ role: "user", content: text }] });
      const reader = r.body.getReader(), dec = new TextDecoder();
      let buf = "", safety = null;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const line = buf.slice(0, i).trim(); buf = buf.slice(i + 2);
          if (!line.startsWith("data:")) continue;
          const payload = line.slice(5).trim();
          if (payload === "[DONE]") continue;
          const ev = JSON.parse(payload);
          if (ev.error) throw new Error(ev.error.message);
          if (ev.llumi_safety) { safety = ev.llumi_safety; continue; }
          const d = ev.choices && ev.choices[0].delta;
          if (d && d.content) reply.value += d.content;
        }
      }
      if (!safety) throw new Error("the stream ended without a safety verdict");
      reply.value = safety.withheld ? "" : (safety.text || "");
      if (safety.withheld) { showEscalation(safety); status.textContent = "Draft withheld."; }
      else { showVerdict(safety); status.textContent = safety.text ? "Draft ready: edit it, then copy." : "No draft."; }
    } catch (e) { status.textContent = "Drafting failed: " + e.message; }
    busy(false);
  });

  // --- improve: word-level diff with per-change accept / reject -----------------------------
  const tokens = (s) => s.match(/^\s+|\S+\s*/g) || [];

  function diffOps(a, b) {
    const n = a.length, m = b.length;
    const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--)
      L[i][j] = a[i] === b[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    const ops = [];
    let i = 0, j = 0, cur = null;
    const flush = () => { if (cur) { ops.push(cur); cur = null; } };
    while (i < n || j < m) {
      if (i < n && j < m && a[i] === b[j]) { flush(); ops.push({ eq: a[i] }); i++; j++; }
      else {
        cur = cur || { del: [], ins: [], state: "pending" };
        if (j < m && (i >= n || L[i][j + 1] >= L[i + 1][j])) cur.ins.push(b[j++]);
        else cur.del.push(a[i++]);
      }
    }
    flush();
    return ops;
  }

  let ops = [];
  function merged() {
    return ops.map((o) => ("eq" in o ? o.eq : (o.state === "accepted" ? o.ins : o.del).join(""))).join("");
  }

  function renderDiff() {
    const box = $("diff");
    box.replaceChildren();
    let k = 0;
    ops.forEach((o) => {
      if ("eq" in o) { box.appendChild(document.createTextNode(o.eq)); return; }
      const span = el("span", "change state-" + o.state);
      span.dataset.change = String(k++);
      if (o.del.length) span.appendChild(el("del", null, o.del.join("")));
      if (o.ins.length) span.appendChild(el("ins", null, o.ins.join("")));
      const yes = el("button", "accept", "\u2713"), no = el("button", "reject", "\u2717");
      yes.title = "accept this change"; no.title = "reject this change";
      yes.addEventListener("click", () => { o.state = "accepted"; update(); });
      no.addEventListener("click", () => { o.state = "rejected"; update(); });
      span.appendChild(yes); span.appendChild(no);
      box.appendChild(span);
    });
  }
  function update() { reply.value = merged(); renderDiff(); }

  $("accept-all").addEventListener("click", () => { ops.forEach((o) => { if (!("eq" in o)) o.state = "accepted"; }); update(); });
  $("reject-all").addEventListener("click", () => { ops.forEach((o) => { if (!("eq" in o)) o.state = "rejected"; }); update(); });

  $("improve").addEventListener("click", async () => {
    const text = post.value.trim(), draft = reply.value.trim();
    if (!text || !draft) { status.textContent = "Paste the post and write your reply first."; return; }
    resetOutputs(); busy(true);
    status.textContent = "Improving...";
    try {
      const r = await api("/v1/chat/completions", { model: "llumi-im",
        messages: [{ role: "user", content: text }, { role: "assistant", content: draft }] });
      const s = (await r.json()).llumi_safety;
      if (s.withheld) { showEscalation(s); status.textContent = "Suggestion withheld."; }
      else {
        showVerdict(s);
        if (s.text) {
          reply.value = draft;
          ops = diffOps(tokens(draft), tokens(s.text));
          $("diff-panel").hidden = false;
          renderDiff();
          status.textContent = ops.some((o) => !("eq" in o)) ? "Review the suggested changes." : "No changes suggested.";
        } else status.textContent = "No suggestion.";
      }
    } catch (e) { status.textContent = "Improving failed: " + e.message; }
    busy(false);
  });

  // --- copy ------------------------------------------------------------------------------
  $("copy").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(reply.value); status.textContent = "Copied. Nothing was posted."; }
    catch (e) { reply.select(); document.execCommand("copy"); status.textContent = "Copied (selected). Nothing was posted."; }
  });
})();
