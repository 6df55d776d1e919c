// Staff console: live updates (Server-Sent Events), timers, reply without reloading.
(function () {
  "use strict";
  var body = document.body;
  var page = body.getAttribute("data-page");
  var conversationId = body.getAttribute("data-conversation-id");
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";

  function fmt(seconds) {
    seconds = Math.max(0, Math.floor(Math.abs(seconds)));
    var d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600),
        m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    if (d) return d + "天" + h + "小时";
    if (h) return h + "小时" + m + "分";
    if (m) return m + "分" + (s < 10 ? "0" : "") + s + "秒";
    return s + "秒";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".timer[data-since]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("data-since"));
      var due = el.getAttribute("data-due") ? Date.parse(el.getAttribute("data-due")) : null;
      el.textContent = fmt((now - since) / 1000);
      el.classList.toggle("late", due !== null && now > due);
      el.classList.toggle("soon", due !== null && now <= due && due - now < 60000);
      el.title = due === null ? "" : (now > due ? "已超过接入时限" : "距接入时限还剩 " + fmt((due - now) / 1000));
    });
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var left = (Date.parse(el.getAttribute("data-due")) - now) / 1000;
      el.textContent = left >= 0 ? "剩余 " + fmt(left) : "已超时 " + fmt(left);
      var ms = el.closest(".milestone");
      if (ms) {
        ms.classList.toggle("ms-breached", left < 0);
        ms.classList.toggle("soon", left >= 0 && left < 1800);
      }
    });
    var count = document.querySelector("[data-waiting-count]");
    var badge = document.getElementById("nav-waiting");
    if (count && badge) {
      var n = parseInt(count.getAttribute("data-waiting-count"), 10) || 0;
      badge.textContent = n;
      badge.hidden = n === 0;
    }
  }

  function fetchHtml(url) {
    return fetch(url, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); });
  }

  var refreshing = false;
  function refreshQueue() {
    var target = document.getElementById("queue-body");
    if (!target || refreshing) return;
    refreshing = true;
    fetchHtml("/console/queue/fragment").then(function (html) {
      target.innerHTML = html; tick();
    }).catch(function () {}).then(function () { refreshing = false; });
  }

  function refreshTranscript() {
    var target = document.getElementById("transcript");
    if (!target || !conversationId) return;
    var atBottom = target.scrollHeight - target.scrollTop - target.clientHeight < 80;
    var open = Array.prototype.map.call(target.querySelectorAll("details[open]"), function (d) {
      return d.closest(".msg") && d.closest(".msg").id;
    });
    fetchHtml("/console/conversations/" + encodeURIComponent(conversationId) + "/transcript").then(function (html) {
      target.innerHTML = html;
      open.forEach(function (id) { var el = id && document.querySelector("#" + id + " details"); if (el) el.open = true; });
      if (atBottom) target.scrollTop = target.scrollHeight;
    }).catch(function () {});
  }

  // The product's words (bot/vocabulary.py), carried by every page as a JSON data block.
  var VOCABULARY = (function () {
    var holder = document.getElementById("vocabulary");
    try { return holder ? JSON.parse(holder.textContent) : {}; } catch (e) { return {}; }
  })();
  var TYPE_NAMES = VOCABULARY.ticket_types || {};
  window.consoleVocabulary = VOCABULARY; // the browser tests compare it with bot.vocabulary

  // Supervisors get a notice when a milestone is at risk or breached (built with textContent only).
  function showSlaNotice(event) {
    var box = document.getElementById("sla-notices");
    if (!box) {
      box = document.createElement("div");
      box.id = "sla-notices"; box.className = "sla-notices";
      box.setAttribute("role", "status"); box.setAttribute("aria-live", "polite");
      document.body.appendChild(box);
    }
    var item = document.createElement("a");
    item.className = "sla-notice " + (event.kind === "breached" ? "sla-breached" : "sla-at-risk");
    item.href = "/console/tickets/" + encodeURIComponent(event.ticket_no || "");
    var title = document.createElement("strong");
    title.textContent = event.kind === "breached" ? "已超时" : "即将超时";
    var text = document.createElement("span");
    var due = event.due_at ? new Date(event.due_at) : null;
    text.textContent = " " + (TYPE_NAMES[event.ticket_type] || "工单") + " " + (event.ticket_no || "") +
      "「" + (event.milestone || "") + "」" + (due ? "，时限 " + due.toLocaleString("zh-CN", {hour12: false}) : "");
    item.appendChild(title); item.appendChild(text);
    box.insertBefore(item, box.firstChild);
    setTimeout(function () { if (item.parentNode) item.parentNode.removeChild(item); }, 60000);
  }

  function onEvent(event) {
    if (event.type === "sla") { showSlaNotice(event); return; }
    if (page === "queue") { refreshQueue(); return; }
    if (page === "conversation" && event.conversation_id === conversationId) {
      // New messages and staff-only entries (notes, label changes) refresh the transcript only.
      if (event.type === "message" || event.type === "note") { refreshTranscript(); return; }
      // State changed (accepted elsewhere, handed back, timed out): reload unless the agent is typing.
      var text = document.getElementById("reply-text");
      if (!text || !text.value.trim()) { window.location.reload(); } else { refreshTranscript(); }
    }
  }

  function connect() {
    if (!window.EventSource || !document.querySelector(".topbar")) return;  // not logged in
    var dot = document.getElementById("live-dot");
    var source = new EventSource("/console/api/events");
    source.onopen = function () { if (dot) dot.classList.add("on"); };
    source.onerror = function () { if (dot) dot.classList.remove("on"); };
    source.onmessage = function (msg) {
      try { onEvent(JSON.parse(msg.data)); } catch (e) { /* ignore malformed */ }
    };
  }

  function setupReply() {
    var form = document.getElementById("reply-form");
    if (!form) return;
    var text = document.getElementById("reply-text");
    var button = document.getElementById("btn-send");
    text.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var value = text.value.trim();
      if (!value) return;
      button.disabled = true;
      fetch(form.action, {
        method: "POST", credentials: "same-origin",
        headers: {"X-CSRF-Token": csrf, "X-Requested-With": "fetch", "Content-Type": "application/x-www-form-urlencoded"},
        body: new URLSearchParams({text: value})
      }).then(function (r) {
        return r.json().then(function (data) {
          if (!r.ok) throw new Error(data.message || "发送失败");
          text.value = ""; refreshTranscript();
        });
      }).catch(function (err) { alert(err.message || "发送失败，请重试。"); })
        .then(function () { button.disabled = false; text.focus(); });
    });
    text.focus();
  }

  // Quick replies: "/" at the start of a line in the reply box opens a list (keyboard: ↑ ↓ Enter/Tab, Esc).
  // Inserted bodies keep their {{变量}}; the server fills them when the reply is sent.
  function setupCanned() {
    var text = document.getElementById("reply-text");
    if (!text || !conversationId) return;
    var replies = null, loading = false, items = [], active = 0, slash = -1;
    var popup = document.createElement("ul");
    popup.id = "canned-popup"; popup.className = "canned-popup"; popup.hidden = true;
    popup.setAttribute("role", "listbox");
    text.parentNode.insertBefore(popup, text);

    function load() {
      if (replies || loading) return;
      loading = true;
      fetch("/console/api/canned?conversation_id=" + encodeURIComponent(conversationId),
            {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
        .then(function (r) { return r.ok ? r.json() : {replies: []}; })
        .then(function (data) { replies = data.replies || []; loading = false; update(); })
        .catch(function () { loading = false; });
    }
    function close() { popup.hidden = true; items = []; slash = -1; text.setAttribute("aria-expanded", "false"); }
    function query() {
      var pos = text.selectionStart, before = text.value.slice(0, pos);
      var lineStart = before.lastIndexOf("\n") + 1;
      var token = before.slice(lineStart);
      if (token.charAt(0) !== "/" || /\s/.test(token)) return null;
      slash = lineStart;
      return token.slice(1).toLowerCase();
    }
    function render() {
      popup.textContent = "";
      items.forEach(function (r, i) {
        var li = document.createElement("li");
        li.className = "canned-item" + (i === active ? " active" : "");
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", i === active ? "true" : "false");
        li.setAttribute("data-shortcut", r.shortcut);
        var head = document.createElement("strong"); head.textContent = "/" + r.shortcut + " " + r.title;
        var body = document.createElement("span"); body.textContent = r.preview;
        li.appendChild(head); li.appendChild(body);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(i); });
        popup.appendChild(li);
      });
      popup.hidden = items.length === 0;
      text.setAttribute("aria-expanded", popup.hidden ? "false" : "true");
    }
    function update() {
      var q = query();
      if (q === null) { close(); return; }
      if (!replies) { load(); return; }
      items = replies.filter(function (r) {
        return !q || r.shortcut.toLowerCase().indexOf(q) >= 0 || r.title.toLowerCase().indexOf(q) >= 0;
      }).slice(0, 8);
      active = Math.min(active, Math.max(0, items.length - 1));
      render();
    }
    function choose(i) {
      var r = items[i];
      if (!r || slash < 0) return;
      var pos = text.selectionStart;
      text.value = text.value.slice(0, slash) + r.body + text.value.slice(pos);
      var caret = slash + r.body.length;
      text.setSelectionRange(caret, caret);
      close();
      text.focus();
    }
    text.addEventListener("input", function () { active = 0; update(); });
    text.addEventListener("blur", function () { setTimeout(close, 150); });
    text.addEventListener("keydown", function (e) {
      if (popup.hidden || !items.length) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        active = (active + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
        render();
      } else if ((e.key === "Enter" || e.key === "Tab") && !e.isComposing) {
        e.preventDefault(); e.stopImmediatePropagation(); choose(active);
      } else if (e.key === "Escape") {
        e.preventDefault(); close();
      }
    });
  }

  // My availability (在线 / 忙碌 / 离开): saved as soon as it is chosen.
  function setupAvailability() {
    var select = document.getElementById("availability");
    if (!select) return;
    select.addEventListener("change", function () {
      fetch("/console/availability", {
        method: "POST", credentials: "same-origin",
        headers: {"X-CSRF-Token": csrf, "X-Requested-With": "fetch", "Content-Type": "application/x-www-form-urlencoded"},
        body: new URLSearchParams({availability: select.value})
      }).then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        select.className = "avail-select avail-" + select.value;
        if (page === "queue") refreshQueue();
      }).catch(function () { alert("状态保存失败，请重试。"); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var transcript = document.getElementById("transcript");
    if (transcript) transcript.scrollTop = transcript.scrollHeight;
    tick();
    setInterval(tick, 1000);
    setupAvailability();
    setupCanned();  // before setupReply: Enter picks a quick reply while the list is open
    setupReply();
    connect();
    // Fallback when events are lost (another gateway served the change): poll now and then.
    if (page === "queue") setInterval(refreshQueue, 15000);
    if (page === "conversation") setInterval(refreshTranscript, 15000);
  });
})();
